"""Pareto statistics of several objectives: dominance ranks, exact hypervolume, one scale, a reference point.

Why a module of its own: the report (front, ranks, hypervolume over trials),
the comparison (each repeat's hypervolume) and the ground-truth benchmark
(regret against a table's true front) must count dominance and volume the same
way, and Optuna's own hypervolume code is private API.

Conventions, said once:

* every function takes points as an ``(n, m)`` array and ``directions`` (one
  ``"minimize"``/``"maximize"`` per objective) and works internally on
  **minimised** coordinates (a maximised objective is negated), so "a
  dominates b" means a is no worse on every objective and better on one;
* exact duplicates do not dominate each other: they share a rank;
* non-finite points (NaN, inf) are no result and get rank -1 and no volume;
* the hypervolume is the Lebesgue measure of the region that the points
  dominate and that dominates the reference point; points that do not beat the
  reference on every objective add nothing. It is exact in every dimension:
  a sweep in 2-D, slicing along the last objective above that (3-D costs
  O(n^2 log n), fine for the fronts of a study);
* :class:`Scale` maps each objective onto [0, 1] (0 its best, 1 its worst value
  among the points it was fitted on), so that seconds and accuracy weigh alike;
  its reference point is 1 + :data:`REFERENCE_MARGIN` on every objective, so
  the extreme points of a front still add volume.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: How far past the worst value (in units of each objective's range) the reference point lies.
REFERENCE_MARGIN = 0.1


def _signs(directions: Sequence[str]) -> np.ndarray:
    out = []
    for d in directions:
        name = str(getattr(d, "name", d)).lower()
        if name not in ("minimize", "maximize"):
            raise ValueError(f"direction: expected 'minimize' or 'maximize', got {d!r}")
        out.append(1.0 if name == "minimize" else -1.0)
    return np.array(out, dtype=float)


def minimised(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[str]) -> np.ndarray:
    """The points with every maximised objective negated: smaller is better on every column."""
    p = np.asarray(points, dtype=float)
    if p.ndim != 2:
        p = p.reshape(-1, len(directions))
    if p.shape[1] != len(directions):
        raise ValueError(f"points have {p.shape[1]} objectives, directions {len(directions)}")
    return p * _signs(directions)


def dominates(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float], directions: Sequence[str]) -> bool:
    """Whether point ``a`` dominates point ``b`` (no worse on every objective, better on one)."""
    x = minimised(np.asarray(a, dtype=float)[None, :], directions)[0]
    y = minimised(np.asarray(b, dtype=float)[None, :], directions)[0]
    return bool(np.all(x <= y) and np.any(x < y))


def _ranks_minimised(p: np.ndarray) -> np.ndarray:
    """Non-dominated ranks (0 = front) of finite, unique, minimised points.

    Points are visited in lexicographic order, so only an earlier point can
    dominate a later one; a point's rank is the first front none of whose
    members dominates it, and since every member of front k+1 is dominated by
    one of front k, "some member dominates" is monotone in k: a binary search
    over the fronts finds it.
    """
    n, m = p.shape
    ranks = np.zeros(n, dtype=int)
    if n == 0:
        return ranks
    order = np.lexsort(p.T[::-1])
    if m == 2:  # each front's smallest second coordinate decides, and it grows with the rank
        tails: list[float] = []
        for i in order:
            k = bisect.bisect_right(tails, p[i, 1])
            if k == len(tails):
                tails.append(p[i, 1])
            else:
                tails[k] = p[i, 1]
            ranks[i] = k
        return ranks
    fronts: list[np.ndarray] = []  # each front's members so far, one row per point
    for i in order:
        x = p[i]
        lo, hi = 0, len(fronts)
        while lo < hi:  # first front none of whose members dominates x (unique points: <= is domination)
            mid = (lo + hi) // 2
            if np.any(np.all(fronts[mid] <= x, axis=1)):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(fronts):
            fronts.append(x[None, :])
        else:
            fronts[lo] = np.vstack([fronts[lo], x])
        ranks[i] = lo
    return ranks


def nondominated_ranks(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[str]) -> np.ndarray:
    """Each point's non-dominated rank: 0 for the Pareto front, 1 for the front once that is removed, ...;
    -1 for a point with a non-finite value (no result)."""
    p = minimised(points, directions)
    out = np.full(len(p), -1, dtype=int)
    ok = np.all(np.isfinite(p), axis=1)
    if not ok.any():
        return out
    unique, inverse = np.unique(p[ok], axis=0, return_inverse=True)
    out[ok] = _ranks_minimised(unique)[inverse.reshape(-1)]
    return out


def front_mask(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[str]) -> np.ndarray:
    """Which points are on the Pareto front (rank 0)."""
    return nondominated_ranks(points, directions) == 0


def _hv2(p: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by minimised 2-D points that all beat ``ref``."""
    order = np.lexsort((p[:, 1], p[:, 0]))
    area, y_top = 0.0, float(ref[1])
    for x, y in p[order]:
        if y < y_top:
            area += (float(ref[0]) - float(x)) * (y_top - float(y))
            y_top = float(y)
    return area


