"""Search spaces: spec [space] -> Optuna distributions, suggestions and grids.

``suggest`` goes through ``trial.suggest_*`` so that every Optuna sampler
(random, TPE, QMC and our slot-keyed grid sampler) sees the same distributions.

The grid (what grid search tries)
---------------------------------

Points per axis. An explicit ``grid = [...]`` is used exactly as given. The
other ("free") axes share the study's budget (its n_trials):

1. **Even share.** Every free axis gets the same number of points ``s``, the
   largest ``s`` whose grid fits the budget (an axis never gets more points
   than it has distinct values: a categorical its choices, an int range its
   integers on the step).
2. **Categoricals complete.** Then each categorical axis is raised to as many
   of its choices as the budget allows, up to all of them, the one with the
   most choices first. Choices often matter (the optimizer); a numeric axis
   already has its even share.
3. **Top-up.** Then numeric axes get one more point each while the grid still
   fits. Axes never differ by more than one point from the even share, except
   completed categoricals.
4. **Conditional axes.** A parameter with ``when`` multiplies only the points
   where it exists (:class:`Grid`), so with conditions the grid sized as a
   full product is smaller than it looks: axes then get more points, one at
   a time, the axis with the fewest first (ties as in step 3), while the real
   grid still fits the budget.

Where the budget leaves room for only some axes to get more (step 2 among
categoricals with equally many choices, step 3 among numeric axes), the
order in which they are served depends on the axes' *names*
(:func:`axis_priority`), never on their order in the spec: six axes at a
budget of 8 give three of them 2 points. Grid search uses the names'
alphabetical order, so every repeat of a comparison runs the same grid; with
a seed, a seeded shuffle of the names decides instead, and across seeds every
axis is refined equally often. The grid's size never depends on the seed.

If the explicit grids alone exceed the budget, free axes get one point each
(the middle of the range) and grid search runs a seeded random subset of the
grid. Without a budget a numeric axis gets 3 points and a categorical all its
choices. So 6 axes and a budget of 64 give 2 points per axis, the regime in
which Bergstra & Bengio (2012) showed random search beating grid search.

Where the points go on a numeric axis with k points: at the centres of k equal
cells of the range, never at its ends (an endpoint grid is a strawman: with 2
points it tries only the extremes).

* float: cells of [low, high]; log cells when ``log = true`` (centres
  ``low^(1-t) * high^t`` for t = (i + 1/2) / k). Interior values are rounded
  just enough to read well and stay distinct (a hundredth of the spacing).
* int, or float with ``step``: the range is its n values low + j*step, each
  the centre of a unit cell; k cells over those n unit cells take the values
  j = floor((2i + 1) * n / (2k)), i = 0..k-1. They are always distinct; with
  k = n they are all the values, and the ends appear only when k > n / 2.
* int with ``log = true``: log cells of [low, high], centres rounded to
  integers, duplicates dropped (an axis may then have fewer than k points).
* categorical with fewer points than choices: choices spread over the list
  (2 of 4: the first and the last); 1 point: the middle choice.

Grids are never listed. A grid point is computed from its index by mixed radix
over the axes (the last axis varies fastest, as in ``itertools.product``) and
the grid's size is the product of the per-axis counts, counted arithmetically
(a ``step`` of 1e-300 costs nothing). Grid search is capped at
:data:`GRID_CAP` points; the spec checks refuse larger grids before anything
is stored. The order in which grid search visits the points is a seeded
uniform random permutation of the indices (:class:`GridOrder`).
See docs/science.md for why the grid is built this way.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import optuna

from hpsearch.conditions import active, condition_depths, decision_order, has_conditions, holds, parent_names
from hpsearch.spec.models import CategoricalParam, FloatParam, IntParam

DEFAULT_POINTS = 3
GRID_CAP = 100_000  # most points a grid search may have
MAX_STEPS = 10**15  # most steps a stepped float range may have (exact indices, Optuna's Decimal checks)


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
    """Ask the trial for one value of every hyperparameter that exists (hpsearch.conditions).

    Parents are asked before their children, and a parameter whose ``when``
    does not hold is never asked, so it is absent from the trial. The result is
    in the space's order.
    """
    params: dict[str, Any] = {}
    for name in decision_order(space):
        p = space[name]
        if not holds(p, params):
            continue
        if isinstance(p, FloatParam):
            params[name] = trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntParam):
            params[name] = trial.suggest_int(name, p.low, p.high, step=p.step, log=p.log)
        else:
            params[name] = trial.suggest_categorical(name, list(p.choices))
    return {name: params[name] for name in space if name in params}


# ---------------------------------------------------------------------------
# points per axis


def axis_priority(names: Iterable[str], seed: int | None = None) -> list[str]:
    """The order in which axes are offered points the budget cannot give all of them.

    The names sorted, then (with a seed) shuffled by a generator seeded with
    the seed alone: the same for any listing order of the spec's axes.
    """
    ordered = sorted(names)
    if seed is None:
        return ordered
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _PRIORITY_KEY]))
    return [ordered[i] for i in rng.permutation(len(ordered))]


_PRIORITY_KEY = 0x67726964  # "grid": keeps this stream apart from the samplers' own uses of the seed


def grid_counts(space: Mapping[str, Any], budget: int | None = None, *, seed: int | None = None) -> dict[str, int]:
    """The number of points the rule asks of each axis (before log-int duplicates are dropped).

    Pure arithmetic: time O(axes x log budget), whatever the ranges. ``seed``
    only decides which axes get the points the budget cannot give to all
    (:func:`axis_priority`); the counts' product is the same for every seed.
    """
    if budget is not None and budget < 1:
        raise ValueError("budget must be >= 1")
    caps = {n: axis_capacity(p) for n, p in space.items()}
    counts: dict[str, int] = {}
    free = []
    for name, p in space.items():
        if p.grid is not None:
            counts[name] = len(p.grid)
        elif budget is None:
            counts[name] = caps[name] if isinstance(p, CategoricalParam) else min(DEFAULT_POINTS, caps[name])  # type: ignore[assignment]
        else:
            free.append(name)
            counts[name] = 1
    if budget is None or not free:
        return counts
    base = math.prod(counts[n] for n in counts if n not in free)
    room = budget // base  # 0 when the explicit grids alone exceed the budget: free axes keep 1 point

    def size(s: int) -> int:  # free-axis grid size with s points per axis (stops early past room)
        out = 1
        for n in free:
            out *= min(s, caps[n])  # type: ignore[assignment]
            if out > room:
                break
        return out

    lo, hi = 1, max(1, room)  # 1. even share: the largest s with size(s) <= room (binary search)
    if size(1) <= room:
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if size(mid) <= room else (lo, mid - 1)
    for n in free:
        counts[n] = min(lo, caps[n])  # type: ignore[assignment]
    product = math.prod(counts[n] for n in free)
    priority = {name: i for i, name in enumerate(axis_priority(free, seed))}
    by_choices = sorted(free, key=lambda n: (-caps[n], priority[n]))
    for n in by_choices:  # 2. categoricals: as many choices as fit, up to all; most choices first
        if isinstance(space[n], CategoricalParam) and room:
            others = product // counts[n]
            k = min(caps[n], max(counts[n], room // others))
            product, counts[n] = others * k, k  # type: ignore[assignment]
    for n in sorted(free, key=priority.__getitem__):  # 3. numeric axes: one more point each while the grid fits
        if not isinstance(space[n], CategoricalParam) and counts[n] < caps[n]:
            bumped = product // counts[n] * (counts[n] + 1)
            if bumped <= room:
                product, counts[n] = bumped, counts[n] + 1
    if has_conditions(space):
        _fill_conditional(space, counts, [n for n in sorted(free, key=priority.__getitem__)], caps, budget)
    return counts


def _fill_conditional(
    space: Mapping[str, Any], counts: dict[str, int], order: list[str], caps: dict[str, Any], budget: int
) -> None:
    """4. With conditional axes: more points while the real grid still fits the budget.

    A conditional axis multiplies only the points where it exists, so the grid
    the rule above sized as a full product is smaller than the budget. One point
    at a time, the free axis with the fewest points (numeric before
    categorical, then the less deeply conditional, then ``order``) whose extra
    point still fits gets it, so the axes stay balanced; an axis that exists at
    no point adds nothing and is left.
    """
    rank = {n: i for i, n in enumerate(order)}
    depth = condition_depths(space)

    def size(c: dict[str, int]) -> int:
        return Grid(space, {name: Axis(space[name], k) for name, k in c.items()}).size

    current = size(counts)
    while True:
        for n in sorted(order, key=lambda n: (counts[n], isinstance(space[n], CategoricalParam), depth[n], rank[n])):
            if counts[n] < caps[n]:
                bigger = size({**counts, n: counts[n] + 1})
                if current < bigger <= budget:
                    counts[n], current = counts[n] + 1, bigger
                    break
        else:
            return


def axis_capacity(p: Any) -> int | float:
    """Most distinct grid points an axis can have (math.inf for a float range without step)."""
    if p.grid is not None:
        return len(p.grid)
    if isinstance(p, CategoricalParam):
        return len(p.choices)
    n = _n_steps(p)
    return math.inf if n is None else n


def grid_axes(space: Mapping[str, Any], budget: int | None = None, *, seed: int | None = None) -> dict[str, Axis]:
    """One :class:`Axis` per hyperparameter: its point count and its i-th value, never a listing."""
    counts = grid_counts(space, budget, seed=seed)
    return {name: Axis(p, counts[name]) for name, p in space.items()}


def grid_points_per_axis(space: Mapping[str, Any], budget: int | None = None) -> dict[str, int]:
    """Distinct grid values per axis, e.g. {"learning_rate": 2, "optimizer": 2, ...} (for reports)."""
    return {name: axis.count for name, axis in grid_axes(space, budget).items()}


def grid_size(space: Mapping[str, Any], budget: int | None = None) -> int:
    """Number of points of the grid: the product of the per-axis counts, except that a conditional
    axis multiplies only the points where it exists (:class:`Grid`); nothing is listed."""
    return Grid(space, grid_axes(space, budget)).size


def grid_values(space: Mapping[str, Any], budget: int | None = None, *, seed: int | None = None) -> dict[str, list]:
    """Each axis's values as a list (for display; the grid itself is their product)."""
    return {name: axis.values() for name, axis in grid_axes(space, budget, seed=seed).items()}


