"""Search spaces: Optuna distributions, suggest under every sampler, and the grid rule."""

from __future__ import annotations

import itertools
import math

import numpy as np
import optuna
import pytest

from hpsearch.space import (
    Axis,
    GridOrder,
    axis_capacity,
    distributions,
    grid_axes,
    grid_counts,
    grid_digit,
    grid_point,
    grid_points_per_axis,
    grid_size,
    grid_values,
    suggest,
)
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


def test_default_grid_three_cell_centres_per_number_all_choices():
    s = space(lr=LR, depth=DEPTH, d=DROPOUT, opt=OPT)
    g = grid_values(s)
    # log cells of [1e-4, 1e-1]: centres at 10^-3.5, 10^-2.5, 10^-1.5
    assert g["lr"] == pytest.approx([10**-3.5, 10**-2.5, 10**-1.5], rel=1e-2)
    assert g["d"] == pytest.approx([0.5 / 6, 0.25, 2.5 / 6], abs=1e-3)
    assert g["depth"] == [1, 3, 4]  # 3 cells over the 4 unit cells of 1..4 (centre 1.5 rounds up)
    assert g["opt"] == OPT["choices"]
    assert grid_size(s) == 3 * 3 * 3 * 4


def test_numeric_points_are_cell_centres_never_the_range_ends():
    for k in (1, 2, 3, 5, 8):
        lr = Axis(space(lr=LR)["lr"], k).values()
        d = Axis(space(d=DROPOUT)["d"], k).values()
        assert len(set(lr)) == len(set(d)) == k
        for i in range(k):
            t = (i + 0.5) / k
            assert lr[i] == pytest.approx(1e-4 ** (1 - t) * 1e-1**t, rel=5e-3)  # 3 significant digits
            assert d[i] == pytest.approx(0.5 * t, abs=0.5 / k / 100)
        assert 1e-4 < min(lr) and max(lr) < 1e-1 and 0.0 < min(d) and max(d) < 0.5


def test_int_and_stepped_axes_take_unit_cell_centres_on_the_step():
    s = space(
        w=dict(WIDTH),
        b={"type": "int", "low": 10, "high": 50, "step": 10},
        small={"type": "int", "low": 0, "high": 1},
        depth={"type": "int", "low": 1, "high": 3},
        f={"type": "float", "low": 0.05, "high": 0.45, "step": 0.1},
    )
    assert Axis(s["depth"], 2).values() == [1, 3]  # 2 cells over 1..3 (the flagship's depth)
    assert Axis(s["depth"], 1).values() == [2]
    assert Axis(s["b"], 5).values() == [10, 20, 30, 40, 50] and Axis(s["b"], 2).values() == [20, 40]
    assert Axis(s["small"], 2).values() == [0, 1]
    assert Axis(s["f"], 2).values() == [0.15, 0.35] and Axis(s["f"], 5).values() == [0.05, 0.15, 0.25, 0.35, 0.45]
    w = Axis(s["w"], 2).values()
    assert w == [32, 128] and all(isinstance(v, int) for v in w)  # log cells of 16..256
    for k in (2, 5, 30, 241):
        values = Axis(s["w"], k).values()
        assert values == sorted(set(values)) and 16 <= values[0] and values[-1] <= 256
    dists = distributions(s)
    for name, p in s.items():
        for v in Axis(p, min(axis_capacity(p), 4)).values():
            assert dists[name]._contains(dists[name].to_internal_repr(v)), (name, v)


def test_explicit_grid_used_as_given_with_and_without_budget():
    s = space(lr=dict(LR, grid=[1e-1, 1e-3, 1e-2]), opt=dict(OPT, grid=["adam"]), d=DROPOUT)
    for budget in (None, 4, 1000):
        g = grid_values(s, budget)
        assert g["lr"] == [1e-1, 1e-3, 1e-2] and g["opt"] == ["adam"]  # order and values kept


def test_budget_gives_two_cell_centres_per_axis_for_the_flagship():
    s = space(
        lr={"type": "float", "low": 1e-5, "high": 1.0, "log": True},
        opt={"type": "categorical", "choices": ["sgd", "adam"]},
        width=WIDTH,
        depth={"type": "int", "low": 1, "high": 3},
        dropout=DROPOUT,
        batch={"type": "int", "low": 16, "high": 256, "log": True},
    )
    assert grid_points_per_axis(s, 64) == dict.fromkeys(s, 2)
    g = grid_values(s, budget=64)
    assert g["lr"] == pytest.approx([1.78e-4, 0.0562], rel=1e-3)
    assert g == {
        "lr": g["lr"],
        "opt": ["sgd", "adam"],
        "width": [32, 128],
        "depth": [1, 3],
        "dropout": [0.125, 0.375],
        "batch": [32, 128],
    }
    assert grid_size(s, 64) == 64


