"""Search spaces: Optuna distributions, suggest under every sampler, and the grid rule."""

from __future__ import annotations

import math

import optuna
import pytest

from hpsearch.space import distributions, grid_size, grid_values, suggest
from hpsearch.spec import spec_from_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)


def space(**entries):
    return spec_from_dict({"study": {"name": "s", "direction": "maximize"}, "space": entries}).space


LR = {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}
WIDTH = {"type": "int", "low": 16, "high": 256, "log": True}
DEPTH = {"type": "int", "low": 1, "high": 4}
DROPOUT = {"type": "float", "low": 0.0, "high": 0.5}
OPT = {"type": "categorical", "choices": ["sgd", "momentum", "rmsprop", "adam"]}


def test_distributions_match_the_spec():
    d = distributions(space(lr=LR, depth=DEPTH, opt=OPT, d=dict(DROPOUT, step=0.1)))
    assert d["lr"] == optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    assert d["depth"] == optuna.distributions.IntDistribution(1, 4)
    assert d["opt"] == optuna.distributions.CategoricalDistribution(["sgd", "momentum", "rmsprop", "adam"])
    assert d["d"] == optuna.distributions.FloatDistribution(0.0, 0.5, step=0.1)


def test_default_grid_three_points_per_number_all_choices():
    g = grid_values(space(lr=LR, depth=DEPTH, d=DROPOUT, opt=OPT))
    assert g["lr"] == pytest.approx([1e-4, math.sqrt(1e-4 * 1e-1), 1e-1], rel=1e-3)  # log-evenly
    assert g["d"] == [0.0, 0.25, 0.5]  # evenly
    assert g["depth"][0] == 1 and g["depth"][-1] == 4 and len(g["depth"]) == 3
    assert g["opt"] == OPT["choices"]
    assert grid_size(space(lr=LR, depth=DEPTH, d=DROPOUT, opt=OPT)) == 3 * 3 * 3 * 4


def test_explicit_grid_wins_with_and_without_budget():
    s = space(lr=dict(LR, grid=[1e-3, 1e-2]), opt=dict(OPT, grid=["adam"]), d=DROPOUT)
    for budget in (None, 4, 1000):
        g = grid_values(s, budget)
        assert g["lr"] == [1e-3, 1e-2] and g["opt"] == ["adam"]


def test_int_axes_are_distinct_integers_on_the_step():
    g = grid_values(space(w=dict(WIDTH), b={"type": "int", "low": 10, "high": 50, "step": 10},
                          small={"type": "int", "low": 0, "high": 1}))
    assert all(isinstance(v, int) for v in g["w"]) and g["w"][0] == 16 and g["w"][-1] == 256
    assert g["w"] == sorted(set(g["w"]))
    assert g["b"] == [10, 30, 50]
    assert g["small"] == [0, 1]  # a 2-value range gives 2 points, not a duplicate


def test_budget_gives_two_values_per_axis_for_the_flagship():
    s = space(lr=LR, opt=OPT, width=WIDTH, depth=DEPTH, dropout=DROPOUT, batch={"type": "int", "low": 16,
                                                                             "high": 256, "log": True})
    g = grid_values(s, budget=64)
    assert all(len(v) == 2 for v in g.values())
    assert g["lr"] == pytest.approx([1e-4, 1e-1]) and g["opt"] == ["sgd", "adam"]
    assert grid_size(s, 64) == 64


@pytest.mark.parametrize("budget", [1, 5, 27, 30, 100, 500])
def test_budgeted_grid_fits_and_uses_the_budget(budget):
    s = space(lr=LR, d=DROPOUT, depth=DEPTH)
    size = grid_size(s, budget)
    assert size <= budget
    g = grid_values(s, budget)
    # no single axis could get one more point without breaking the budget
    for name, values in g.items():
        cap = 4 if name == "depth" else 10**6
        if len(values) < cap:
            assert size // len(values) * (len(values) + 1) > budget
    assert len({len(v) for v in g.values()}) <= 2  # axes share the budget evenly (differ by at most one)


def test_budget_smaller_than_explicit_grids_keeps_them_and_centres_free_axes():
    s = space(lr=dict(LR, grid=[1e-3, 1e-2, 1e-1]), d=DROPOUT, opt=OPT)
    g = grid_values(s, budget=2)
    assert g["lr"] == [1e-3, 1e-2, 1e-1]
    assert g["d"] == [0.25] and g["opt"] == ["momentum"]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("sampler", ["random", "tpe", "qmc", "grid"])
def test_suggest_works_with_every_sampler(sampler):
    s = space(lr=LR, depth=DEPTH, opt=OPT, d=dict(DROPOUT, step=0.05))
    samplers = {
        "random": lambda: optuna.samplers.RandomSampler(seed=1),
        "tpe": lambda: optuna.samplers.TPESampler(seed=1, n_startup_trials=3),
        "qmc": lambda: optuna.samplers.QMCSampler(seed=1, qmc_type="sobol"),
        "grid": lambda: optuna.samplers.GridSampler(grid_values(s), seed=1),
    }
    study = optuna.create_study(sampler=samplers[sampler]())
    seen = []

    def objective(trial):
        params = suggest(trial, s)
        seen.append(params)
        return params["lr"] * params["depth"]

    study.optimize(objective, n_trials=8)
    dists = distributions(s)
    for params in seen:
        assert list(params) == ["lr", "depth", "opt", "d"]
        for name, value in params.items():
            assert dists[name]._contains(dists[name].to_internal_repr(value)), (name, value)
    if sampler == "grid":
        points = {tuple(p.values()) for p in seen}
        assert len(points) == 8  # distinct grid points, all from the grid
        g = grid_values(s)
        assert all(p[k] in g[k] for p in seen for k in p)
