"""Importance spread, coverage, trials-to-match, score-vs-parameter and the contour dropdown.

Stored studies are made with plain Optuna (no training): the report only reads them.
"""

from __future__ import annotations

import math

import optuna
import pytest

from hpsearch.report._compare_sections import coverage_counts, sections
from hpsearch.report._contour import contour
from hpsearch.report._match import match_grid
from hpsearch.report._param_figures import score_vs_param
from hpsearch.results._importance import importance_spread, importances, worst_value
from hpsearch.results._studies import find_studies


def _store(storage, sampler_name: str, seed: int, objective, n_trials: int, sampler=None, comparison="c"):
    study = optuna.create_study(
        study_name=f"{comparison}-{sampler_name}-{seed}",
        storage=storage,
        direction="maximize",
        sampler=sampler or optuna.samplers.RandomSampler(seed=seed),
    )
    for k, v in {"sampler": sampler_name, "seed": seed, "comparison": comparison}.items():
        study.set_user_attr(k, v)
    study.optimize(objective, n_trials=n_trials)


def _arms(storage, comparison="c") -> dict:
    arms: dict = {}
    for s in find_studies(storage, comparison)[1]:
        arms.setdefault(s.sampler, []).append(s)
    return arms


def _xyz(trial) -> tuple[float, float, float]:
    return (trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1), trial.suggest_float("z", 0, 1))


def only_x_matters(trial) -> float:
    x, _, _ = _xyz(trial)
    return x


def x_diverges(trial) -> float:
    """y nudges the score (most trials near 0.51, a few down to 0.50); x > 0.5 diverges, as a too-high
    learning rate does."""
    x, y, _ = _xyz(trial)
    if x > 0.5:
        trial.set_user_attr("diverged", True)  # how hpsearch marks a NaN loss
        return float("nan")
    return 0.51 - 0.01 * (1 - y) ** 3


@pytest.fixture(scope="module")
def only_x():
    st = optuna.storages.InMemoryStorage()
    for seed in range(4):
        _store(st, "random", seed, only_x_matters, 30)
    return _arms(st)["random"]


@pytest.mark.parametrize("method", ["fanova", "ped-anova"])
def test_importance_spread_ranks_the_one_parameter_that_matters_first(only_x, method):
    rows = importance_spread(only_x, method=method, seed=0)
    assert [r["param"] for r in rows][0] == "x"
    assert sorted(r["param"] for r in rows) == ["x", "y", "z"]
    x = rows[0]
    assert x["q1"] <= x["median"] <= x["q3"]
    assert x["median"] > 0.8 and all(r["q3"] < 0.2 for r in rows[1:])
    assert importance_spread(only_x, method=method, seed=0) == rows  # seeded: the same again


def test_diverged_trials_count_as_the_worst_value_in_importance():
    st = optuna.storages.InMemoryStorage()
    for seed in range(3):
        _store(st, "random", seed, x_diverges, 30)
    studies = _arms(st)["random"]
    finite = [t.value for s in studies for t in s.finished if math.isfinite(t.value)]
    assert worst_value(studies) == min(finite)
    rows = importance_spread(studies)
    assert rows[0]["param"] == "x" and rows[0]["median"] > 0.5
    # dropping the diverged trials instead would hide x entirely: y is all that is left to explain
    dropped, _ = importances(studies[0].frozen, "maximize", "fanova")
    assert max(dropped, key=dropped.get) == "y"


def test_coverage_counts_grid_columns_against_random_spread():
    st = optuna.storages.InMemoryStorage()
    grid = {"x": [0.25, 0.75], "y": [0.25, 0.75], "z": [0.5]}
    for seed in (0, 1):
        _store(st, "grid", seed, only_x_matters, 4, sampler=optuna.samplers.GridSampler(grid, seed=seed))
        _store(st, "random", seed, only_x_matters, 10)
    arms = _arms(st)
    assert coverage_counts(arms, "x") == {"grid": (2.0, 2), "random": (10.0, 20)}
    assert coverage_counts(arms, "z") == {"grid": (1.0, 1), "random": (10.0, 20)}
    figs, panels = sections(arms, "maximize", ["x", "y", "z"], set(), seed=0)
    assert {f.key for f in figs} >= {"importance", "score-vs-param", "contour"}
    head, rows = panels["coverage_head"], panels["coverage_rows"]
    assert head[-2:] == ["distinct values: grid", "distinct values: random"]
    assert rows[0][0] == "x" and rows[0][-2:] == ["2 per study, 2 pooled", "10 per study, 20 pooled"]
    # importance per arm, never pooled: the table's fANOVA numbers are the verdict JSON's, arm by arm
    for arm, studies in arms.items():
        want = {r["param"]: r for r in importance_spread(studies, "fanova", seed=0)}
        assert {r["param"]: r for r in panels["importance_spread"][arm]} == want


