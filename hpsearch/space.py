"""Search spaces: spec [space] -> Optuna distributions, suggestions and grids.

``suggest`` goes through ``trial.suggest_*`` so that every Optuna sampler
(random, TPE, QMC and GridSampler) sees the same distributions.

Grid rule (what grid search tries), per axis:

1. an explicit ``grid = [...]`` always wins;
2. a categorical axis takes all its choices;
3. a numeric axis takes 3 evenly spaced values from low to high (log-evenly
   when ``log = true``; integers rounded and de-duplicated, ``step`` respected).

With a ``budget`` (the study's n_trials) the free axes (those without an
explicit grid) share it: every free axis gets the same number of points ``s``
(a categorical axis at most its number of choices, spread over the list), the
largest ``s`` whose grid still fits the budget; then, in the space's order,
axes get one more point each while the grid still fits. So 8 axes and a
budget of 256 give 2 values per axis, the regime where random search shines
(Bergstra & Bengio 2012). If the explicit grids alone exceed the budget, free
axes get one point (their middle) and the grid is larger than the budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna

from hpsearch.spec.models import CategoricalParam, FloatParam, IntParam

DEFAULT_POINTS = 3


def distributions(space: Mapping[str, Any]) -> dict[str, optuna.distributions.BaseDistribution]:
    """Optuna distributions, one per searched hyperparameter."""
    out: dict[str, optuna.distributions.BaseDistribution] = {}
    for name, p in space.items():
        if isinstance(p, FloatParam):
            out[name] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntParam):
            out[name] = optuna.distributions.IntDistribution(p.low, p.high, log=p.log, step=p.step)
        else:
            out[name] = optuna.distributions.CategoricalDistribution(list(p.choices))
    return out


def suggest(trial: optuna.trial.BaseTrial, space: Mapping[str, Any]) -> dict[str, Any]:
    """Ask the trial for one value of every hyperparameter, in the space's order."""
    params: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, FloatParam):
            params[name] = trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntParam):
            params[name] = trial.suggest_int(name, p.low, p.high, step=p.step, log=p.log)
        else:
            params[name] = trial.suggest_categorical(name, list(p.choices))
    return params


def grid_values(space: Mapping[str, Any], budget: int | None = None) -> dict[str, list]:
    """The axes grid search uses (see the module docstring for the rule)."""
    if budget is None:
        return {name: axis_values(p, None) for name, p in space.items()}
    if budget < 1:
        raise ValueError("budget must be >= 1")
    fixed = {n: list(p.grid) for n, p in space.items() if p.grid is not None}
    free = {n: p for n, p in space.items() if p.grid is None}
    base = math.prod(len(v) for v in fixed.values())
    caps = {n: _max_points(p) for n, p in free.items()}
    counts = {n: 1 for n in free}
    s = 1
    while True:  # largest common s whose grid fits the budget
        trial = {n: min(s + 1, caps[n]) for n in free}
        if trial == counts or base * math.prod(trial.values()) > budget:
            break
        counts, s = trial, s + 1
    for n in free:  # then one more point per axis, in order, while it fits
        bumped = dict(counts, **{n: min(counts[n] + 1, caps[n])})
        if base * math.prod(bumped.values()) <= budget:
            counts = bumped
    out = {}
    for name, p in space.items():
        out[name] = fixed[name] if name in fixed else axis_values(p, counts[name])
    return out


def grid_size(space: Mapping[str, Any], budget: int | None = None) -> int:
    """Number of points of the grid ``grid_values(space, budget)``."""
    return math.prod(len(v) for v in grid_values(space, budget).values())


def axis_values(p: Any, n: int | None) -> list:
    """``n`` values of one axis (default: explicit grid, else the default count)."""
    if n is None:
        if p.grid is not None:
            return list(p.grid)
        n = len(p.choices) if isinstance(p, CategoricalParam) else DEFAULT_POINTS
    if isinstance(p, CategoricalParam):
        return [p.choices[i] for i in _spread(len(p.choices), n)]
    if n == 1:
        raw = np.array([math.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2])
    elif p.log:
        raw = np.geomspace(p.low, p.high, n)
    else:
        raw = np.linspace(p.low, p.high, n)
    if isinstance(p, IntParam):
        values = sorted({int(p.low + round((v - p.low) / p.step) * p.step) for v in raw})
        return [min(v, p.high) for v in values]
    if p.step is not None:
        k_max = math.floor((p.high - p.low) / p.step + 1e-9)
        ks = sorted({min(round((v - p.low) / p.step), k_max) for v in raw})
        return [_tidy(p.low + k * p.step, p) for k in ks]
    return [_tidy(float(v), p) for v in raw]


def _max_points(p: Any) -> int:
    """Most distinct points an axis can take (unbounded floats: effectively many)."""
    if isinstance(p, CategoricalParam):
        return len(p.choices)
    if isinstance(p, IntParam):
        return (p.high - p.low) // p.step + 1
    if p.step is not None:
        return math.floor((p.high - p.low) / p.step + 1e-9) + 1
    return 10**6


def _spread(n_choices: int, n: int) -> list[int]:
    """Indices of ``n`` choices spread over the list (n=1: the middle one)."""
    if n >= n_choices:
        return list(range(n_choices))
    if n == 1:
        return [(n_choices - 1) // 2]
    return sorted({round(i) for i in np.linspace(0, n_choices - 1, n)})


def _tidy(v: float, p: Any) -> float:
    """Round interior points to 4 significant digits, so grids read well; ends exact."""
    if v <= p.low or v >= p.high:
        return float(min(max(v, p.low), p.high))
    return float(f"{v:.4g}") if p.step is None else round(v, 12)
