"""The whole search, both ways: `hpsearch run --jobs 2` against Optuna + scikit-learn in 2 processes.

Usage:
    python benchmarks/bench_search.py                  # 5 interleaved repeats of each
    python benchmarks/bench_search.py --repeats 3 --n-trials 40 --epochs 20

The same search on both sides: digits (hpsearch's split: 60/20/20, stratified,
seed 0; features standardised with training-row statistics), random search
over learning rate (1e-3..1e-1, log), width (32..256, log) and depth (1..2), an
MLP with ReLU and Adam, batch 64, a fixed number of epochs (no early stopping,
no pruning, no weight decay), 2 worker processes with 1 BLAS thread each.

* hpsearch: ``hpsearch run SPEC --jobs 2`` on a fresh SQLite file.
* Optuna + scikit-learn: two ``python this-file --optuna-worker`` processes on
  one study in a JournalFileBackend file (the storage Optuna recommends for
  processes on one machine), each running half the trials with
  ``MLPClassifier(solver="adam", alpha=0, batch_size=64, max_iter=EPOCHS,
  n_iter_no_change=EPOCHS + 1, tol=0)``, scored on the same validation rows.

Each repeat runs both, in alternating order; wall time is from launching the
processes to the exit of the last one (start-up included: it is what a user
waits for). Printed: every run, the medians, their ratio, both best
validation accuracies (median over repeats) and the seconds spent inside
trials (start to finish, summed: the work the two processes share; the rest
of the wall time is start-up, waiting and shutting down). Also, by ``--startup``, the
2-trial start-up (``studies/quickstart.toml --n-trials 2 --jobs 1``), and by
``--scaling N``, trials per minute at --jobs 1 and 2 on an N-trial study.

hpsearch's and objectives' bytecode is written first (``compile_sources``),
as an installed package has it; ``--no-compile`` skips that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

SPEC = """
[study]
name = "{name}"
objective = "mlp"
metric = "accuracy"
sampler = "random"
n_trials = {n_trials}
seed = 0
pruner = "none"

[data]
dataset = "digits"

[training]
max_epochs = {epochs}
batch_size = 64
patience = 0

[space]
learning_rate = {{ type = "float", low = 1e-3, high = 1e-1, log = true }}
width = {{ type = "int", low = 32, high = 256, log = true }}
depth = {{ type = "int", low = 1, high = 2 }}
"""


def _hpsearch() -> list[str]:
    script = Path(sys.executable).with_name("hpsearch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hpsearch.cli"]


def _spans(study) -> float:
    """Seconds inside trials (start to finish, summed over trials): the work a pool of workers shares."""
    return sum((t.datetime_complete - t.datetime_start).total_seconds() for t in study.trials)


def run_hpsearch(tmp: Path, n_trials: int, epochs: int, jobs: int = 2, tag: str = "") -> tuple[float, float, float]:
    """(wall seconds, best validation accuracy, seconds inside trials) of `hpsearch run --jobs J`, fresh database."""
    import optuna

    spec = tmp / f"search{tag}.toml"
    spec.write_text(SPEC.format(name="bench-search", n_trials=n_trials, epochs=epochs))
    db = tmp / f"hp{tag}.db"
    env = {**os.environ, **ONE_THREAD}
    start = time.perf_counter()
    subprocess.run(
        [*_hpsearch(), "run", str(spec), "--jobs", str(jobs), "--storage", f"sqlite:///{db}"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=tmp,
    )
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="bench-search", storage=f"sqlite:///{db}")
    assert len(study.trials) == n_trials, len(study.trials)
    return wall, study.best_value, _spans(study)


def run_optuna_sklearn(tmp: Path, n_trials: int, epochs: int, tag: str = "") -> tuple[float, float, float]:
    """(wall seconds, best validation accuracy, seconds inside trials) of 2 Optuna + scikit-learn processes."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = tmp / f"optuna{tag}.log"
    env = {**os.environ, **ONE_THREAD}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--optuna-worker",
                str(journal),
                str(w),
                str(n_trials // 2 + (w < n_trials % 2)),
                str(epochs),
            ],
            env=env,
            cwd=tmp,
        )
        for w in range(2)
    ]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"an Optuna worker failed: exit codes {codes}")
    study = optuna.load_study(study_name="bench-search", storage=JournalStorage(JournalFileBackend(str(journal))))
    assert len(study.trials) == n_trials, len(study.trials)
    return wall, study.best_value, _spans(study)