def test_trials_to_match_grid_has_a_summary_row_per_arm_and_grid_its_own():
    st = optuna.storages.InMemoryStorage()
    grid = {"x": [0.1, 0.4, 0.6, 0.9], "y": [0.5], "z": [0.5]}
    for seed in (0, 1, 2):
        _store(st, "grid", seed, only_x_matters, 4, sampler=optuna.samplers.GridSampler(grid, seed=seed))
        _store(st, "random", seed, only_x_matters, 6)
    table = match_grid(_arms(st), "maximize")
    assert table.target == "0.9"  # every grid repeat ran the whole grid
    by_arm = {r[0]: r for r in table.summary}
    assert by_arm["grid (its own median)"][1:] == ["3", by_arm["grid (its own median)"][2], "3 of 3 reached"]
    assert by_arm["random"][3].endswith("of 3 reached") and by_arm["random"][1] == "3"
    assert len(table.rows) == 6
    assert match_grid({"random": _arms(st)["random"]}, "maximize").summary == []  # no grid, no table


def test_score_vs_param_draws_diverged_trials_at_the_worst_value():
    st = optuna.storages.InMemoryStorage()
    _store(st, "random", 0, x_diverges, 20)
    arms = _arms(st)
    worst = worst_value(arms["random"])
    fig = score_vs_param(arms, ["x", "y", "z"], set(), worst).fig
    crosses = [t for t in fig.data if t.marker.symbol == "x"]
    n_diverged = sum(1 for t in arms["random"][0].finished if not math.isfinite(t.value))
    assert n_diverged > 0
    assert sum(len(t.y) for t in crosses) == 3 * n_diverged  # one panel per parameter
    assert all(v == worst for t in crosses for v in t.y)


def test_contour_dropdown_offers_every_pair_and_shows_one_at_a_time(only_x):
    fig = contour({"random": only_x}, ["x", "y", "z"], {"y"}, worst_value(only_x), "maximize").fig
    menu = fig.layout.updatemenus[0]
    assert menu.type == "dropdown"
    assert [b.label for b in menu.buttons] == ["x × y", "x × z", "y × z"]
    n = len(fig.data)
    shown = [sum(b.args[0]["visible"]) for b in menu.buttons]
    assert all(k == 2 for k in shown)  # the contour and the one arm's trials
    assert sum(shown) == n  # every trace belongs to exactly one pair
    assert [t.visible for t in fig.data] == list(menu.buttons[0].args[0]["visible"])
    assert menu.buttons[1].args[1]["yaxis.title.text"] == "z"
    assert menu.buttons[2].args[1]["xaxis.title.text"] == "y (log10)"


def test_expected_best_figure_covers_grid_random_not_tpe_and_says_what_it_left_out():
    from hpsearch.report._compare_figures import expected_max

    st = optuna.storages.InMemoryStorage()
    grid = {"x": [0.1, 0.3, 0.6, 0.9], "y": [0.2, 0.8], "z": [0.5]}
    _store(st, "grid", 0, x_diverges, 8, sampler=optuna.samplers.GridSampler(grid, seed=0))
    for seed, n in ((0, 10), (1, 7), (2, 3)):
        _store(st, "random", seed, x_diverges, n)
    _store(st, "tpe", 0, x_diverges, 10)
    fig, notes = expected_max(_arms(st), "maximize", 10)
    names = [t.name for t in fig.fig.data if t.name]
    assert names == ["grid: expected best of n", "random: expected best of n", "tpe: median best of repeated studies"]
    grid_note, random_note, tpe_note = notes
    assert "grid: mean over 1 repeats" in grid_note and "seeded shuffle" in grid_note
    assert "count as the worst value" in grid_note  # x = 0.6 and 0.9 diverge: 4 of the 8 points
    assert "1 repeats with fewer than 5 trials left out" in random_note
    assert "drawn up to n = 7" in random_note
    assert "each TPE trial depends on the earlier ones" in tpe_note
    random_line = next(t for t in fig.fig.data if t.name == "random: expected best of n")
    assert list(random_line.x) == list(range(1, 8))
