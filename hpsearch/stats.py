"""Pure statistics behind the comparison report: plain arrays in, arrays out.

Everything here is a function of NumPy arrays (no Optuna, no plotting), so each
formula can be checked by hand on small inputs. The rules follow docs/science.md:

* the unit is a study *repeat*: curves are summarised by median and IQR over
  repeats on a common x-grid;
* the expected maximum of n draws (Dodge et al. 2019) uses the unbiased
  without-replacement estimator of Tang et al. 2020, and is only meaningful for
  independent draws (random / quasi-random search), never for TPE or a grid;
* significance is pairwise on final best values: an exact rank test (Wilcoxon
  signed-rank where two arms share randomness and pair by seed, else
  Mann-Whitney), Holm's correction over all pairs, and the Hodges-Lehmann shift
  with a seeded bootstrap interval.

``direction`` is ``"maximize"`` or ``"minimize"`` throughout. Missing values
(pruned or diverged trials) are NaN: they use up budget but never improve the
incumbent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps
from scipy.special import gammaln

from hpsearch import samplers

Direction = Literal["maximize", "minimize"]


def _sign(direction: str) -> float:
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return 1.0 if direction == "maximize" else -1.0


def incumbent(values: npt.ArrayLike, direction: Direction) -> np.ndarray:
    """Best-so-far value after each trial (NaN until the first finite value).

    Why NaN-aware: pruned and diverged trials consume budget (they advance the
    x-axis) but carry no comparable value, so they must not move the curve.
    """
    v = np.asarray(values, dtype=float) * _sign(direction)
    v = np.where(np.isfinite(v), v, -np.inf)
    best = np.maximum.accumulate(v) if v.size else v
    best = np.where(np.isneginf(best), np.nan, best)
    return best * _sign(direction)


def incumbent_on_grid(x: npt.ArrayLike, values: npt.ArrayLike, grid: npt.ArrayLike, direction: Direction) -> np.ndarray:
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


def median_iqr(curves: np.ndarray, direction: Direction | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    nf = np.asarray(n, dtype=float)
    kf = np.asarray(k, dtype=float)
    out: np.ndarray = gammaln(nf + 1) - gammaln(kf + 1) - gammaln(nf - kf + 1)
    return out


def _max_weights(N: int, n: int) -> np.ndarray:
    """P(the largest of n draws without replacement is the i-th smallest), i=1..N."""
    i = np.arange(1, N + 1)
    w = np.zeros(N)
    ok = i >= n
    w[ok] = np.exp(_log_comb(i[ok] - 1, n - 1) - _log_comb(N, n))
    return w


def expected_max(values: npt.ArrayLike, n: int, direction: Direction = "maximize") -> float:
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
    values: npt.ArrayLike, direction: Direction = "maximize"
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


# --- Pairwise tests on final bests (docs/science.md, "The comparison's statistics") ------------


ALPHA = 0.05


def shares_randomness(sampler_a: str, sampler_b: str) -> bool:
    """Whether repeats of two arms with the same seed share random draws (and may be paired).

    The pairing rule: TPE's start-up trials are random search's points when both are seeded
    alike, so repeat k of random and of TPE share their first draws (and the trials' training
    seeds); grid and QMC share nothing with them. Each sampler's flag is in hpsearch.samplers.
    """
    return samplers.shares_randomness(sampler_a, sampler_b)


def _units(values: np.ndarray, scale: float) -> np.ndarray:
    """Values as integers in units of 1e-9 * scale, so float noise neither breaks ties nor hides zeros.

    Why: accuracies are multiples of 1/n_val, but 0.97 - 0.96 and 0.98 - 0.97 differ in
    the last bits; a rank test must see them as tied.
    """
    return np.round(values / (1e-9 * scale))


def _scale(*arrays: np.ndarray) -> float:
    m = max((float(np.max(np.abs(x))) for x in arrays if x.size), default=0.0)
    return m if m > 0 else 1.0


def wilcoxon_exact(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[float, float]:
    """(T+, two-sided p) of the exact Wilcoxon signed-rank test on pairs (a_i, b_i).

    Zero differences are dropped (Wilcoxon's rule); tied |differences| get mid-ranks
    and the null distribution is enumerated exactly over all 2^n sign assignments of
    those ranks (a dynamic programme over half-rank sums), so ties cost no accuracy.
    p = min(1, 2 * min(P(T >= t), P(T <= t))): 2 / 2^n at best, whatever the data.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired samples must have equal length")
    d = _units(a - b, _scale(a, b))
    d = d[d != 0]
    if d.size == 0:
        return 0.0, 1.0
    ranks2 = np.rint(2 * _sps.rankdata(np.abs(d))).astype(int)  # half-ranks as integers
    t2 = int(ranks2[d > 0].sum())
    counts = np.zeros(int(ranks2.sum()) + 1)
    counts[0] = 1.0
    for r in ranks2:
        counts[r:] = counts[r:] + counts[: counts.size - r].copy()
    total = counts.sum()
    upper = counts[t2:].sum() / total
    lower = counts[: t2 + 1].sum() / total
    return t2 / 2, float(min(1.0, 2 * min(upper, lower)))


def mann_whitney_exact(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[float, float]:
    """(U of a, two-sided p) of the exact Mann-Whitney U (rank-sum permutation) test.

    Ties get mid-ranks; the null distribution of a's rank sum is enumerated exactly
    over all C(n_a + n_b, n_a) ways to choose a's positions (a dynamic programme over
    half-rank sums), so ties are handled exactly too. Best possible p: 2 / C(n_a + n_b, n_a).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one value")
    pooled = _units(np.concatenate([a, b]), _scale(a, b))
    ranks2 = np.rint(2 * _sps.rankdata(pooled)).astype(int)
    n1 = a.size
    r2 = int(ranks2[:n1].sum())
    size = int(ranks2.sum()) + 1
    ways = np.zeros((n1 + 1, size))  # ways[k, s]: k items chosen with half-rank sum s
    ways[0, 0] = 1.0
    for r in ranks2:
        ways[1:, r:] = ways[1:, r:] + ways[:-1, : size - r].copy()
    dist = ways[n1]
    total = dist.sum()
    upper = dist[r2:].sum() / total
    lower = dist[: r2 + 1].sum() / total
    u = r2 / 2 - n1 * (n1 + 1) / 2
    return float(u), float(min(1.0, 2 * min(upper, lower)))


def min_p_value(n_a: int, n_b: int, *, paired: bool) -> float:
    """The smallest two-sided p the exact test can give with these repeats.

    Paired (Wilcoxon, n pairs): 2 / 2^n, e.g. 0.0625 at n = 5 and 0.002 at n = 10.
    Unpaired (Mann-Whitney): 2 / C(n_a + n_b, n_a), e.g. 0.0079 at 5 + 5.
    """
    if paired:
        return min(1.0, 2.0 / 2.0**n_a)
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's (1979) step-down adjusted p-values, in the input order.

    The k-th smallest of m p-values is multiplied by (m - k + 1), then made
    non-decreasing in that order and capped at 1: the family-wise error rate
    over all pairs stays at the nominal level without Bonferroni's cost.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    out = np.empty(m)
    running = 0.0
    for k, i in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (m - k) * p[i]))
        out[i] = running
    return out.tolist()


def hodges_lehmann(a: npt.ArrayLike, b: npt.ArrayLike, *, paired: bool) -> float:
    """Hodges-Lehmann shift of a over b: the estimate that matches the rank test used.

    Paired: median of the Walsh averages (d_i + d_j) / 2, i <= j, of d = a - b.
    Unpaired: median of all differences a_i - b_j.
    """
    return float(_hl_rows(np.asarray(a, dtype=float)[None, :], np.asarray(b, dtype=float)[None, :], paired)[0])


def _hl_rows(a: np.ndarray, b: np.ndarray, paired: bool) -> np.ndarray:
    """Hodges-Lehmann shift of each row pair (a[r], b[r])."""
    if paired:
        d = a - b
        i, j = np.triu_indices(d.shape[1])
        return np.asarray(np.median((d[:, i] + d[:, j]) / 2, axis=1))
    diffs = a[:, :, None] - b[:, None, :]
    return np.asarray(np.median(diffs.reshape(a.shape[0], -1), axis=1))


def bootstrap_hl_interval(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    paired: bool,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the Hodges-Lehmann shift (seeded: reports are reproducible).

    Paired repeats are resampled together, so the luck a seed shares between arms
    cancels; unpaired ones independently.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one value")
    if paired and a.size != b.size:
        raise ValueError("paired samples must have equal length")
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, a.size, size=(n_boot, a.size))
    ib = ia if paired else rng.integers(0, b.size, size=(n_boot, b.size))
    boots = _hl_rows(a[ia], b[ib], paired)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PairTest:
    """One pair of arms compared on final bests; ``diff > 0`` means a is better.

    ``wins`` / ``losses`` count repeats where a beat / lost to b (paired), or repeat
    pairings (a_i, b_j) where it did, ties counting one half each (unpaired);
    ``out_of`` is the number of repeats (paired) or pairings (unpaired).
    """

    diff: float
    ci: tuple[float, float]
    method: str  # "wilcoxon" (paired by seed) | "mann-whitney" (unpaired)
    p: float
    min_p: float
    wins: float
    losses: float
    n_a: int
    n_b: int

    @property
    def paired(self) -> bool:
        return self.method == "wilcoxon"

    @property
    def out_of(self) -> int:
        return self.n_a if self.paired else self.n_a * self.n_b


def compare_pair(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    paired: bool,
    direction: Direction,
    seed: int = 0,
) -> PairTest:
    """Exact rank test, Hodges-Lehmann shift and bootstrap interval for arms a and b.

    Values are oriented by ``direction`` first, so a positive shift always means a
    is better (for a loss: a is lower).
    """
    sign = _sign(direction)
    xa = np.asarray(a, dtype=float) * sign
    xb = np.asarray(b, dtype=float) * sign
    if xa.size < 1 or xb.size < 1:
        raise ValueError("both arms need at least one repeat with a result")
    if paired:
        _, p = wilcoxon_exact(xa, xb)
        d = _units(xa - xb, _scale(xa, xb))
        wins, losses = float(np.sum(d > 0)), float(np.sum(d < 0))
    else:
        _, p = mann_whitney_exact(xa, xb)
        u = _units(np.concatenate([xa, xb]), _scale(xa, xb))
        ua, ub = u[: xa.size, None], u[None, xa.size :]
        ties = 0.5 * float(np.sum(ua == ub))
        wins, losses = float(np.sum(ua > ub)) + ties, float(np.sum(ua < ub)) + ties
    lo, hi = bootstrap_hl_interval(xa, xb, paired=paired, seed=seed)
    return PairTest(
        diff=hodges_lehmann(xa, xb, paired=paired),
        ci=(lo, hi),
        method="wilcoxon" if paired else "mann-whitney",
        p=p,
        min_p=min_p_value(xa.size, xb.size, paired=paired),
        wins=wins,
        losses=losses,
        n_a=int(xa.size),
        n_b=int(xb.size),
    )


def better_arm(p_holm: float, ci: Sequence[float], alpha: float = ALPHA) -> str | None:
    """ "a" or "b" only with evidence (Holm p below alpha AND an interval excluding 0), else None."""
    if not p_holm < alpha:
        return None
    lo, hi = ci
    if lo > 0:
        return "a"
    if hi < 0:
        return "b"
    return None


def repeats_needed(n_pairs: int, *, alpha: float = ALPHA) -> int:
    """Fewest paired repeats n at which an exact Wilcoxon can reach p_holm < alpha over n_pairs pairs.

    Holm multiplies the smallest p by the number of pairs, so the design needs
    n_pairs * 2 / 2^n < alpha.
    """
    n = 1
    while max(1, n_pairs) * min_p_value(n, n, paired=True) >= alpha:
        n += 1
    return n


def trials_to_match(values: npt.ArrayLike, target: float, direction: Direction) -> int | None:
    """1-based count of trials until the incumbent reaches ``target``; None if never."""
    best = incumbent(values, direction) * _sign(direction)
    hit = np.nonzero(best >= target * _sign(direction))[0]
    return int(hit[0]) + 1 if hit.size else None


def fill_worst(values: npt.ArrayLike, worst: float) -> np.ndarray:
    """``values`` with every non-finite entry (pruned, diverged) replaced by ``worst``.

    Why not drop them: a pruned or diverged trial used one trial of the budget.
    Dropping it would make "n trials" mean "n trials that happened to finish",
    and flatter exactly the sampler that wastes most trials.
    """
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v), v, float(worst))


def expected_max_repeats(
    repeats: Sequence[npt.ArrayLike],
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
