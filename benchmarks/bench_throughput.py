"""Trials per minute of `run_study` with --jobs 1 and --jobs 2 on a fixed small MLP study.

Usage:
    python benchmarks/bench_throughput.py                 # digits, 40 trials of 60 epochs, jobs 1 and 2
    python benchmarks/bench_throughput.py --n-trials 24 --jobs 1 2 --epochs 20

Each run uses a fresh SQLite file in a temporary directory and the random
sampler with a fixed seed, so every jobs setting trains the same 40
configurations; wall time includes worker start-up (spawned processes import
numpy/optuna), which is what a user waits for.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hpsearch.search import run_study
from hpsearch.spec import spec_from_dict


def bench_spec(n_trials: int, epochs: int, dataset: str) -> object:
    return spec_from_dict({
        "study": {"name": "bench", "metric": "accuracy", "sampler": "random", "n_trials": n_trials, "seed": 0},
        "data": {"dataset": dataset},
        "training": {"max_epochs": epochs, "batch_size": 64, "patience": 0},  # every trial trains all epochs
        "space": {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
            "width": {"type": "int", "low": 32, "high": 256, "log": True},
            "depth": {"type": "int", "low": 1, "high": 2},
        },
    })


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"{args.dataset}, {args.n_trials} random-search trials of {args.epochs} epochs, SQLite")
    for jobs in args.jobs:
        seconds, per_minute = measure(jobs, args.n_trials, args.epochs, args.dataset)
        print(f"--jobs {jobs}: {seconds:6.1f} s  {per_minute:6.1f} trials/minute")


if __name__ == "__main__":
    main()
