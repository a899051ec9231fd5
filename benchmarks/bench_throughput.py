"""Trials per minute of `run_study` at --jobs 1 and 2, and the storage overhead per trial.

Usage:
    python benchmarks/bench_throughput.py                 # digits, 40 trials of 60 epochs, jobs 1 and 2
    python benchmarks/bench_throughput.py --n-trials 200 --epochs 20 --repeats 3
    python benchmarks/bench_throughput.py --overhead 100 2000 --samplers random tpe grid

Throughput: each run uses a fresh SQLite file in a temporary directory and the
random sampler with a fixed seed, so every jobs setting trains the same
configurations; wall time includes worker start-up, which is what a user
waits for. Repeats alternate the order of the jobs settings; medians are printed.

Overhead (``--overhead N ...``): trials that train nothing, so all that is
timed is the search's own work per trial (ask: claim, create, suggest 3
parameters; the 7 user attributes an MLP trial records; tell), on a fresh
SQLite file for each run, in one process:

* hpsearch: ``run_study(jobs=1)`` with a user objective that records the
  MLP trial's 7 attributes as the MLP objective does (one write);
* plain Optuna: ``study.optimize`` on the same storage (hpsearch's
  ``open_storage``), Optuna's own sampler of the same kind (same seed, the same
  space; for grid the same grid) and 7 ``set_user_attr`` calls.

Printed per sampler and N: ms per trial over all N trials and over the last
10% (the marginal cost at that study length), for both, interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hpsearch.search import run_study
from hpsearch.spec import spec_from_dict

ATTRS = {
    "train_seconds": 0.1,
    "epochs_run": 20,
    "n_parameters": 12345,
    "learning_curve": [0.5] * 20,
    "best_epoch": 19,
    "stop_reason": "max_epochs",
    "diverged": False,
}
GRID = {
    "learning_rate": [round(1e-3 * 1.4**i, 6) for i in range(13)],
    "width": list(range(32, 45)),
    "depth": list(range(1, 14)),
}  # 13^3 = 2197 points: enough for 2,000 grid trials
_STARTS: list[float] = []


def bench_spec(n_trials: int, epochs: int, dataset: str) -> object:
    return spec_from_dict(
        {
            "study": {"name": "bench", "metric": "accuracy", "sampler": "random", "n_trials": n_trials, "seed": 0},
            "data": {"dataset": dataset},
            "training": {"max_epochs": epochs, "batch_size": 64, "patience": 0},  # every trial trains all epochs
            "space": {
                "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
                "width": {"type": "int", "low": 32, "high": 256, "log": True},
                "depth": {"type": "int", "low": 1, "high": 2},
            },
        }
    )


def measure(jobs: int, n_trials: int, epochs: int, dataset: str) -> tuple[float, float]:
    """(seconds, trials per minute) of one fresh study."""
    spec = bench_spec(n_trials, epochs, dataset)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        start = time.perf_counter()
        study = run_study(spec, url, jobs=jobs, progress=False)
        seconds = time.perf_counter() - start
        assert len(study.trials) == n_trials
    return seconds, n_trials / seconds * 60


# --- overhead -----------------------------------------------------------------------------------


def hpsearch_noop(trial, params) -> float:
    """The user objective of the hpsearch side: the MLP objective's storage work, no training."""
    from hpsearch.storage._attrs import set_user_attrs

    _STARTS.append(time.perf_counter())
    set_user_attrs(trial, ATTRS)
    return float(params["learning_rate"])


def overhead_spec(sampler: str, n_trials: int) -> object:
    if sampler == "grid":
        space = {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "grid": GRID["learning_rate"]},
            "width": {"type": "int", "low": 32, "high": 44, "grid": GRID["width"]},
            "depth": {"type": "int", "low": 1, "high": 13, "grid": GRID["depth"]},
        }
    else:
        space = {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
            "width": {"type": "int", "low": 32, "high": 256, "log": True},
            "depth": {"type": "int", "low": 1, "high": 2},
        }
    return spec_from_dict(
        {
            "study": {
                "name": "overhead",
                "objective": "bench_throughput:hpsearch_noop",
                "direction": "maximize",
                "sampler": sampler,
                "n_trials": n_trials,
                "seed": 0,
                "pruner": "none",
                "workdir": str(Path(__file__).parent),
            },
            "space": space,
        }
    )


