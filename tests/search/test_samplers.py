"""The slot-keyed grid sampler: points computed from slots, each once, nothing of the grid in trials."""

from __future__ import annotations

import itertools
import json

import optuna
import pytest

from hpsearch import space as space_module
from hpsearch.search import ask_trial, budget, make_pruner, make_sampler, run_study, tell_trial
from hpsearch.space import grid_values
from hpsearch.storage import open_storage

NUMERIC_GRID = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "depth": {"type": "int", "low": 1, "high": 3},
    "opt": {"type": "categorical", "choices": ["sgd", "adam"]},
    "x": {"type": "float", "low": 0.0, "high": 1.0},
}


def _study(storage, spec):
    sampler, args = make_sampler(spec)
    study = optuna.create_study(
        study_name=spec.study.name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(spec),
        direction="maximize",
        load_if_exists=True,
    )
    return study, args


def _all_points(spec):
    g = grid_values(spec.space, spec.study.n_trials)
    return sorted(itertools.product(*g.values()), key=repr)


def test_two_interleaved_workers_get_every_point_exactly_once(storage_url, spec_factory):
    spec = spec_factory(sampler="grid", n_trials=16, space=NUMERIC_GRID, seed=5)
    assert budget(spec) == 16 and space_module.grid_points_per_axis(spec.space, 16) == {
        "lr": 2,
        "depth": 2,
        "opt": 2,
        "x": 2,
    }
    a, _ = _study(open_storage(storage_url), spec)
    b, _ = _study(open_storage(storage_url), spec)  # a second handle with its own sampler, as another worker has
    seen = []
    for k in range(16):
        study = (a, b)[k % 2]
        trial, params = ask_trial(study, spec)
        seen.append(tuple(params.values()))
        tell_trial(study, trial.number, 0.5)
    assert sorted(seen, key=repr) == _all_points(spec)


def test_two_worker_processes_cover_a_cell_centre_grid_once(storage_url, spec_factory, objectives_module):
    spec = spec_factory(sampler="grid", n_trials=16, space=NUMERIC_GRID, seed=2)
    study = run_study(spec, storage_url, jobs=2, progress=False)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 16 and {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    assert sorted((tuple(t.params[n] for n in NUMERIC_GRID) for t in trials), key=repr) == _all_points(spec)


def test_the_order_is_a_seeded_shuffle_and_a_truncated_grid_a_random_subset(storage_url, spec_factory):
    space = {"w": {"type": "int", "low": 0, "high": 99}}  # 1 axis, 100 points for a budget of 100
    orders = []
    for name, seed in (("s0", 0), ("s0b", 0), ("s1", 1)):
        spec = spec_factory(name=name, sampler="grid", n_trials=100, space=space, seed=seed)
        study, _ = _study(open_storage(storage_url), spec)
        orders.append([ask_trial(study, spec)[1]["w"] for _ in range(10)])
    assert orders[0] == orders[1] and orders[0] != orders[2]
    assert orders[0] != sorted(orders[0]) and len(set(orders[0])) == 10


def test_no_grid_is_copied_into_trials_or_listed_per_ask(storage_url, spec_factory, monkeypatch):
    # 100,000 grid points (the cap) over an int range of 10^9: building, listing or copying the grid
    # per ask would call Axis.value 10^5 times and store ~1 MB per trial.
    space = {
        "x": {"type": "int", "low": 0, "high": 10**9},
        "y": {"type": "float", "low": 0.0, "high": 1.0, "step": 1e-9},
    }
    spec = spec_factory(sampler="grid", n_trials=100_000, space=space)
    assert budget(spec) == 316 * 316  # 317 * 316 > 100,000
    calls = []
    real_value = space_module.Axis.value
    monkeypatch.setattr(space_module.Axis, "value", lambda self, i: calls.append(i) or real_value(self, i))
    study, args = _study(open_storage(storage_url), spec)
    assert args["grid_size"] == 316 * 316 and args["points_per_axis"] == {"x": 316, "y": 316}
    assert len(json.dumps(args)) < 1000
    for _ in range(3):
        calls.clear()
        trial, params = ask_trial(study, spec)
        assert len(calls) <= 2  # one value per axis: the point comes from the slot
        attrs = study._storage.get_trial_system_attrs(trial._trial_id)
        assert len(json.dumps(attrs)) < 1000 and "search_space" not in attrs
        assert 0 < params["x"] < 10**9 and 0 < params["y"] < 1
        tell_trial(study, trial.number, 1.0)


def test_plain_optuna_use_without_slots_walks_the_grid_by_trial_number(spec_factory):
    spec = spec_factory(sampler="grid", n_trials=16, space=NUMERIC_GRID, seed=0)
    sampler, _ = make_sampler(spec)
    study = optuna.create_study(sampler=sampler)
    seen = []
    study.optimize(lambda t: seen.append(tuple(space_module.suggest(t, spec.space).values())) or 0.0, n_trials=16)
    assert sorted(seen, key=repr) == _all_points(spec)


def test_grid_sampler_args_name_points_per_axis_not_the_grid(spec_factory):
    _, args = make_sampler(spec_factory(sampler="grid", n_trials=16, space=NUMERIC_GRID, seed=3))
    assert args["grid_size"] == 16 and args["seed"] == 3
    assert args["points_per_axis"] == {"lr": 2, "depth": 2, "opt": 2, "x": 2}


@pytest.mark.parametrize("n_trials", [1, 3, 9])
def test_budget_is_the_grid_size_when_the_grid_is_smaller(spec_factory, n_trials):
    spec = spec_factory(sampler="grid", n_trials=n_trials)  # the conftest grid: 3 x 3 explicit/categorical
    assert budget(spec) == min(n_trials, 9)
