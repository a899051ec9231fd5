"""Benchmark: the single-study report of a 5,000-trial study (target: <= 20 s, <= 15 MB).

The study is made instantly with ``optuna.trial.create_trial`` + ``study.add_trials``
(no training), shaped like an hpsearch study: 6 hyperparameters, learning curves,
some pruned and diverged trials. Usage::

    python benchmarks/bench_report.py [--trials 5000] [--storage sqlite:///bench.db] [-o report.html]

Without --storage the study lives in memory (report time only); with a SQLite URL
it is written once (slow: Optuna's RDB storage costs ~10 ms per trial) and the
report then reads it back from the database, as ``hpsearch report`` does.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from hpsearch.records import DIVERGED_ATTR, EPOCHS_RUN_ATTR, LEARNING_CURVE_ATTR, SAMPLER_ATTR, TRAIN_SECONDS_ATTR
from hpsearch.report import write_report

DISTS = {
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
    "width": IntDistribution(16, 512, log=True),
    "depth": IntDistribution(1, 4),
    "dropout": FloatDistribution(0.0, 0.5),
    "batch_size": IntDistribution(16, 256, log=True),
    "optimizer": CategoricalDistribution(["sgd", "momentum", "rmsprop", "adam"]),
}


def make_trials(n: int, seed: int = 0) -> list[optuna.trial.FrozenTrial]:
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        lr = float(10 ** rng.uniform(-4, -1))
        p = {
            "learning_rate": lr,
            "width": int(round(2 ** rng.uniform(4, 9))),
            "depth": int(rng.integers(1, 5)),
            "dropout": float(rng.uniform(0, 0.5)),
            "batch_size": int(round(2 ** rng.uniform(4, 8))),
            "optimizer": str(rng.choice(DISTS["optimizer"].choices)),
        }
        score = 0.97 - 0.04 * abs(math.log10(lr) + 2.5) - 0.03 * (p["optimizer"] == "sgd") + rng.normal(0, 0.005)
        epochs = int(rng.integers(5, 30))
        curve = [float(score * (1 - 0.6 ** (e + 1))) for e in range(epochs)]
        attrs = {TRAIN_SECONDS_ATTR: float(rng.uniform(0.2, 3)), EPOCHS_RUN_ATTR: epochs, LEARNING_CURVE_ATTR: curve}
        state, value, inter = TrialState.COMPLETE, float(score), {}
        if lr > 0.08:
            state, value, attrs[DIVERGED_ATTR] = TrialState.FAIL, None, True
        elif i % 7 == 3:
            state, value = TrialState.PRUNED, None
            curve = curve[: max(1, epochs // 3)]
            attrs[LEARNING_CURVE_ATTR] = curve
            inter = dict(enumerate(curve))
        trials.append(
            create_trial(
                params=p, distributions=DISTS, value=value, state=state, user_attrs=attrs, intermediate_values=inter
            )
        )
    return trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5000)
    ap.add_argument("--storage", default=None)
    ap.add_argument("-o", "--output", default=None)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(args.storage) if args.storage else optuna.storages.InMemoryStorage()
    name = f"bench-{args.trials}"
    t0 = time.perf_counter()
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)
    if len(study.trials) < args.trials:
        study.set_user_attr(SAMPLER_ATTR, "random")
        study.add_trials(make_trials(args.trials - len(study.trials)))
    print(f"study with {args.trials} trials ready in {time.perf_counter() - t0:.1f} s")
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp()) / f"{name}.html"
    t0 = time.perf_counter()
    write_report(storage, name, out)
    seconds = time.perf_counter() - t0
    mb = out.stat().st_size / 1e6
    print(f"report: {seconds:.1f} s, {mb:.1f} MB -> {out}")
    ok = seconds <= 20 and mb <= 15
    print("PASS" if ok else "FAIL", "(targets: <= 20 s, <= 15 MB)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