def test_categoricals_get_all_their_choices_where_the_budget_allows():
    s = space(lr=LR, opt=OPT, d=DROPOUT)
    assert grid_points_per_axis(s, 16) == {"lr": 2, "opt": 4, "d": 2}  # even share 2, then all 4 choices
    assert grid_points_per_axis(s, 12) == {"lr": 2, "opt": 3, "d": 2}  # as many choices as fit
    assert grid_values(s, 8)["opt"] == ["sgd", "adam"]  # 2 of 4: spread over the list
    assert grid_points_per_axis(s, 3) == {"lr": 1, "opt": 3, "d": 1}
    assert grid_values(s, 1) == {"lr": grid_values(s, 1)["lr"], "opt": ["momentum"], "d": [0.25]}
    assert grid_values(s, 1)["lr"] == pytest.approx([10**-2.5], rel=1e-2)


@pytest.mark.parametrize("budget", [1, 5, 27, 30, 100, 500, 10**6])
def test_budgeted_grid_fits_and_uses_the_budget(budget):
    s = space(lr=LR, d=DROPOUT, depth=DEPTH)
    size = grid_size(s, budget)
    assert size <= budget
    counts = grid_points_per_axis(s, budget)
    for name, n in counts.items():  # no single axis could get one more point within the budget
        if n < axis_capacity(s[name]):
            assert size // n * (n + 1) > budget
    numeric = [n for name, n in counts.items() if n < axis_capacity(s[name])]
    assert max(numeric, default=0) - min(numeric, default=0) <= 1  # shared evenly


def test_budget_smaller_than_explicit_grids_keeps_them_and_centres_free_axes():
    s = space(lr=dict(LR, grid=[1e-3, 1e-2, 1e-1]), d=DROPOUT, opt=OPT)
    g = grid_values(s, budget=2)
    assert g["lr"] == [1e-3, 1e-2, 1e-1]
    assert g["d"] == [0.25] and g["opt"] == ["momentum"]


def test_grid_point_by_mixed_radix_matches_itertools_product():
    s = space(
        lr=LR,
        opt=dict(OPT, grid=["adam", "sgd"]),
        depth=DEPTH,
        w=WIDTH,
        f={"type": "float", "low": 0.0, "high": 1.0, "step": 0.25},
    )
    for budget in (1, 7, 48, 200):
        axes = grid_axes(s, budget)
        listed = list(itertools.product(*(a.values() for a in axes.values())))
        assert len(listed) == grid_size(s, budget)
        for index, point in enumerate(listed):
            assert tuple(grid_point(axes, index).values()) == point
            for d, name in enumerate(axes):
                assert axes[name].value(grid_digit(axes, index, name)) == point[d]


def test_huge_ranges_are_counted_not_listed():
    s = space(
        x={"type": "int", "low": 0, "high": 10**9},
        y={"type": "float", "low": 0.0, "high": 1.0, "step": 1e-12},
        z={"type": "int", "low": 1, "high": 10**9, "log": True},
    )
    counts = grid_counts(s, 10**6)  # pure arithmetic; a listing of 10^6 points would show as memory/time
    assert counts == {"x": 100, "y": 100, "z": 100}
    assert axis_capacity(s["x"]) == 10**9 + 1 and axis_capacity(s["y"]) == 10**12 + 1
    assert grid_counts(s, 10**18) == {"x": 10**6, "y": 10**6, "z": 10**6}
    axes = grid_axes(space(x=s["x"]), 5 * 10**8)
    assert axes["x"].count == 5 * 10**8 and axes["x"].value(0) == 1 and axes["x"].value(5 * 10**8 - 1) == 10**9 - 1
    assert grid_size(space(x=s["x"]), 10**12) == 10**9 + 1


def test_grid_order_is_a_seeded_permutation_computed_per_index():
    for size in (1, 2, 3, 5, 64, 1000, 4097):
        order = GridOrder(size, seed=7)
        assert sorted(order(i) for i in range(size)) == list(range(size))
    a, b, c = GridOrder(1000, 0), GridOrder(1000, 0), GridOrder(1000, 1)
    assert [a(i) for i in range(1000)] == [b(i) for i in range(1000)]
    assert [a(i) for i in range(20)] != [c(i) for i in range(20)]
    assert [a(i) for i in range(20)] != list(range(20))
    big = GridOrder(10**15, seed=3)  # per-index cost does not grow with the size
    picks = {big(i) for i in range(200)}
    assert len(picks) == 200 and all(0 <= p < 10**15 for p in picks)


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


def _grid_spec(n_trials, **entries):
    return {"study": {"name": "g", "direction": "maximize", "sampler": "grid", "n_trials": n_trials}, "space": entries}