class Axis:
    """One grid axis: ``count`` distinct values, ``value(i)`` computed on demand in O(1).

    ``count`` may be below the k asked for only on a log-scaled int axis
    (rounded centres that coincide are dropped; only up to GRID_CAP points).
    """

    def __init__(self, p: Any, k: int) -> None:
        if k < 1:
            raise ValueError("an axis needs at least one point")
        self.param, self.k = p, int(k)
        self._ints: tuple[int, ...] | None = None
        if p.grid is None and isinstance(p, IntParam) and p.log and p.step == 1 and self.k <= GRID_CAP:
            self._ints = _log_int_values(p.low, p.high, min(self.k, _n_steps(p)))  # type: ignore[type-var]
        self.count = len(self._ints) if self._ints is not None else self.k

    def __len__(self) -> int:
        return self.count

    def value(self, i: int) -> Any:
        """The i-th value (0 <= i < count), ascending for numeric axes."""
        p, k = self.param, self.k
        if not 0 <= i < self.count:
            raise IndexError(i)
        if p.grid is not None:
            return p.grid[i]
        if isinstance(p, CategoricalParam):
            return p.choices[_spread_index(len(p.choices), k, i)]
        if self._ints is not None:
            return self._ints[i]
        if isinstance(p, IntParam) and p.log:  # beyond GRID_CAP points: not de-duplicated
            t = (i + 0.5) / k
            v = round(math.exp(math.log(p.low) * (1 - t) + math.log(p.high) * t))
            return min(max(v, p.low), p.high)
        n = _n_steps(p)
        if n is not None:  # int, or float with step: the centre of cell i over the n unit cells
            j = ((2 * i + 1) * n) // (2 * k)
            if isinstance(p, IntParam):
                return p.low + j * p.step
            return _tidy_step(p.low + j * p.step, p)
        t = (i + 0.5) / k
        if p.log:
            v = math.exp(math.log(p.low) * (1 - t) + math.log(p.high) * t)  # type: ignore[assignment]
            return _tidy_log(v, p, k)
        return _tidy_linear(p.low * (1 - t) + p.high * t, p, k)

    def values(self) -> list:
        return [self.value(i) for i in range(self.count)]