def _hv(p: np.ndarray, ref: np.ndarray) -> float:
    """Exact volume dominated by minimised points that all beat ``ref`` (slicing along the last objective)."""
    m = p.shape[1]
    if len(p) == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - p[:, 0].min())
    if m == 2:
        return _hv2(p, ref)
    order = np.argsort(p[:, -1], kind="stable")
    p = p[order]
    volume = 0.0
    for i in range(len(p)):
        upper = float(p[i + 1, -1]) if i + 1 < len(p) else float(ref[-1])
        depth = upper - float(p[i, -1])
        if depth > 0:  # the slab between this point's last coordinate and the next: the points so far
            volume += depth * _hv(_front_only(p[: i + 1, :-1]), ref[:-1])
    return volume


def _front_only(p: np.ndarray) -> np.ndarray:
    """The non-dominated unique rows of minimised points (dominated ones add no volume, only time)."""
    if len(p) <= 1:
        return p
    unique = np.unique(p, axis=0)
    return unique[_ranks_minimised(unique) == 0]


def hypervolume(
    points: np.ndarray | Sequence[Sequence[float]], reference: Sequence[float], directions: Sequence[str]
) -> float:
    """Exact hypervolume of the points against ``reference`` (both in the objectives' own units and
    directions); non-finite points and points not better than the reference on every objective add nothing."""
    p = minimised(points, directions)
    ref = minimised([reference], directions)[0]
    if not np.all(np.isfinite(ref)):
        raise ValueError(f"reference point must be finite, got {list(reference)}")
    keep = np.all(np.isfinite(p), axis=1) & np.all(p < ref, axis=1)
    return _hv(_front_only(p[keep]), ref)


def hypervolume_history(
    points: np.ndarray | Sequence[Sequence[float]], reference: Sequence[float], directions: Sequence[str]
) -> np.ndarray:
    """The hypervolume of the first 1, 2, ... points (in order): the front's growth over trials."""
    p = minimised(points, directions)
    ref = minimised([reference], directions)[0]
    out = np.zeros(len(p))
    front = np.empty((0, p.shape[1]))
    current = 0.0
    for i, x in enumerate(p):
        if np.all(np.isfinite(x)) and np.all(x < ref) and not np.any(np.all(front <= x, axis=1)):
            front = np.vstack([front[~np.all(x <= front, axis=1)], x])
            current = _hv(front, ref)
        out[i] = current
    return out


@dataclass(frozen=True)
class Scale:
    """Each objective onto [0, 1] in minimised form: 0 at the best value seen when fitted, 1 at the worst.

    Fitted once on every point that should share the scale (all arms' trials
    of a comparison, before anyone looks at their differences), so that every
    front is measured with the same ruler. An objective whose values are all
    equal gets range 1 (it then separates nothing).
    """

    directions: tuple[str, ...]
    best: tuple[float, ...]  # in the objectives' own units
    worst: tuple[float, ...]

    @classmethod
    def fit(cls, points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[str]) -> Scale:
        dirs = tuple(str(getattr(d, "name", d)).lower() for d in directions)
        p = minimised(points, dirs)
        p = p[np.all(np.isfinite(p), axis=1)]
        if len(p) == 0:
            raise ValueError("no point with finite values to fit a scale on")
        signs = _signs(dirs)
        return cls(dirs, tuple(map(float, p.min(axis=0) * signs)), tuple(map(float, p.max(axis=0) * signs)))

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        signs = _signs(self.directions)
        lo = np.array(self.best) * signs
        span = np.array(self.worst) * signs - lo
        return lo, np.where(span > 0, span, 1.0)

    def normalise(self, points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        """Points on the [0, 1] scale, minimised (values outside the fitted range fall outside [0, 1])."""
        lo, span = self._bounds()
        return (minimised(points, self.directions) - lo) / span

    def reference(self) -> list[float]:
        """The reference point in the objectives' own units: each worst value plus the margin of its range."""
        lo, span = self._bounds()
        return [float(v) for v in (lo + (1 + REFERENCE_MARGIN) * span) * _signs(self.directions)]

    def hypervolume(self, points: np.ndarray | Sequence[Sequence[float]]) -> float:
        """Hypervolume on the normalised scale against the normalised reference point: at most
        (1 + margin)^m, reached only by a point at the best value of every objective at once."""
        m = len(self.directions)
        return hypervolume(self.normalise(points), [1 + REFERENCE_MARGIN] * m, ["minimize"] * m)