def optuna_worker(journal: str, worker: int, n_trials: int, epochs: int) -> None:
    """One Optuna + scikit-learn process: ``n_trials`` trials of the same space on the same split."""
    import warnings

    import numpy as np
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from hpsearch.spec import spec_from_dict
    from objectives.datasets import load_problem

    spec = spec_from_dict(
        {
            "study": {"name": "x", "metric": "accuracy"},
            "data": {"dataset": "digits"},
            "space": {"depth": {"type": "int", "low": 1, "high": 2}},
        }
    )
    p = load_problem(spec.data, spec.split_seed)  # hpsearch's split of the same seed: the same rows
    X_train, X_val = p.design({}, p.train, [p.train, p.val])
    y_train, y_val = p.y[p.train], p.y[p.val]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.create_study(
        study_name="bench-search",
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=worker),
        load_if_exists=True,
    )

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("learning_rate", 1e-3, 1e-1, log=True)
        width = trial.suggest_int("width", 32, 256, log=True)
        depth = trial.suggest_int("depth", 1, 2)
        model = MLPClassifier(
            hidden_layer_sizes=(width,) * depth,
            solver="adam",
            learning_rate_init=lr,
            alpha=0.0,
            batch_size=64,
            max_iter=epochs,
            n_iter_no_change=epochs + 1,
            tol=0.0,
            random_state=trial.number,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        return float(np.mean(model.predict(X_val) == y_val))

    study.optimize(objective, n_trials=n_trials)


def run_startup(tmp: Path, tag: str = "") -> float:
    """Wall seconds of the README's quickstart cut to 2 trials at --jobs 1, fresh database."""
    db = tmp / f"start{tag}.db"
    start = time.perf_counter()
    subprocess.run(
        [
            *_hpsearch(),
            "run",
            str(ROOT / "studies" / "quickstart.toml"),
            "--n-trials",
            "2",
            "--storage",
            f"sqlite:///{db}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=tmp,
    )
    return time.perf_counter() - start


def compile_sources() -> None:
    """Write hpsearch's and objectives' bytecode into __pycache__, as ``pip install`` (or any first run
    where Python may write bytecode) does. An editable install under ``PYTHONDONTWRITEBYTECODE=1`` (this
    repository's CI machines) would otherwise compile every imported module from source in every process,
    on both sides of the comparison (the Optuna workers import hpsearch's spec and data split too), while
    the installed libraries they use (Optuna, SQLAlchemy, scikit-learn) came with their bytecode."""
    import compileall

    for package in ("hpsearch", "objectives"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--startup", type=int, default=5, help="2-trial start-up runs (0: skip)")
    parser.add_argument(
        "--scaling",
        type=int,
        default=0,
        metavar="N",
        help="also trials/minute at --jobs 1 and 2 on an N-trial study (e.g. 200)",
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="do not write hpsearch's bytecode first (see compile_sources)"
    )
    parser.add_argument("--optuna-worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.optuna_worker:
        journal, worker, n, epochs = args.optuna_worker
        optuna_worker(journal, int(worker), int(n), int(epochs))
        return

    if not args.no_compile:
        compile_sources()
    print(
        f"# digits, {args.n_trials} random trials of {args.epochs} epochs, batch 64, 2 processes x 1 BLAS "
        f"thread; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"hpsearch's bytecode {'not ' if args.no_compile else ''}written first",
        flush=True,
    )
    hp, sk = [], []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp_name:
        tmp = Path(tmp_name)
        for r in range(args.repeats):
            order = [("hpsearch", run_hpsearch, hp), ("optuna+sklearn", run_optuna_sklearn, sk)]
            for label, fn, out in order if r % 2 == 0 else order[::-1]:
                wall, best, spans = fn(tmp, args.n_trials, args.epochs, tag=f"-{r}")
                out.append((wall, best, spans))
                print(
                    f"#   repeat {r + 1}: {label:<15} {wall:6.2f} s  best validation accuracy {best:.4f}  "
                    f"inside trials {spans:5.2f} s",
                    flush=True,
                )
        hp_wall, sk_wall = statistics.median(r[0] for r in hp), statistics.median(r[0] for r in sk)
        ratios = [s[0] / h[0] for h, s in zip(hp, sk, strict=True)]
        for label, runs, wall in (
            ("hpsearch run --jobs 2:         ", hp, hp_wall),
            ("Optuna + scikit-learn, 2 procs:", sk, sk_wall),
        ):
            print(
                f"{label} {wall:6.2f} s (median), best {statistics.median(r[1] for r in runs):.4f}, "
                f"inside trials {statistics.median(r[2] for r in runs):.2f} s"
            )
        print(
            f"ratio of medians {sk_wall / hp_wall:.2f}x; paired median {statistics.median(ratios):.2f}x "
            f"[{min(ratios):.2f}-{max(ratios):.2f}]"
        )
        if args.startup:
            times = [run_startup(tmp, tag=f"-{i}") for i in range(args.startup)]
            print(
                f"2-trial start-up (quickstart --n-trials 2 --jobs 1): median {statistics.median(times):.2f} s "
                f"[{min(times):.2f}-{max(times):.2f}]"
            )
        if args.scaling:
            rates: dict[int, list[float]] = {1: [], 2: []}
            for r in range(max(1, args.repeats // 2)):
                for jobs in (1, 2) if r % 2 == 0 else (2, 1):
                    wall, _, _ = run_hpsearch(tmp, args.scaling, args.epochs, jobs=jobs, tag=f"-s{r}-{jobs}")
                    rates[jobs].append(60 * args.scaling / wall)
                    print(
                        f"#   {args.scaling} trials, --jobs {jobs}: {wall:6.1f} s {rates[jobs][-1]:6.1f} trials/min",
                        flush=True,
                    )
            one, two = statistics.median(rates[1]), statistics.median(rates[2])
            print(f"--jobs 1 {one:.0f} trials/min, --jobs 2 {two:.0f} trials/min: {two / one:.2f}x")
    print(json.dumps({"hpsearch_s": hp_wall, "optuna_sklearn_s": sk_wall, "ratio": sk_wall / hp_wall}))


if __name__ == "__main__":
    main()