def _n_steps(p: Any) -> int | None:
    """Number of values low + j*step in an int or stepped float range; None for a continuous one."""
    if isinstance(p, IntParam):
        return (p.high - p.low) // p.step + 1
    if p.step is None:
        return None
    ratio = (p.high - p.low) / p.step
    if not math.isfinite(ratio) or ratio > MAX_STEPS:
        return None  # steps finer than floats resolve (refused by the spec checks): treat as continuous
    return math.floor(ratio + 1e-9) + 1


@functools.lru_cache(maxsize=64)
def _log_int_values(low: int, high: int, k: int) -> tuple[int, ...]:
    t = (np.arange(k) + 0.5) / k
    raw = np.exp(math.log(low) * (1 - t) + math.log(high) * t)
    return tuple(int(v) for v in np.unique(np.clip(np.rint(raw), low, high)))


def _spread_index(n_choices: int, n: int, i: int) -> int:
    """Index of the i-th of ``n`` choices spread over the list (n = 1: the middle one)."""
    if n >= n_choices:
        return i
    if n == 1:
        return (n_choices - 1) // 2
    return math.floor(i * (n_choices - 1) / (n - 1) + 0.5)  # distinct: the spacing is >= 1


def _tidy_linear(v: float, p: Any, k: int) -> float:
    """Round to a hundredth of the spacing between centres: distinct, inside the range, readable."""
    spacing = p.high / k - p.low / k
    if not (spacing > 0 and math.isfinite(spacing)):
        return float(v)
    return float(round(v, 2 - math.floor(math.log10(spacing))))


