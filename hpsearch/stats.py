"""Pure statistics behind the comparison report: plain arrays in, arrays out.

Everything here is a function of NumPy arrays (no Optuna, no plotting), so each
formula can be checked by hand on small inputs. The rules follow SCIENCE.md:

* the unit is a study *repeat*: curves are summarised by median and IQR over
  repeats on a common x-grid;
* the expected maximum of n draws (Dodge et al. 2019) uses the unbiased
  without-replacement estimator of Tang et al. 2020, and is only meaningful for
  independent draws (random / quasi-random search), never for TPE or a grid;
* significance is pairwise on final best values: a rank test plus a seeded
  bootstrap interval on the difference of medians.

``direction`` is ``"maximize"`` or ``"minimize"`` throughout. Missing values
(pruned or diverged trials) are NaN: they use up budget but never improve the
incumbent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import stats as _sps
from scipy.special import gammaln

Direction = Literal["maximize", "minimize"]


def _sign(direction: str) -> float:
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return 1.0 if direction == "maximize" else -1.0


def incumbent(values: Sequence[float], direction: Direction) -> np.ndarray:
    """Best-so-far value after each trial (NaN until the first finite value).

    Why NaN-aware: pruned and diverged trials consume budget (they advance the
    x-axis) but carry no comparable value, so they must not move the curve.
    """
    v = np.asarray(values, dtype=float) * _sign(direction)
    v = np.where(np.isfinite(v), v, -np.inf)
    best = np.maximum.accumulate(v) if v.size else v
    best = np.where(np.isneginf(best), np.nan, best)
    return best * _sign(direction)


def incumbent_on_grid(
    x: Sequence[float], values: Sequence[float], grid: Sequence[float], direction: Direction
) -> np.ndarray:
    """Best value among trials with ``x_i <= g`` for each grid point ``g``.

    ``x`` is any monotone cost of the trials in order (trial count, cumulative
    seconds, cumulative epochs); resampling every repeat on the same grid is
    what makes a median over repeats meaningful when their costs differ.
    """
    x = np.asarray(x, dtype=float)
    best = incumbent(values, direction)
    grid = np.asarray(grid, dtype=float)
    if x.size == 0:
        return np.full(grid.shape, np.nan)
    order = np.argsort(x, kind="stable")
    if not np.all(order == np.arange(x.size)):
        # costs not monotone: recompute the incumbent in cost order
        best = incumbent(np.asarray(values, dtype=float)[order], direction)
        x = x[order]
    idx = np.searchsorted(x, grid, side="right") - 1
    out = np.full(grid.shape, np.nan)
    ok = idx >= 0
    out[ok] = best[idx[ok]]
    return out


def median_iqr(
    curves: np.ndarray, direction: Direction | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 25th and 75th percentile over repeats (rows).

    With ``direction``, a NaN (that repeat has no result yet at this budget)
    counts as the worst possible value: otherwise the median of the repeats
    that *have* a result could fall as slower repeats catch up, drawing a
    best-so-far curve that goes down. A quantile that depends on such a missing
    value is NaN. Without ``direction`` NaN is simply ignored.
    """
    c = np.atleast_2d(np.asarray(curves, dtype=float))
    out = np.full((3, c.shape[1]), np.nan)
    has = np.any(np.isfinite(c), axis=0)
    if not np.any(has):
        return out[0], out[1], out[2]
    if direction is None:
        out[:, has] = np.nanpercentile(c[:, has], [50, 25, 75], axis=0)
        return out[0], out[1], out[2]
    sign = _sign(direction)
    v = c[:, has] * sign
    lowest = np.nanmin(v)
    sentinel = lowest - 1e6 * (np.nanmax(v) - lowest + 1.0)
    q = np.percentile(np.where(np.isfinite(v), v, sentinel), [50, 25, 75], axis=0)
    q[q < lowest - 1e-12 * (abs(lowest) + 1)] = np.nan
    out[:, has] = q * sign
    return out[0], out[1], out[2]


