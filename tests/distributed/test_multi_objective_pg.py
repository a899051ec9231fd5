"""Several objectives and constraints on PostgreSQL: values, constraint values, the SQL best and the front."""

from __future__ import annotations

import math

import pytest
from optuna.trial import TrialState

from hpsearch.records import best_trial, pareto_front
from hpsearch.search import run_study
from hpsearch.spec import spec_from_dict
from hpsearch.storage import open_storage, study_id_of, study_overview

MODULE = """
def two(trial, params):
    trial.set_user_attr("size", 1000 * params["x"])
    return params["x"], (params["x"] - 0.2) ** 2 + params["y"]

def one(trial, params):
    trial.set_user_attr("size", 1000 * params["x"])
    return params["x"]
"""
SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "pg_mo_objectives.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "pg_mo_objectives"


def test_two_objectives_with_a_constraint_on_postgresql(pg_url, module):
    spec = spec_from_dict(
        {
            "study": {
                "name": "pg-two",
                "objective": f"{module}:two",
                "objectives": ["quality", "cost"],
                "directions": ["maximize", "minimize"],
                "sampler": "nsga2",
                "n_trials": 12,
            },
            "space": SPACE,
            "constraints": {"size": {"max": 500}},
        }
    )
    study = run_study(spec, pg_url)
    trials = study.trials
    assert study.metric_names == ["quality", "cost"]
    assert len(trials) == 12 and all(t.state == TrialState.COMPLETE and len(t.values) == 2 for t in trials)
    assert all(t.constraints == pytest.approx({"size <= 500": 1000 * t.params["x"] - 500}) for t in trials)
    assert all(t.params["x"] <= 0.5 for t in pareto_front(trials, study.directions))


def test_the_sql_best_skips_infeasible_trials_on_postgresql(pg_url, module):
    spec = spec_from_dict(
        {
            "study": {"name": "pg-one", "objective": f"{module}:one", "direction": "maximize", "n_trials": 12},
            "space": SPACE,
            "constraints": {"size": {"max": 400}},
        }
    )
    study = run_study(spec, pg_url)
    best = best_trial(study.trials, study.directions)
    assert best is not None and best.params["x"] <= 0.4
    assert any(t.params["x"] > best.params["x"] for t in study.trials)  # a higher value, infeasible
    overview = study_overview(open_storage(pg_url), study_id_of(study), "pg-one")
    assert overview.best is not None and overview.best.number == best.number
    assert math.isfinite(overview.best.value)
