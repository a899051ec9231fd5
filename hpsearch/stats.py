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

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from hpsearch import rank_tests, samplers

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


def focus_range(curves: Sequence[Sequence[float] | np.ndarray], pad: float = 0.08) -> list[float] | None:
    """A y range for best-so-far curves that shows where they differ: every curve after its first
    quarter, padded by ``pad`` of the span; None when that leaves less than two distinct values.

    Early trials (a diverging learning rate, an untrained first guess) sit far
    below where samplers differ; autoscaling to them squashes the interesting
    part into a line near the top. The report and the dashboard both zoom with this.
    """
    tails = [np.asarray(c, dtype=float)[len(c) // 4 :] for c in curves if len(c)]
    vals = np.concatenate(tails) if tails else np.array([])
    vals = vals[np.isfinite(vals)]
    if vals.size < 2 or np.ptp(vals) == 0:
        return None
    lo, hi = float(vals.min()), float(vals.max())
    return [lo - pad * (hi - lo), hi + pad * (hi - lo)]


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


def _pair_scales(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each paired difference's scale for the tie tolerance: the larger magnitude of its two values."""
    scales: np.ndarray = np.maximum(np.abs(a), np.abs(b))
    return scales


def _tied(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether values tie under the relative tolerance (hpsearch.rank_tests), elementwise."""
    tied: np.ndarray = np.abs(x - y) <= rank_tests.REL_TOL * np.maximum(np.abs(x), np.abs(y))
    return tied


def wilcoxon_exact(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[float, float]:
    """(T+, two-sided p) of the exact Wilcoxon signed-rank test on pairs (a_i, b_i).

    Zero differences are dropped (Wilcoxon's rule); tied |differences| get mid-ranks
    and the null distribution is enumerated exactly over all 2^n sign assignments of
    those ranks, so ties cost no accuracy. Ties and zeros are judged with a relative
    tolerance per pair (hpsearch.rank_tests): float noise neither breaks ties nor hides
    zeros, and one large value elsewhere does not make small differences vanish.
    p = min(1, 2 * min(P(T >= t), P(T <= t))): 2 / 2^n at best, n the non-zero pairs.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired samples must have equal length")
    test = rank_tests.signed_rank(a - b, _pair_scales(a, b))
    return test.t_plus, test.p


def mann_whitney_exact(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[float, float]:
    """(U of a, two-sided p) of the exact Mann-Whitney U (rank-sum permutation) test.

    Ties (relative tolerance, hpsearch.rank_tests) get mid-ranks; the null distribution
    of a's rank sum is enumerated exactly over all C(n_a + n_b, n_a) ways to choose a's
    positions (a dynamic programme over half-rank sums), so ties are handled exactly
    too. Best possible p: 2 / C(n_a + n_b, n_a).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one value")
    pooled = np.concatenate([a, b])
    ranks2 = np.rint(2 * rank_tests.tie_midranks(pooled, np.abs(pooled))).astype(int)
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

    Superseded by :func:`compare_family`, which decides all pairs together: its
    interval comes from the test it sits beside, at the Holm-matched level, its
    unpaired test does not assume equal spreads, and its ``min_p`` counts only
    the non-zero differences (this one counts every pair).

    Values are oriented by ``direction`` first, so a positive shift always means a
    is better (for a loss: a is lower).
    """
    sign = _sign(direction)
    xa = np.asarray(a, dtype=float) * sign
    xb = np.asarray(b, dtype=float) * sign
    if xa.size < 1 or xb.size < 1:
        raise ValueError("both arms need at least one repeat with a result")
    _, p = wilcoxon_exact(xa, xb) if paired else mann_whitney_exact(xa, xb)
    min_p = min_p_value(xa.size, xb.size, paired=paired)
    wins, losses = _wins_losses(xa, xb, paired)
    lo, hi = bootstrap_hl_interval(xa, xb, paired=paired, seed=seed)
    return PairTest(
        diff=hodges_lehmann(xa, xb, paired=paired),
        ci=(lo, hi),
        method="wilcoxon" if paired else "mann-whitney",
        p=p,
        min_p=min_p,
        wins=wins,
        losses=losses,
        n_a=int(xa.size),
        n_b=int(xb.size),
    )


def _wins_losses(xa: np.ndarray, xb: np.ndarray, paired: bool) -> tuple[float, float]:
    """Repeats (paired) or repeat pairings (unpaired, ties half each) where oriented a beat / lost to b."""
    if paired:
        tie = _tied(xa, xb)
        return float(np.sum((xa > xb) & ~tie)), float(np.sum((xa < xb) & ~tie))
    ua, ub = xa[:, None], xb[None, :]
    tie = _tied(ua, ub)
    half = 0.5 * float(np.sum(tie))
    return float(np.sum((ua > ub) & ~tie)) + half, float(np.sum((ua < ub) & ~tie)) + half


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


@dataclass(frozen=True)
class FamilyPair:
    """One pair of a comparison, decided together with all the others (see :func:`compare_family`).

    Values are oriented by ``direction`` first: ``diff > 0`` means a is better.
    """

    diff: float  # Hodges-Lehmann shift of a over b
    ci: tuple[float, float]  # shifts the test does not reject at ci_level (may be +-inf)
    ci_open: tuple[bool, bool]  # a bound that is itself rejected, e.g. (0, 0.004]
    ci_level: float  # confidence of the interval: 1 - alpha / k, k the Holm step it was tested at
    method: str  # "wilcoxon" (paired by seed) | "brunner-munzel" (unpaired)
    p: float  # raw two-sided p
    p_holm: float  # Holm's step-down p over all pairs of the comparison
    min_p: float  # smallest raw p this design (and these zeros/ties) can give
    better: str | None  # "a", "b" or None
    wins: float
    losses: float
    n_a: int
    n_b: int
    n_used: int  # paired: the non-zero differences the test ranks; unpaired: n_a + n_b
    exact: bool  # p from every sign assignment / split (False: seeded random splits)

    @property
    def paired(self) -> bool:
        return self.method == "wilcoxon"

    @property
    def out_of(self) -> int:
        return self.n_a if self.paired else self.n_a * self.n_b

    @property
    def excludes_zero(self) -> bool:
        """Whether "no difference" lies outside the interval."""
        return not rank_tests.Interval(self.ci[0], self.ci[1], *self.ci_open).contains(0.0)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-able values: an infinite interval bound (too few repeats to bound
        that side) becomes None, since JSON has no infinity."""
        out = dataclasses.asdict(self)
        out["ci"] = [x if math.isfinite(x) else None for x in self.ci]
        out["ci_open"] = list(self.ci_open)
        return out


PairData = tuple[npt.ArrayLike, npt.ArrayLike, bool]  # (a's values, b's values, paired)


def compare_family(
    pairs: Sequence[PairData],
    *,
    direction: Direction,
    alpha: float = ALPHA,
    seed: int = 0,
) -> list[FamilyPair]:
    """Decide every pair of one comparison at once; one :class:`FamilyPair` per input, in order.

    Each input is ``(a, b, paired)``: the arms' per-repeat values (paired: a_i and
    b_i share seed i). For each pair this returns:

    * ``p``: the raw two-sided p of the pair's test. Paired: the exact Wilcoxon
      signed-rank test (zero differences dropped, ties at mid-ranks, ties and
      zeros judged with a relative tolerance per pair of numbers; see
      hpsearch.rank_tests). Unpaired: the studentized permutation Brunner-Munzel
      test, exact over every split for small designs (why not Mann-Whitney: its
      null assumes equal spreads, and a fully enumerated grid is near-constant;
      the argument is in hpsearch.rank_tests.brunner_munzel). Each test needs
      two repeats per arm; with fewer, p = 1.
    * ``p_holm``: Holm's step-down p over all pairs.
    * ``min_p``: the smallest p the test can give here. Paired it counts only the
      non-zero differences the signed-rank test keeps: 4 zeros among 10 pairs
      give 2 / 2^6 = 0.031, not 0.002.
    * ``diff``: the Hodges-Lehmann shift (median of Walsh averages paired, of all
      differences a_i - b_j unpaired), and ``ci``: every shift d that the same
      test does not reject on (a - d, b), at the Holm-matched level. Holm tests
      the pair ranked i (0-based, by raw p) of m at alpha / (m - i) while it
      keeps rejecting; the interval of a pair it rejected has level
      1 - alpha / (m - i). Where Holm stopped (at rank r), every pair from there
      on gets level 1 - alpha / (m - r), the last step it ran. So the interval
      excludes 0 exactly when p_holm < alpha: interval and test cannot disagree.
      Because the statistic is a step function, the interval's ends are Walsh
      averages / pairwise differences, open where that end itself is rejected.
    * ``better``: "a" or "b" only when p_holm < alpha and the interval excludes 0.
    * ``wins`` / ``losses``: repeats (paired) or repeat pairings (unpaired, a tie
      counts one half each) where a beat / lost to b.

    ``FamilyPair.to_dict()`` gives all of it as JSON-able values.
    """
    sign = _sign(direction)
    prepared = []
    for a, b, paired in pairs:
        xa = np.asarray(a, dtype=float) * sign
        xb = np.asarray(b, dtype=float) * sign
        if xa.size < 1 or xb.size < 1:
            raise ValueError("both arms need at least one repeat with a result")
        if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(xb))):
            raise ValueError("values must be finite (fill diverged repeats with the worst value first)")
        if paired and xa.size != xb.size:
            raise ValueError("paired samples must have equal length")
        prepared.append((xa, xb, bool(paired)))
    raw = [_family_test(xa, xb, paired, seed) for xa, xb, paired in prepared]
    p_holm = holm([r[0] for r in raw])
    m = len(raw)
    order = np.argsort([r[0] for r in raw], kind="stable")
    steps = [0] * m  # the Holm divisor k each pair's interval is computed at
    rejected = 0
    for rank, i in enumerate(order):
        if p_holm[i] < alpha:
            rejected = rank + 1
    for rank, i in enumerate(order):
        steps[i] = m - rank if rank < rejected else m - rejected
    out = []
    for (xa, xb, paired), (p, min_p, n_used, exact), ph, k in zip(prepared, raw, p_holm, steps, strict=True):
        interval = _family_interval(xa, xb, paired, k, alpha, seed)
        wins, losses = _wins_losses(xa, xb, paired)
        pair = FamilyPair(
            diff=hodges_lehmann(xa, xb, paired=paired),
            ci=(interval.low, interval.high),
            ci_open=(interval.low_open, interval.high_open),
            ci_level=1.0 - alpha / k,
            method="wilcoxon" if paired else "brunner-munzel",
            p=p,
            p_holm=ph,
            min_p=min_p,
            better=None,
            wins=wins,
            losses=losses,
            n_a=int(xa.size),
            n_b=int(xb.size),
            n_used=n_used,
            exact=exact,
        )
        better = None
        if ph < alpha and pair.excludes_zero:
            better = "a" if interval.low >= 0 else "b"
        out.append(dataclasses.replace(pair, better=better))
    return out


def _family_test(xa: np.ndarray, xb: np.ndarray, paired: bool, seed: int) -> tuple[float, float, int, bool]:
    """(p, min_p, n_used, exact) of the pair's test at shift 0."""
    if paired:
        sr = rank_tests.signed_rank(xa - xb, _pair_scales(xa, xb))
        return sr.p, sr.min_p, sr.n_used, True
    if xa.size < 2 or xb.size < 2:
        return 1.0, 1.0, int(xa.size + xb.size), True
    bm = rank_tests.brunner_munzel(xa, xb, seed=seed)
    return bm.p, bm.min_p, int(xa.size + xb.size), bm.exact


def _family_interval(
    xa: np.ndarray, xb: np.ndarray, paired: bool, k: int, alpha: float, seed: int
) -> rank_tests.Interval:
    """Shifts d the pair's test does not reject on (a - d, b) when tested at alpha / k."""

    def rejected(p: float) -> bool:
        return min(1.0, k * p) < alpha  # the same arithmetic as holm(): no rounding disagreement

    if paired:
        d, scales = xa - xb, _pair_scales(xa, xb)
        return rank_tests.invert(
            lambda s: rejected(rank_tests.signed_rank(d - s, scales).p), rank_tests.walsh_averages(d)
        )
    if xa.size < 2 or xb.size < 2:
        return rank_tests.Interval(-math.inf, math.inf, True, True)
    scales = np.r_[np.abs(xa), np.abs(xb)]
    return rank_tests.invert(
        lambda s: rejected(rank_tests.brunner_munzel(xa - s, xb, seed=seed, scales=scales).p),
        (xa[:, None] - xb[None, :]).ravel(),
    )


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
