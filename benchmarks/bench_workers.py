"""Trials per minute with 1, 2 and 3 workers, PostgreSQL against SQLite.

Same work everywhere: one fixed small spec (digits, a fixed-size MLP, random
search over the learning rate and dropout, so every trial trains the same
network for the same number of epochs), run by K concurrent `hpsearch run`
processes sharing one study, as K machines would. For each backend and K we
report two rates:

* wall: finished trials / (launch of the first process -> exit of the last),
  which includes each process's start-up (imports, data loading);
* steady: finished trials / (first trial start -> last trial end), from the
  timestamps Optuna stored, i.e. the rate once the workers are running.

PostgreSQL comes from ``--pg-url`` or env ``HPSEARCH_TEST_PG_URL``; the
simplest way to get one on Debian is the CI's throwaway cluster:

    bash -c 'source .ci/start-postgres.sh && python benchmarks/bench_workers.py'

The URL's user must be allowed to CREATE DATABASE: every run gets a fresh one.
On a machine with C cores, K > C workers cannot scale; the table says C.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import optuna
import sqlalchemy as sa
from optuna.trial import TrialState

SPEC = """
[study]
name = "bench-workers"
objective = "mlp"
metric = "accuracy"
sampler = "random"
n_trials = {n_trials}
seed = 0

[data]
dataset = "digits"

[training]
max_epochs = {epochs}
patience = 0
batch_size = 64
depth = 1
width = 64

[space]
learning_rate = {{ type = "float", low = 1e-3, high = 3e-2, log = true }}
dropout = {{ type = "float", low = 0.0, high = 0.3 }}
"""


def _hpsearch() -> list[str]:
    script = Path(sys.executable).with_name("hpsearch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hpsearch.cli"]


def _run_workers(spec: Path, url: str, k: int, workdir: Path) -> float:
    """Start k `hpsearch run` processes on one study; wall seconds until all exit."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("HPSEARCH_STORAGE", None)
    start = time.perf_counter()
    procs = []
    for i in range(k):
        log = open(workdir / f"worker{k}-{i}.log", "w")
        procs.append(
            (
                subprocess.Popen(
                    [*_hpsearch(), "run", str(spec), "--storage", url],
                    cwd=workdir,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        )
    codes = []
    for proc, log in procs:
        codes.append(proc.wait())
        log.close()
    wall = time.perf_counter() - start
    if any(codes):
        logs = "\n".join((workdir / f"worker{k}-{i}.log").read_text()[-2000:] for i in range(k))
        raise SystemExit(f"a worker failed (exit codes {codes}):\n{logs}")
    return wall


def _measure(url: str, spec: Path, k: int, workdir: Path, n_trials: int) -> dict:
    # Create the schema first: processes racing to create it on an empty
    # database can fail (a known bug, tests/distributed), and start-up races
    # are not what this measures.
    from hpsearch.storage import open_storage

    open_storage(url).engine.dispose()
    wall = _run_workers(spec, url, k, workdir)
    trials = optuna.load_study(study_name="bench-workers", storage=url).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(done) != n_trials:
        raise SystemExit(f"expected {n_trials} finished trials, found {len(done)} ({len(trials)} in all)")
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    steady = (last - first).total_seconds()
    return {"wall_s": wall, "steady_s": steady, "trials": len(trials)}


def _fresh_pg(admin_url: str) -> tuple[str, callable]:
    """A new database on the server (and a function that drops it)."""
    base = sa.engine.make_url(admin_url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as con:
            con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,3", help="worker counts to try (default 1,2,3)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--n-trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="runs per cell; the median is reported")
    parser.add_argument("--pg-url", default=os.environ.get("HPSEARCH_TEST_PG_URL"))
    args = parser.parse_args(argv)
    counts = [int(k) for k in args.workers.split(",")]
    backends = args.backends.split(",")
    if "postgresql" in backends and not args.pg_url:
        raise SystemExit(
            "PostgreSQL needs --pg-url or HPSEARCH_TEST_PG_URL "
            "(e.g. bash -c 'source .ci/start-postgres.sh && python benchmarks/bench_workers.py')"
        )

    print(
        f"# {args.n_trials} trials of digits, MLP 64 hidden, {args.epochs} epochs; "
        f"{os.cpu_count()} cores; optuna {optuna.__version__}; median of {args.repeats}",
        flush=True,
    )
    results: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        tmp_path = Path(tmp)
        spec = tmp_path / "spec.toml"
        spec.write_text(SPEC.format(n_trials=args.n_trials, epochs=args.epochs))
        # Interleaved (repeat, workers, backend) so a burst of load elsewhere
        # on the machine hits both backends alike.
        for rep in range(args.repeats):
            for k in counts:
                for backend in backends:
                    workdir = tmp_path / f"{backend}-{k}-{rep}"
                    workdir.mkdir()
                    if backend == "sqlite":
                        url, drop = f"sqlite:///{workdir / 'bench.db'}", (lambda: None)
                    else:
                        url, drop = _fresh_pg(args.pg_url)
                    try:
                        r = _measure(url, spec, k, workdir, args.n_trials)
                    finally:
                        drop()
                    results.setdefault((backend, k), []).append(r)
                    print(
                        f"#   run {rep + 1}: {backend} x{k}: wall {r['wall_s']:.1f} s, steady {r['steady_s']:.1f} s",
                        flush=True,
                    )
    print(f"{'backend':<11}{'workers':>8}{'wall s':>9}{'trials/min':>12}{'steady s':>10}{'trials/min':>12}")
    for backend in backends:
        for k in counts:
            runs = results[(backend, k)]
            wall = statistics.median(r["wall_s"] for r in runs)
            steady = statistics.median(r["steady_s"] for r in runs)
            print(
                f"{backend:<11}{k:>8}{wall:>9.1f}{60 * args.n_trials / wall:>12.1f}"
                f"{steady:>10.1f}{60 * args.n_trials / steady:>12.1f}"
            )


if __name__ == "__main__":
    main()