def _log_comb(n: np.ndarray | int, k: np.ndarray | int) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def _max_weights(N: int, n: int) -> np.ndarray:
    """P(the largest of n draws without replacement is the i-th smallest), i=1..N."""
    i = np.arange(1, N + 1)
    w = np.zeros(N)
    ok = i >= n
    w[ok] = np.exp(_log_comb(i[ok] - 1, n - 1) - _log_comb(N, n))
    return w


def expected_max(values: Sequence[float], n: int, direction: Direction = "maximize") -> float:
    """Unbiased estimate of E[best of n trials] (Tang et al. 2020).

    E[max of n] = sum_{i>=n} C(i-1, n-1) / C(N, n) * v_(i), with v_(1) <= ... <= v_(N)
    the sorted finite values. For minimisation the same formula runs on -v.
    """
    sign = _sign(direction)
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)] * sign)
    N = v.size
    if not 1 <= n <= N:
        raise ValueError(f"n must be in 1..{N}, got {n}")
    return float(np.dot(_max_weights(N, n), v) * sign)


def expected_max_curve(
    values: Sequence[float], direction: Direction = "maximize"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For n = 1..N: (n, E[best of n], std of the best of n).

    The spread is the standard deviation of the best-of-n under the same
    without-replacement weights (E[m^2] - E[m]^2), i.e. how much one search of
    budget n could vary around the expectation.
    """
    sign = _sign(direction)
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)] * sign)
    N = v.size
    ns = np.arange(1, N + 1)
    mean = np.empty(N)
    std = np.empty(N)
    for j, n in enumerate(ns):
        w = _max_weights(N, int(n))
        m = float(np.dot(w, v))
        var = max(float(np.dot(w, (v - m) ** 2)), 0.0)
        mean[j], std[j] = m * sign, math.sqrt(var)
    return ns, mean, std


def bootstrap_median_diff(
    a: Sequence[float],
    b: Sequence[float],
    *,
    paired: bool = False,
    n_boot: int = 5000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(median(a) - median(b), low, high): percentile bootstrap interval.

    Paired samples (same seeds) are resampled together, so the shared luck of a
    seed cancels; unpaired samples are resampled independently. Seeded, so a
    report is reproducible.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one value")
    if paired and a.size != b.size:
        raise ValueError("paired samples must have equal length")
    rng = np.random.default_rng(seed)
    diff = float(np.median(a) - np.median(b))
    ia = rng.integers(0, a.size, size=(n_boot, a.size))
    ib = ia if paired else rng.integers(0, b.size, size=(n_boot, b.size))
    boots = np.median(a[ia], axis=1) - np.median(b[ib], axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return diff, float(lo), float(hi)


@dataclass(frozen=True)
class RankTest:
    """Result of a two-sample rank test on final best values."""

    name: str  # "Wilcoxon signed-rank" or "Mann-Whitney U"
    statistic: float
    p_value: float


def rank_test(a: Sequence[float], b: Sequence[float], *, paired: bool) -> RankTest:
    """Wilcoxon signed-rank when repeats pair by seed, else Mann-Whitney U (two-sided).

    Identical paired samples (all differences zero) have no evidence of a
    difference: p = 1 rather than scipy's error.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if paired:
        d = a - b
        if not np.any(d != 0):
            return RankTest("Wilcoxon signed-rank", 0.0, 1.0)
        r = _sps.wilcoxon(a, b, zero_method="zsplit", alternative="two-sided")
        return RankTest("Wilcoxon signed-rank", float(r.statistic), float(r.pvalue))
    r = _sps.mannwhitneyu(a, b, alternative="two-sided")
    return RankTest("Mann-Whitney U", float(r.statistic), float(r.pvalue))


def trials_to_match(values: Sequence[float], target: float, direction: Direction) -> int | None:
    """1-based count of trials until the incumbent reaches ``target``; None if never."""
    best = incumbent(values, direction) * _sign(direction)
    hit = np.nonzero(best >= target * _sign(direction))[0]
    return int(hit[0]) + 1 if hit.size else None


def verdict(
    name_a: str,
    name_b: str,
    diff: float,
    lo: float,
    hi: float,
    direction: Direction,
    n_repeats: int,
    p_value: float | None = None,
) -> str:
    """One plain-words sentence on a pairwise difference of median final bests.

    "No evidence" whenever the bootstrap interval covers 0. An interval that
    excludes 0 while the rank test is not significant (common with 2-5 repeats,
    where a paired Wilcoxon test cannot reach p < 0.05) is called weak evidence.
    """
    ci = f"median difference {diff:+.4g}, 95% bootstrap interval [{lo:.4g}, {hi:.4g}]"
    few = f" With only {n_repeats} repeats per arm, treat this as anecdotal." if n_repeats < 5 else ""
    if lo <= 0 <= hi:
        return f"No evidence that {name_a} and {name_b} differ ({ci} covers 0).{few}"
    better = (diff > 0) == (direction == "maximize")
    winner, loser = (name_a, name_b) if better else (name_b, name_a)
    if p_value is not None and p_value >= 0.05:
        return (f"Weak evidence that {winner} found better configurations than {loser}: the {ci} "
                f"excludes 0, but the rank test does not (p = {p_value:.3g}).{few}")
    return f"{winner} found better configurations than {loser} ({ci} excludes 0).{few}"


def fill_worst(values: Sequence[float], worst: float) -> np.ndarray:
    """``values`` with every non-finite entry (pruned, diverged) replaced by ``worst``.

    Why not drop them: a pruned or diverged trial used one trial of the budget.
    Dropping it would make "n trials" mean "n trials that happened to finish",
    and flatter exactly the sampler that wastes most trials.
    """
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v), v, float(worst))


