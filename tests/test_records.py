"""hpsearch.records: the one home of the study's vocabulary (keys, outcomes, budget, best trial, JSON)."""

from __future__ import annotations

import math

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpsearch import records
from hpsearch.spec import spec_from_dict

X = {"x": FloatDistribution(0.0, 1.0)}


def _t(number: int, values, state=TrialState.COMPLETE, **attrs):
    t = create_trial(params={"x": 0.5}, distributions=X, values=values, state=state, user_attrs=attrs)
    t.number = number
    return t


def test_best_trial_is_the_earliest_of_the_best_finite_values():
    trials = [_t(0, [0.5]), _t(1, [0.9]), _t(2, [0.9]), _t(3, None, TrialState.FAIL, diverged=True)]
    assert records.best_trial(trials, "maximize").number == 1
    assert records.best_trial(trials, optuna.study.StudyDirection.MINIMIZE).number == 0
    assert records.best_trial([_t(0, None, TrialState.PRUNED)], "maximize") is None


def test_multi_objective_studies_have_no_single_best_but_a_pareto_front():
    dirs = ["maximize", "minimize"]
    trials = [_t(0, [0.9, 5.0]), _t(1, [0.8, 1.0]), _t(2, [0.7, 2.0]), _t(3, [0.9, 6.0])]
    assert records.best_trial(trials, dirs) is None  # the one policy: CLI, server and report alike
    assert [t.number for t in records.pareto_front(trials, dirs)] == [0, 1]  # 2 and 3 are dominated
    assert "multi-objective study (2 objectives: maximize, minimize)" in records.multi_objective_reason(dirs)
    assert records.multi_objective_reason("maximize") is None


def test_outcomes_and_counts():
    trials = [
        _t(0, [0.5]),
        _t(1, None, TrialState.PRUNED),
        _t(2, None, TrialState.FAIL, diverged=True),
        _t(3, None, TrialState.FAIL, error="ValueError: x"),
        _t(4, None, TrialState.FAIL),
    ]
    counts = records.state_counts(trials)
    assert counts == {"complete": 1, "pruned": 1, "diverged": 1, "failed": 1, "crashed": 1}
    assert records.finished_count(counts) == sum(map(records.is_finished, trials)) == 4
    assert records.is_crashed(trials[4]) and not records.is_crashed(trials[3])


def test_the_budget_is_capped_by_the_grid():
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0, "grid": [0.1, 0.5, 0.9]}}
    spec = {"study": {"name": "g", "objective": "external", "direction": "maximize", "n_trials": 20}, "space": space}
    grid = spec_from_dict({**spec, "study": {**spec["study"], "sampler": "grid"}})
    rand = spec_from_dict({**spec, "study": {**spec["study"], "sampler": "random"}})
    assert records.budget(grid) == 3 and records.budget(rand) == 20
    assert records.stored_budget({records.SPEC_ATTR: grid.to_dict()}) == 3
    assert records.stored_budget({}) is None and records.stored_budget({records.SPEC_ATTR: {"study": {}}}) is None


def test_nan_and_infinities_become_null():
    assert records.json_safe({"a": [1.0, math.nan, {"b": math.inf}], "c": (2, -math.inf)}) == {
        "a": [1.0, None, {"b": None}],
        "c": [2, None],
    }
    assert records.finite_or_none("x") is None and records.finite_or_none(3) == 3.0


def test_error_text_and_cause_read_a_failed_trials_stored_error():
    import optuna
    from optuna.trial import TrialState

    from hpsearch.records import ERROR_ATTR, error_cause, error_text

    def trial(state: TrialState, attrs: dict) -> optuna.trial.FrozenTrial:
        value = 1.0 if state == TrialState.COMPLETE else None
        return optuna.trial.create_trial(state=state, value=value, user_attrs=attrs)

    failed = trial(TrialState.FAIL, {ERROR_ATTR: "\n  ValueError: bad lr\nstderr (last 1500 characters):\nTraceback"})
    assert error_text(failed) is not None and error_cause(error_text(failed)) == "ValueError: bad lr"
    assert error_text(trial(TrialState.FAIL, {})) is None  # a crash keeps no error text
    assert error_text(trial(TrialState.COMPLETE, {ERROR_ATTR: "stale"})) is None  # only failed trials have one
    assert error_cause("") == ""
