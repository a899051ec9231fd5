"""Conditional parameters: a parameter exists only where its ``when`` holds, for every sampler."""

from __future__ import annotations

import itertools
import warnings

import optuna
import pytest

from hpsearch import conditions
from hpsearch.errors import SpecError
from hpsearch.search import make_sampler
from hpsearch.space import Axis, Grid, axis_capacity, grid_axes, grid_counts, grid_size, suggest
from hpsearch.spec import spec_from_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)

OPT = {"type": "categorical", "choices": ["sgd", "momentum", "adam"]}
LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}
MOMENTUM = {"type": "float", "low": 0.5, "high": 0.99, "when": {"optimizer": ["sgd", "momentum"]}}
NESTEROV = {"type": "categorical", "choices": [True, False], "when": {"optimizer": ["momentum"]}}
DAMPING = {"type": "float", "low": 0.0, "high": 0.5, "when": {"nesterov": [False]}}  # a child of a conditional parent


def _spec(space, sampler="random", n_trials=20, source="spec.toml"):
    return spec_from_dict(
        {
            "study": {"name": "c", "direction": "maximize", "sampler": sampler, "n_trials": n_trials},
            "space": space,
        },
        source=source,
    )


SPACE = {"damping": DAMPING, "optimizer": OPT, "learning_rate": LR, "momentum": MOMENTUM, "nesterov": NESTEROV}


def _expected_keys(params):
    keys = {"optimizer", "learning_rate"}
    if params["optimizer"] in ("sgd", "momentum"):
        keys.add("momentum")
    if params["optimizer"] == "momentum":
        keys.add("nesterov")
        if params["nesterov"] is False:
            keys.add("damping")
    return keys


@pytest.mark.parametrize("sampler", ["random", "tpe", "tpe-univariate", "qmc", "cmaes"])
def test_every_sampler_asks_exactly_the_parameters_that_exist(sampler):
    spec = _spec(SPACE, sampler=sampler, n_trials=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(sampler=make_sampler(spec)[0], direction="maximize")
        seen = []
        for _ in range(40):
            trial = study.ask()
            params = suggest(trial, spec.space)
            assert set(params) == _expected_keys(params) == set(trial.params)
            assert list(params) == [n for n in SPACE if n in params]  # the space's order
            seen.append(params["optimizer"])
            study.tell(trial, params["learning_rate"] + params.get("momentum", 0.0))
    assert set(seen) == {"sgd", "momentum", "adam"}


def test_tpe_models_each_set_of_parameters_that_exist_together():
    _, args = make_sampler(_spec(SPACE, sampler="tpe"))
    assert args["group"] is True and args["multivariate"] is True
    _, plain = make_sampler(_spec({"optimizer": OPT, "learning_rate": LR}, sampler="tpe"))
    assert plain["group"] is False


def _brute_grid(spec):
    """Every combination of the axes' values, cut to the parameters that exist, duplicates dropped."""
    axes = grid_axes(spec.space, spec.study.n_trials)
    points = []
    for combo in itertools.product(*(a.values() for a in axes.values())):
        point = conditions.active(spec.space, dict(zip(axes, combo, strict=True)))
        if point not in points:
            points.append(point)
    return points


@pytest.mark.parametrize("budget", [1, 8, 24, 100])
def test_the_grid_holds_each_existing_combination_once(budget):
    spec = _spec(SPACE, sampler="grid", n_trials=budget)
    grid = Grid(spec.space, grid_axes(spec.space, budget))
    points = [grid.point(i) for i in range(grid.size)]
    expected = _brute_grid(spec)
    assert grid.size == grid_size(spec.space, budget) == len(expected)
    assert sorted(map(repr, points)) == sorted(map(repr, expected))
    for p in points:
        assert set(p) == _expected_keys(p)


@pytest.mark.parametrize("budget", [5, 14, 24, 60, 500])
def test_conditional_grid_fills_the_budget_as_far_as_one_more_point_allows(budget):
    spec = _spec(SPACE, sampler="grid", n_trials=budget)
    counts = grid_counts(spec.space, budget)
    size = grid_size(spec.space, budget)
    assert size <= budget
    for name, k in counts.items():  # one more point on any axis overflows, or adds nothing (it exists nowhere)
        if k < axis_capacity(spec.space[name]):
            bigger = {n: Axis(spec.space[n], c + (n == name)) for n, c in counts.items()}
            grown = Grid(spec.space, bigger).size
            assert grown == size or grown > budget, name


def test_grid_sampler_runs_every_point_once_and_only_existing_parameters():
    spec = _spec(SPACE, sampler="grid", n_trials=24)
    sampler, args = make_sampler(spec)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    seen = []
    for _ in range(args["grid_size"]):
        trial = study.ask()
        params = suggest(trial, spec.space)
        assert set(params) == _expected_keys(params) == set(trial.params)
        seen.append(repr(params))
        study.tell(trial, 0.0)
    assert sorted(seen) == sorted(map(repr, _brute_grid(spec)))


@pytest.mark.parametrize(
    "when, where, expected",
    [
        ({"optimiser": ["sgd"]}, "space.momentum.when", "did you mean 'optimizer'?"),
        ({"optimizer": ["sgdd"]}, "space.momentum.when.optimizer[0]", "one of optimizer's choices"),
        ({"learning_rate": [0.01]}, "space.momentum.when.learning_rate", "a categorical parameter"),
        ({"optimizer": []}, "space.momentum.when.optimizer", "at least 1"),
    ],
)
def test_spec_errors_name_the_key_and_what_was_expected(when, where, expected):
    space = {"optimizer": OPT, "learning_rate": LR, "momentum": dict(MOMENTUM, when=when)}
    with pytest.raises(SpecError) as err:
        _spec(space)
    message = str(err.value)
    assert message.startswith(f"spec.toml: {where}: expected") and expected in message
    assert "\n" not in message


def test_a_cycle_of_conditions_is_refused():
    space = {
        "optimizer": dict(OPT, when={"activation": ["relu"]}),
        "activation": {"type": "categorical", "choices": ["relu", "tanh"], "when": {"optimizer": ["sgd"]}},
    }
    with pytest.raises(SpecError, match=r"space\.optimizer\.when: expected conditions without a cycle.*"):
        _spec(space)
    self_loop = {"optimizer": dict(OPT, when={"optimizer": ["sgd"]})}
    with pytest.raises(SpecError, match="optimizer -> optimizer"):
        _spec(self_loop)


def test_spec_round_trips_with_conditions():
    spec = _spec(SPACE)
    assert spec_from_dict(spec.to_dict()) == spec
    assert spec.space["momentum"].when == {"optimizer": ["sgd", "momentum"]}


def test_training_may_fix_a_conditional_parameter_for_the_trials_without_it():
    def spec(momentum):
        return spec_from_dict(
            {
                "study": {"name": "m", "objective": "mlp"},
                "data": {"dataset": "iris"},
                "training": {"momentum": 0.8},
                "space": {"optimizer": OPT, "momentum": momentum},
            },
            source="spec.toml",
        )

    assert spec(MOMENTUM).training == {"momentum": 0.8}
    unconditional = {k: v for k, v in MOMENTUM.items() if k != "when"}
    with pytest.raises(SpecError, match=r"training\.momentum: expected a setting not also searched"):
        spec(unconditional)