def expected_max_repeats(
    repeats: Sequence[Sequence[float]],
    direction: Direction = "maximize",
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For n = 1..min N_r: (n, mean over repeats of E[best of n], bootstrap low, high).

    Each repeat's curve is Tang et al.'s estimator on that repeat's own values
    (all finite: fill pruned/diverged trials with :func:`fill_worst` first). It
    is exact wherever the first n trials are a uniform without-replacement draw
    from the repeat's values: random search, and a grid run in a seeded
    shuffle of its points. The curves are averaged over repeats (a mean of
    unbiased estimates stays unbiased), and the band is a percentile bootstrap
    over repeats, i.e. how much that average moves with the search luck of
    which repeats were run; unlike +-1 SD of a pooled set it does not shrink to
    nothing at the full budget.
    """
    rows = [np.asarray(r, dtype=float) for r in repeats]
    if not rows or any(r.size == 0 for r in rows):
        raise ValueError("every repeat needs at least one value")
    if not all(np.all(np.isfinite(r)) for r in rows):
        raise ValueError("values must be finite: fill pruned/diverged trials with fill_worst first")
    n_max = min(r.size for r in rows)
    ns = np.arange(1, n_max + 1)
    curves = np.array([[expected_max(r, int(n), direction) for n in ns] for r in rows])
    center = curves.mean(axis=0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(rows), size=(n_boot, len(rows)))
    boots = curves[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha], axis=0)
    return ns, center, lo, hi


def match_summary(counts: Sequence[int | None]) -> tuple[float, int]:
    """(median trials to match, how many repeats reached the target at all).

    A repeat that never matched counts as infinitely many trials, so the median
    is ``inf`` ("not reached") when fewer than half of the repeats matched,
    instead of a median over the lucky ones only.
    """
    if not counts:
        return math.nan, 0
    v = np.array([math.inf if c is None else float(c) for c in counts])
    return float(np.median(v)), int(np.sum(np.isfinite(v)))