def _per_trial_ms(starts: list[float], end: float) -> tuple[float, float]:
    """(mean ms per trial over all, over the last 10%) from the objective's start times."""
    marks = [*starts, end]
    gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    tail = gaps[-max(1, len(gaps) // 10) :]
    return 1e3 * statistics.fmean(gaps), 1e3 * statistics.fmean(tail)


def overhead_hpsearch(sampler: str, n_trials: int, tmp: Path, tag: str) -> tuple[float, float]:
    import importlib

    starts = importlib.import_module("bench_throughput")._STARTS  # the module the spec's objective names
    starts.clear()
    run_study(overhead_spec(sampler, n_trials), f"sqlite:///{tmp / f'hp-{tag}.db'}", jobs=1, progress=False)
    return _per_trial_ms(starts, time.perf_counter())


def overhead_optuna(sampler: str, n_trials: int, tmp: Path, tag: str) -> tuple[float, float]:
    import optuna

    from hpsearch.storage import open_storage

    if sampler == "grid":
        s = optuna.samplers.GridSampler(GRID, seed=0)
    elif sampler == "tpe":
        s = optuna.samplers.TPESampler(seed=0, multivariate=True, constant_liar=True)
    else:
        s = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(
        storage=open_storage(f"sqlite:///{tmp / f'op-{tag}.db'}", heartbeat=False),
        sampler=s,
        direction="maximize",
        study_name="overhead",
    )
    starts: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        if sampler == "grid":
            lr = trial.suggest_float("learning_rate", 1e-3, 1e-1)
            trial.suggest_int("width", 32, 44)
            trial.suggest_int("depth", 1, 13)
        else:
            lr = trial.suggest_float("learning_rate", 1e-3, 1e-1, log=True)
            trial.suggest_int("width", 32, 256, log=True)
            trial.suggest_int("depth", 1, 2)
        starts.append(time.perf_counter())
        for key, value in ATTRS.items():
            trial.set_user_attr(key, value)
        return lr

    study.optimize(objective, n_trials=n_trials)
    return _per_trial_ms(starts, time.perf_counter())


def run_overhead(sizes: list[int], samplers: list[str]) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sys.path.insert(0, str(Path(__file__).parent))
    print("ms per trial of the search's own work (no training), SQLite, one process; all trials / last 10%")
    print(f"{'sampler':<8}{'trials':>7}{'hpsearch':>20}{'plain Optuna':>20}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n in sizes:
            for sampler in samplers:
                tag = f"{sampler}-{n}"
                hp = overhead_hpsearch(sampler, n, tmp, tag)
                op = overhead_optuna(sampler, n, tmp, tag)
                print(f"{sampler:<8}{n:>7}{hp[0]:>11.1f} / {hp[1]:5.1f}{op[0]:>11.1f} / {op[1]:5.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--overhead",
        type=int,
        nargs="*",
        metavar="N",
        help="measure the per-trial overhead at these study lengths instead",
    )
    parser.add_argument("--samplers", nargs="+", default=["random", "tpe", "grid"])
    args = parser.parse_args()
    if args.overhead:
        run_overhead(args.overhead, args.samplers)
        return
    print(
        f"{args.dataset}, {args.n_trials} random-search trials of {args.epochs} epochs, SQLite; "
        f"median of {args.repeats}"
    )
    rates: dict[int, list[float]] = {j: [] for j in args.jobs}
    for r in range(args.repeats):
        for jobs in args.jobs if r % 2 == 0 else args.jobs[::-1]:
            seconds, per_minute = measure(jobs, args.n_trials, args.epochs, args.dataset)
            rates[jobs].append(per_minute)
            print(f"#   run {r + 1}, --jobs {jobs}: {seconds:6.1f} s  {per_minute:6.1f} trials/minute", flush=True)
    for jobs in args.jobs:
        print(f"--jobs {jobs}: {statistics.median(rates[jobs]):6.1f} trials/minute")
    if 1 in rates and len(args.jobs) > 1:
        base = statistics.median(rates[1])
        for jobs in args.jobs:
            if jobs != 1:
                print(f"--jobs {jobs} / --jobs 1: {statistics.median(rates[jobs]) / base:.2f}x")


if __name__ == "__main__":
    main()