def test_grid_over_the_cap_is_refused_at_validation():
    from hpsearch.errors import SpecError
    from hpsearch.space import GRID_CAP

    huge = {"type": "int", "low": 0, "high": 10**9}
    with pytest.raises(SpecError, match=r"study\.n_trials: expected at most 100000 for grid search"):
        spec_from_dict(_grid_spec(10**6, x=huge))
    spec_from_dict(_grid_spec(GRID_CAP, x=huge))  # at the cap: fine
    spec_from_dict({**_grid_spec(10**6, x=huge), "study": {**_grid_spec(10**6)["study"], "sampler": "tpe"}})
    many = list(range(100))
    with pytest.raises(SpecError, match=r"space: expected explicit grids of at most 100000 points"):
        spec_from_dict(
            _grid_spec(
                10,
                a={"type": "int", "low": 0, "high": 99, "grid": many},
                b={"type": "int", "low": 0, "high": 99, "grid": many},
                c={"type": "int", "low": 0, "high": 99, "grid": many},
            )
        )


def test_a_step_finer_than_floats_resolve_is_refused():
    from hpsearch.errors import SpecError

    tiny = {"type": "float", "low": 0.0, "high": 1.0, "step": 1e-300}
    for sampler in ("grid", "random"):
        d = _grid_spec(10, x=tiny)
        d["study"]["sampler"] = sampler
        with pytest.raises(SpecError, match=r"space\.x\.step: expected a step >= \(high - low\) / 1e\+15"):
            spec_from_dict(d)
    fine = spec_from_dict(_grid_spec(10, x=dict(tiny, step=1e-12))).space
    assert grid_values(fine, 10)["x"] == pytest.approx([(i + 0.5) / 10 for i in range(10)], abs=1e-11)


def test_check_prints_the_grid_that_will_run(tmp_path, capsys, monkeypatch):
    from hpsearch.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[study]\nname = "s"\nobjective = "external"\ndirection = "maximize"\nn_trials = 16\n'
        '[space]\nlr = { type = "float", low = 1e-4, high = 1e-1, log = true }\n'
        'opt = { type = "categorical", choices = ["sgd", "momentum", "rmsprop", "adam"] }\n'
        'd = { type = "float", low = 0.0, high = 0.5 }\n'
    )
    assert main(["check", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "grid for a budget of 16: 16 points" in out and "points per axis: 2 x 4 x 2 = 16" in out
    assert "0.000562, 0.0178" in out and "sgd, momentum, rmsprop, adam" in out and "0.125, 0.375" in out
    spec.write_text(spec.read_text().replace("n_trials = 16", "n_trials = 1000000"))
    assert main(["check", str(spec)]) == 0
    assert "grid search is capped at 100000" in capsys.readouterr().out


SIX = {f"p{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)}


@pytest.mark.parametrize("seed", [None, 0, 1, 7])
def test_budget_split_does_not_depend_on_the_order_of_axes(seed):
    names = list(SIX)
    counts = None
    for perm in itertools.islice(itertools.permutations(names), 0, 720, 37):  # 20 listing orders
        s = space(**{n: SIX[n] for n in perm})
        got = grid_counts(s, 8, seed=seed)
        assert sorted(got.values()) == [1, 1, 1, 2, 2, 2] and grid_size(s, 8) == 8
        counts = counts or got
        assert got == counts  # the same axes refined, whichever order the spec lists them in


def test_which_axes_get_the_spare_points_changes_with_the_seed_not_the_size():
    s = space(**SIX)
    refined = {n: 0 for n in SIX}
    for seed in range(200):
        got = grid_counts(s, 8, seed=seed)
        assert math.prod(got.values()) == 8
        for n, k in got.items():
            refined[n] += k == 2
    # each axis is refined in about half the seeds (binomial(200, 1/2): 100 +- 7)
    assert all(70 <= r <= 130 for r in refined.values()), refined
    cats = space(
        a={"type": "categorical", "choices": ["w", "x", "y", "z"]},
        b={"type": "categorical", "choices": ["w", "x", "y", "z"]},
    )
    both = {tuple(grid_counts(cats, 8, seed=seed).values()) for seed in range(20)}
    assert both == {(4, 2), (2, 4)}  # equal categoricals: a seeded choice, never the listing order


def test_grid_order_is_uniform_at_every_small_size():
    """Which grid point each slot runs, over 2,000 seeds: a chi-square over the size x size table
    (df (size-1)^2). A Feistel network on a few bits failed this at size 8 with p = 6e-13."""
    from scipy import stats as sps

    for size in (2, 3, 5, 8, 13):
        table = np.zeros((size, size))
        for seed in range(2000):
            order = GridOrder(size, seed)
            for k in range(size):
                table[k, order(k)] += 1
        expected = 2000 / size
        chi2 = float(((table - expected) ** 2 / expected).sum())
        assert sps.chi2.sf(chi2, (size - 1) ** 2) > 1e-3, (size, chi2)
