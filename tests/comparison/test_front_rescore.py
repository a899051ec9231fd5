"""An MLP comparison with several objectives: each repeat's front is retrained with the eval seeds and every
objective re-measured held out, so the hypervolume verdict decides on held-out fronts."""

from __future__ import annotations

import math

import pytest

import hpsearch
from hpsearch.comparison._hypervolume import _compared, _front_of
from hpsearch.records import N_PARAMETERS_ATTR, TEST_FRONT_ATTR, direction_name
from hpsearch.results import arm_studies, compared_budget
from hpsearch.storage import load_study_spec, open_storage
from objectives import evaluate_best, evaluate_objectives

OBJECTIVES = ["accuracy", "train_seconds", "n_params", "predict_ms_per_1k"]


def _tradeoff(name: str) -> dict:
    return {
        "study": {"name": name, "objective": "mlp", "objectives": OBJECTIVES, "n_trials": 4, "seed": 0},
        "data": {"dataset": "digits"},
        "training": {"max_epochs": 2, "patience": 0},
        "space": {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
            "width": {"type": "int", "low": 8, "high": 64, "log": True},
        },
    }


@pytest.mark.slow
def test_mlp_fronts_are_rescored_held_out_and_decide_the_verdict(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    verdict = hpsearch.compare(_tradeoff("ft"), samplers=("random", "tpe"), seeds=2, storage=url, eval_seeds=1)
    assert verdict["metric"] == "hypervolume"
    assert verdict["pairs"] and all(p["on"] == "test" for p in verdict["pairs"])
    assert all(a["test"] is not None for a in verdict["arms"])

    st = open_storage(url, heartbeat=False)
    arms = arm_studies(st, "ft")
    budget = compared_budget(arms)
    assert len(arms) == 4
    for arm in arms:
        front = _front_of(_compared(arm, budget), [direction_name(d) for d in arm.directions])
        record = arm.attrs[TEST_FRONT_ATTR]
        assert front and record["trials"] == [t.number for t in front]
        assert record["seeds"] == [0]
        assert len(record["values"]) == len(front)
        for trial, row in zip(front, record["values"], strict=True):
            assert len(row) == len(OBJECTIVES) and all(math.isfinite(v) for v in row)
            accuracy, seconds, n_params, predict_ms = row
            assert 0.0 <= accuracy <= 1.0 and seconds > 0 and predict_ms > 0
            assert n_params == trial.user_attrs[N_PARAMETERS_ATTR]  # the same network, retrained

    # a front member's held-out accuracy is evaluate_best's retraining of that configuration (seed 0)
    arm = arms[0]
    spec = load_study_spec(st, arm.name)
    record = arm.attrs[TEST_FRONT_ATTR]
    member = next(t for t in arm.trials if t.number == record["trials"][0])
    assert record["values"][0][0] == evaluate_best(spec, member.params, seed=0)["test_accuracy"]

    # resumed with the same eval seeds: nothing retrained, the stored fronts unchanged
    from hpsearch.comparison import _retrain

    assert _retrain.rescore_fronts(st, "ft", eval_seeds=1) == 0


def test_evaluate_objectives_measures_every_objective_of_the_retrained_network():
    from hpsearch.spec import spec_from_dict
    from objectives.mlp import MLPObjective, build_network

    spec = spec_from_dict(_tradeoff("one"))
    params = {"learning_rate": 0.05, "width": 16}
    accuracy, seconds, n_params, predict_ms = evaluate_objectives(spec, params, seed=1)
    assert accuracy == evaluate_best(spec, params, seed=1)["test_accuracy"]
    assert accuracy == evaluate_objectives(spec, params, seed=1)[0]  # reproducible from the seed
    assert seconds > 0 and predict_ms > 0
    objective = MLPObjective(spec)
    config = objective.config(params)
    n_features = objective.problem.design(config, objective.problem.train, [objective.problem.train])[0].shape[1]
    assert n_params == build_network(config, objective.problem, n_features, seed=0).n_parameters


@pytest.mark.slow
def test_front_retrainings_in_worker_processes_measure_what_this_process_does():
    """The front's retrainings go through retrain_bests' pool: with jobs > 1 each runs in a spawned process,
    and its quality metric and network size are those of the same retraining here (timings differ)."""
    from hpsearch.comparison import _retrain
    from hpsearch.spec import spec_from_dict

    spec = spec_from_dict(_tradeoff("pool"))
    configs = [{"learning_rate": 0.05, "width": 16}, {"learning_rate": 0.01, "width": 32}]
    tasks = [_retrain._Task("pool", i, spec, c, 0) for i, c in enumerate(configs)]
    here = _retrain._evaluate(tasks, jobs=1, evaluate=evaluate_objectives)
    there = _retrain._evaluate(tasks, jobs=2, evaluate=evaluate_objectives)
    assert [(r[0], r[2]) for r in there] == [(r[0], r[2]) for r in here]
    assert here[0][0] == evaluate_best(spec, configs[0], seed=0)["test_accuracy"]