def _tidy_log(v: float, p: Any, k: int) -> float:
    """Round to enough significant digits (at least 3) that neighbouring log centres stay distinct."""
    r = (math.log(p.high) - math.log(p.low)) / k
    digits = max(3, 2 - math.floor(math.log10(r))) if r > 0 else 17
    return float(f"{v:.{min(digits, 17)}g}")


def _tidy_step(v: float, p: Any) -> float:
    """Remove float noise (0.30000000000000004) well below the step."""
    return float(round(v, max(0, 6 - math.floor(math.log10(p.step)))))


# ---------------------------------------------------------------------------
# points from indices, and the seeded order


class Grid:
    """The points grid search runs, conditional parameters included, each computed from its index.

    Without conditions this is the product of the axes in ``itertools.product``
    order (:func:`grid_point`). With them, the grid is a list of *blocks*: one
    per distinct assignment of the parents (the categoricals some ``when``
    names) that exist under it; a block is the product of the other axes that
    exist under that assignment. So ``momentum`` (when optimizer is sgd or
    momentum) multiplies only the sgd and momentum points, and an absent
    parameter never duplicates a point. Index -> block by bisection over the
    blocks' offsets, then mixed radix within the block.

    The budget split (:func:`grid_counts`) sizes the grid as a full product
    first, then adds points while this grid still fits the budget.
    """

    def __init__(self, space: Mapping[str, Any], axes: Mapping[str, Axis]) -> None:
        self.axes = dict(axes)
        parents = [n for n in parent_names(space) if n in self.axes]
        blocks: list[tuple[dict[str, Any], list[str]]] = []
        if not has_conditions(space):
            blocks.append(({}, list(self.axes)))
        else:
            seen = set()
            for combo in itertools.product(*(range(self.axes[p].count) for p in parents)):
                fixed = active(space, {p: self.axes[p].value(i) for p, i in zip(parents, combo, strict=True)})
                key = tuple((k, type(v).__name__, v) for k, v in fixed.items())
                if key in seen:  # a parent that does not exist here: the same point as another combo
                    continue
                seen.add(key)
                free = [n for n in self.axes if n not in parents and holds(space[n], fixed)]
                blocks.append((fixed, free))
        self._blocks = blocks
        sizes = [math.prod(self.axes[n].count for n in free) for _, free in blocks]
        self._offsets = list(itertools.accumulate(sizes, initial=0))
        self.size = self._offsets[-1]

    def point(self, index: int) -> dict[str, Any]:
        """Grid point number ``index``: the parameters that exist there, in the axes' order."""
        if not 0 <= index < self.size:
            raise IndexError(f"grid index {index} outside 0..{self.size - 1}")
        b = bisect.bisect_right(self._offsets, index) - 1
        fixed, free = self._blocks[b]
        local = index - self._offsets[b]
        values = dict(fixed)
        for name in reversed(free):
            local, digit = divmod(local, self.axes[name].count)
            values[name] = self.axes[name].value(digit)
        return {name: values[name] for name in self.axes if name in values}


def grid_point(axes: Mapping[str, Axis], index: int) -> dict[str, Any]:
    """Grid point number ``index`` in ``itertools.product`` order (mixed radix, last axis fastest)."""
    size = math.prod(a.count for a in axes.values())
    if not 0 <= index < size:
        raise IndexError(f"grid index {index} outside 0..{size - 1}")
    digits = {}
    for name in reversed(list(axes)):
        index, digits[name] = divmod(index, axes[name].count)
    return {name: axes[name].value(digits[name]) for name in axes}


def grid_digit(axes: Mapping[str, Axis], index: int, name: str) -> int:
    """The index along axis ``name`` of grid point ``index`` (one division, one modulo)."""
    stride = 1
    for other in reversed(list(axes)):
        if other == name:
            return (index // stride) % axes[name].count
        stride *= axes[other].count
    raise KeyError(name)


class GridOrder:
    """A seeded uniform random permutation of 0..size-1.

    Up to :data:`GRID_CAP` points (every grid search hpsearch runs) it is a
    NumPy permutation drawn from a generator seeded with (seed, size), made
    once and kept. A Feistel network on a few bits is far from uniform: for
    size 8 over 4,000 seeds, which point each slot ran gave chi-square
    p = 6e-13 (this permutation: p = 0.87).

    Larger sizes (only reachable through this class directly) are permuted
    one index at a time: a 4-round Feistel network (round function: BLAKE2b keyed by the seed and
    the round) permutes the integers below the smallest even power of two
    >= size; an index whose image falls outside 0..size-1 is mapped again
    ("cycle walking") until it falls inside. The result is a permutation of
    0..size-1 (Black & Rogaway 2002), pseudo-random by Luby & Rackoff (1988),
    with an expected < 4 network evaluations per index, whatever the size.
    Slot k of a grid study runs grid point ``order(k)``: a truncated grid is a
    seeded random subset, and every point runs once however many workers ask.
    """

    ROUNDS = 4

    def __init__(self, size: int, seed: int) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = int(size)
        self._seed = int(seed)
        bits = max(2, (self.size - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._nbytes = (self._half + 7) // 8 or 1
        self._keys = [
            hashlib.blake2b(f"hpsearch-grid:{int(seed)}:{r}".encode(), digest_size=16).digest()
            for r in range(self.ROUNDS)
        ]

    def _round(self, key: bytes, x: int) -> int:
        digest = hashlib.blake2b(x.to_bytes(self._nbytes, "little"), digest_size=8, key=key).digest()
        return int.from_bytes(digest, "little") & self._mask

    def _network(self, x: int) -> int:
        left, right = x >> self._half, x & self._mask
        for key in self._keys:
            left, right = right, left ^ self._round(key, right)
        return (left << self._half) | right

    def __call__(self, i: int) -> int:
        if not 0 <= i < self.size:
            raise IndexError(f"index {i} outside 0..{self.size - 1}")
        if self.size <= GRID_CAP:
            return int(_small_permutation(self.size, self._seed)[i])
        x = self._network(i)
        while x >= self.size:
            x = self._network(x)
        return x


@functools.lru_cache(maxsize=16)
def _small_permutation(size: int, seed: int) -> np.ndarray:
    """The uniform permutation GridOrder uses up to GRID_CAP points (read-only, shared)."""
    perm = np.random.default_rng(np.random.SeedSequence([seed, size, _PRIORITY_KEY])).permutation(size)
    perm.flags.writeable = False
    return perm
