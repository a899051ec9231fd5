"""Exact rank tests with tolerant ties, and the shift intervals that invert them.

hpsearch.stats decides a comparison's pairs with these; they live apart because
each is a small, self-contained piece of arithmetic that the tests check against
brute-force enumeration and scipy.

Ties. Final bests are floats computed from counts (accuracies are multiples of
1/n_val), so ``0.97 - 0.96`` and ``0.98 - 0.97`` differ in their last bits and
a rank test must see them as tied. Two numbers x and y tie when
``|x - y| <= REL_TOL * max(scale_x, scale_y)``, where each number's *scale* is
the magnitude of the values it came from: for a paired difference a_i - b_i,
``max(|a_i|, |b_i|)``; for a value, its own magnitude. The tolerance is per pair
of numbers compared, never one scale for the whole sample, so one outlier at
2e6 cannot turn every other difference into a tie. Ties chain through sorted
order (a, b, c tie when a~b and b~c).

Intervals. Each interval is the set of shifts d that the test it sits beside
does not reject on the shifted data (a - d against b): "test inversion". The
test's statistic changes only at the Walsh averages (paired) or at the pairwise
differences a_i - b_j (unpaired, Moses' points), so the test is evaluated at
each such point and at one point inside every gap between two of them; the
interval runs from the lowest to the highest shift not rejected. Where a bound
is a point that is itself rejected (only reached as a limit from inside), it is
*open*, e.g. ``(0, 0.004]``: every positive shift is plausible, 0 is not.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import t as _t_dist

REL_TOL = 1e-9
#: Unpaired permutation tests enumerate every split of the pooled repeats up to this many
#: splits (8 + 8 repeats: 12,870); beyond, they use this many seeded random splits.
EXACT_SPLITS = 20_000
RANDOM_SPLITS = 10_000


# --- ties -----------------------------------------------------------------------------------------


def tie_midranks(values: npt.ArrayLike, scales: npt.ArrayLike) -> np.ndarray:
    """Mid-ranks (1-based) of ``values``, ties judged with the relative tolerance described above."""
    v = np.asarray(values, dtype=float)
    s = np.abs(np.asarray(scales, dtype=float))
    if v.size == 0:
        return np.zeros(0)
    order = np.argsort(v, kind="stable")
    blocks = _blocks(v[order], s[order])
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    sizes = np.diff(np.r_[starts, v.size])
    mid = np.repeat(starts + (sizes + 1) / 2.0, sizes)
    out = np.empty(v.size)
    out[order] = mid
    return out


def _blocks(sorted_values: np.ndarray, sorted_scales: np.ndarray) -> np.ndarray:
    """Block id of each sorted value: a new block wherever the gap exceeds the tolerance."""
    gaps = np.diff(sorted_values) > REL_TOL * np.maximum(sorted_scales[:-1], sorted_scales[1:])
    return np.r_[0, np.cumsum(gaps)]


# --- Wilcoxon signed-rank (paired) ----------------------------------------------------------------


@dataclass(frozen=True)
class SignedRank:
    """The exact signed-rank test on paired differences.

    ``n_used`` counts the non-zero differences, the only ones the test ranks
    (Wilcoxon's rule): its smallest possible p is ``2 / 2**n_used``.
    """

    t_plus: float
    p: float
    n_used: int

    @property
    def min_p(self) -> float:
        return min(1.0, 2.0 / 2.0**self.n_used)


def signed_rank(d: npt.ArrayLike, scales: npt.ArrayLike) -> SignedRank:
    """Exact two-sided Wilcoxon signed-rank test of "differences symmetric about 0".

    Zero differences (``|d_i| <= REL_TOL * scale_i``) are dropped; tied ``|d|``
    get mid-ranks, and the null distribution is enumerated exactly over all
    2^n sign assignments of those ranks (a dynamic programme over half-rank
    sums). p = min(1, 2 * min(P(T >= t), P(T <= t))).
    """
    diffs = np.asarray(d, dtype=float)
    s = np.abs(np.asarray(scales, dtype=float))
    keep = np.abs(diffs) > REL_TOL * s
    diffs, s = diffs[keep], s[keep]
    if diffs.size == 0:
        return SignedRank(0.0, 1.0, 0)
    ranks2 = np.rint(2 * tie_midranks(np.abs(diffs), s)).astype(int)  # half-ranks as integers
    t2 = int(ranks2[diffs > 0].sum())
    counts = _signed_rank_null(tuple(sorted(ranks2.tolist())))
    upper = counts[t2:].sum()
    lower = counts[: t2 + 1].sum()
    return SignedRank(t2 / 2, float(min(1.0, 2 * min(upper, lower))), int(diffs.size))


@functools.lru_cache(maxsize=4096)
def _signed_rank_null(ranks2: tuple[int, ...]) -> np.ndarray:
    """P(2T+ = s) for s = 0..sum(ranks2) when each rank's sign is a fair coin (memoised, read-only:
    the interval evaluates the same tie pattern at many shifts)."""
    counts = np.zeros(sum(ranks2) + 1)
    counts[0] = 1.0
    for r in ranks2:
        counts[r:] = counts[r:] + counts[: counts.size - r].copy()
    dist = counts / counts.sum()
    dist.flags.writeable = False
    return dist


def walsh_averages(d: npt.ArrayLike) -> np.ndarray:
    """All (d_i + d_j) / 2 for i <= j: the points where the signed-rank statistic of d - shift changes."""
    d = np.asarray(d, dtype=float)
    i, j = np.triu_indices(d.size)
    return np.asarray((d[i] + d[j]) / 2)


# --- Brunner-Munzel (unpaired) --------------------------------------------------------------------


@dataclass(frozen=True)
class BrunnerMunzel:
    """The studentized permutation Brunner-Munzel test of P(a > b) + P(a = b) / 2 = 1/2.

    ``statistic`` is scipy.stats.brunnermunzel's W with a as sample 1 (negative
    when a tends to be larger); ``splits`` is how many splits of the pooled
    repeats the permutation distribution used, all of them when ``exact``.
    ``min_p`` is the smallest p this design and tie pattern can give.
    """

    statistic: float
    p: float
    min_p: float
    exact: bool
    splits: int


def brunner_munzel(
    a: npt.ArrayLike, b: npt.ArrayLike, *, seed: int = 0, scales: npt.ArrayLike | None = None
) -> BrunnerMunzel:
    """Brunner-Munzel test, two-sided: p is the larger of its studentized permutation p and its
    t-approximation p (Neubert & Brunner 2007; Brunner & Munzel 2000).

    Why this test for unpaired arms: Mann-Whitney's exact p assumes both arms
    have the same distribution under the null, so it also rejects when only the
    spreads differ. A fully enumerated grid varies across repeats only by
    training noise, and against such a near-constant arm Mann-Whitney rejected
    "neither arm tends to be better" 8.5-9 % of the time at a nominal 5 %.
    Brunner-Munzel's statistic W is studentized by each arm's own rank
    variance, so its null is "P(a > b) = 1/2" whatever the spreads.

    Why the larger of two p-values: permuting W is exact when the arms are
    exchangeable, but with 10 repeats against an arm 10x narrower it still
    rejected 6.1 % (100x narrower: 8.8 %); the t approximation with
    Satterthwaite's degrees of freedom is conservative there (3.8 %, 2.8 %) but
    liberal with equal spreads below ~7 repeats (8.7 % at 5 + 5). The larger p
    is a valid p whenever either one is, so it keeps the permutation test's
    exactness for exchangeable arms and the t test's caution for unequal ones.
    Measured (2,000 null draws each, 10 + 10 repeats, one arm N(0, 1), the
    other N(0, s^2)): s = 1: 4.7 %; s = 0.1: 3.8 %; s = 0: 2.2 %. Known weak
    spot: at 7-8 repeats per arm against an (almost) constant arm the test is
    then in effect a sign test of the other arm against that constant, and its
    discreteness lets 7-11 % through; every test here does (Mann-Whitney: 9-12 %).

    Every split of the pooled repeats is enumerated while there are at most
    EXACT_SPLITS; beyond that RANDOM_SPLITS seeded random splits give
    p = (1 + #{|W*| >= |W|}) / (1 + splits). ``scales`` (a's then b's) are the
    magnitudes the tie tolerance uses; default: the values' own.
    """
    x = np.concatenate([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    n1 = int(np.asarray(a).size)
    mags = np.abs(x) if scales is None else np.abs(np.asarray(scales, dtype=float))
    if n1 < 2 or x.size - n1 < 2:
        raise ValueError("Brunner-Munzel needs at least two repeats in each arm")
    order = np.argsort(x, kind="stable")
    blocks = _blocks(x[order], mags[order])
    in_a = np.zeros((1, x.size), dtype=bool)
    in_a[0, np.argsort(order)[:n1]] = True  # positions of a's values in sorted order
    w, df = _bm_observed(blocks, in_a)
    w_obs = float(w[0])
    p_t = _t_p(w_obs, float(df[0]))
    perm, exact = _bm_null(tuple(blocks.tolist()), n1, seed)
    a_obs = abs(w_obs)
    tol = 1e-9 * max(1.0, a_obs) if math.isfinite(a_obs) else 0.0
    hits = int(np.sum(np.abs(perm) >= a_obs - tol))
    top = float(np.max(np.abs(perm)))
    n_top = int(np.sum(np.abs(perm) >= top - (1e-9 * max(1.0, top) if math.isfinite(top) else 0.0)))
    if exact:
        p, min_p = hits / perm.size, n_top / perm.size
    else:
        p = (1 + hits) / (1 + perm.size)
        min_p = max(1.0 / (1 + perm.size), 2.0 / math.comb(x.size, n1))
    return BrunnerMunzel(w_obs, float(min(1.0, max(p, p_t))), float(min(1.0, min_p)), exact, int(perm.size))


def _t_p(w: float, df: float) -> float:
    """Two-sided p of W under Student's t with Satterthwaite's df (scipy.stats.brunnermunzel's)."""
    if math.isinf(w):
        return 0.0
    if w == 0.0 or not df > 0:
        return 1.0
    return float(2 * _t_dist.sf(abs(w), df))


@functools.lru_cache(maxsize=256)
def _bm_null(blocks: tuple[int, ...], n1: int, seed: int) -> tuple[np.ndarray, bool]:
    """W over every split (or RANDOM_SPLITS seeded ones) of a pooled sample with this tie pattern.

    The statistic depends on the data only through which sorted positions each
    arm holds and which positions tie, so the distribution is memoised (read-only)
    by the tie pattern: an interval evaluates the test at many shifts that share one.
    """
    n = len(blocks)
    block_ids = np.asarray(blocks)
    counts, exact = _splits(n, n1, seed)
    stats = np.concatenate([_bm_statistics(block_ids, c, n1) for c in counts])
    stats.flags.writeable = False
    return stats, exact


@functools.lru_cache(maxsize=16)
def _splits(n: int, n1: int, seed: int) -> tuple[list[np.ndarray], bool]:
    """The splits a permutation test uses, as chunks of rows of running counts (entry j: how many of
    sorted positions 0..j are in a), and whether they are all of them. The same for every tie pattern
    of a design, so made once per (n, n1, seed); each tie pattern then only reads the counts at its
    blocks' ends (see :func:`_bm_statistics`)."""
    exact = math.comb(n, n1) <= EXACT_SPLITS
    if exact:
        rows = np.array(list(itertools.combinations(range(n), n1)), dtype=np.intp).reshape(-1, n1)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([seed, n, n1]))
        rows = np.argsort(rng.random((RANDOM_SPLITS, n)), axis=1)[:, :n1]
    chunks = []
    for start in range(0, rows.shape[0], 4096):
        chunk = rows[start : start + 4096]
        mask = np.zeros((chunk.shape[0], n), dtype=bool)
        np.put_along_axis(mask, chunk, True, axis=1)
        counts = np.cumsum(mask, axis=1, dtype=np.int32)
        counts.flags.writeable = False
        chunks.append(counts)
    return chunks, exact


def _bm_statistics(block_ids: np.ndarray, a_counts: np.ndarray, n1: int) -> np.ndarray:
    """Brunner-Munzel W for each split, given as a row of ``a_counts`` (entry j: how many of sorted
    positions 0..j belong to a).

    Everything is computed per block of tied positions, not per position: all
    members of one arm in one block share a pooled mid-rank, a rank within their
    arm and so a placement, so each block enters the sums with its count of a's
    and b's members. That count is the running count at the block's end minus
    the one before it, which makes one tie pattern cost a few operations on
    (splits x blocks) arrays (the inversion of an interval evaluates hundreds of
    tie patterns, each over every split).

    Pooled mid-ranks come from the blocks; a value's rank within its own arm is
    the count of its arm's members in earlier blocks plus the mid-rank of its
    own block's members. Placement = pooled rank - rank within arm (the number
    of the other arm's values below it, ties counting one half).
    W = n1 n2 (mean R_b - mean R_a) / ((n1 + n2) sqrt(n1 S_a^2 + n2 S_b^2)),
    with S^2 the variance (ddof 1) of an arm's placements; a zero denominator
    gives +-inf (complete separation) or 0 (all tied). The sums run in another
    order than :func:`_bm_observed`'s, so a W may differ from its in the last
    bit; the permutation p counts ``|W*| >= |W| - 1e-9 |W|``, which absorbs that.
    """
    n = block_ids.size
    n2 = n - n1
    starts = np.flatnonzero(np.r_[True, block_ids[1:] != block_ids[:-1]])
    sizes = np.diff(np.r_[starts, n])
    a_end = a_counts[:, starts + sizes - 1].astype(float)  # a's members up to each block's end
    a_in = np.diff(a_end, axis=1, prepend=0.0)  # a's members in each block
    b_in = sizes - a_in
    pooled = starts + (sizes + 1) / 2.0
    place_a = pooled - (a_end - a_in + (a_in + 1) / 2.0)
    place_b = pooled - (starts - (a_end - a_in) + (b_in + 1) / 2.0)
    ra = np.sum(a_in * pooled, axis=1) / n1
    rb = np.sum(b_in * pooled, axis=1) / n2
    pa = np.sum(a_in * place_a, axis=1) / n1
    pb = np.sum(b_in * place_b, axis=1) / n2
    va = np.sum(a_in * (place_a - pa[:, None]) ** 2, axis=1) / (n1 - 1)
    vb = np.sum(b_in * (place_b - pb[:, None]) ** 2, axis=1) / (n2 - 1)
    num = n1 * n2 * (rb - ra)
    den = n * np.sqrt(n1 * va + n2 * vb)
    small = den <= 1e-12 * n1 * n2
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(small, np.where(np.abs(num) <= 1e-9, 0.0, np.sign(num) * np.inf), num / np.where(small, 1, den))
    return np.asarray(w)


def _bm_observed(block_ids: np.ndarray, in_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, Satterthwaite's degrees of freedom) of the observed split (one row of ``in_a``, True: that
    sorted position belongs to a), from per-position ranks: the same formulas as
    :func:`_bm_statistics`, summed position by position. The reported statistic and the t
    approximation's p come from here, so they stay what they were before the null was computed
    per block.
    """
    n = block_ids.size
    starts = np.flatnonzero(np.r_[True, block_ids[1:] != block_ids[:-1]])
    sizes = np.diff(np.r_[starts, n])
    first = np.repeat(starts, sizes)  # first sorted position of each position's block
    last = np.repeat(starts + sizes - 1, sizes)
    pooled = first + (sizes.repeat(sizes) + 1) / 2.0
    n1 = int(in_a[0].sum())
    n2 = n - n1

    def within(member: np.ndarray) -> np.ndarray:
        c = np.cumsum(member, axis=1)
        before = np.where(first > 0, c[:, np.maximum(first - 1, 0)], 0)
        inside = c[:, last] - before
        return before + (inside + 1) / 2.0

    in_b = ~in_a
    place = np.where(in_a, pooled - within(in_a), pooled - within(in_b))
    ra = np.sum(pooled * in_a, axis=1) / n1
    rb = np.sum(pooled * in_b, axis=1) / n2
    pa = np.sum(place * in_a, axis=1) / n1
    pb = np.sum(place * in_b, axis=1) / n2
    va = np.sum(((place - pa[:, None]) ** 2) * in_a, axis=1) / (n1 - 1)
    vb = np.sum(((place - pb[:, None]) ** 2) * in_b, axis=1) / (n2 - 1)
    num = n1 * n2 * (rb - ra)
    den = n * np.sqrt(n1 * va + n2 * vb)
    small = den <= 1e-12 * n1 * n2
    sa, sb = n1 * va, n2 * vb
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(small, np.where(np.abs(num) <= 1e-9, 0.0, np.sign(num) * np.inf), num / np.where(small, 1, den))
        df = (sa + sb) ** 2 / (sa**2 / (n1 - 1) + sb**2 / (n2 - 1))
    return np.asarray(w), np.asarray(df)


# --- test inversion -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A shift interval; a bound is ``open`` when the bound itself is rejected (reached only as a
    limit), and infinite when no shift that far out is rejected (too few repeats to bound it)."""

    low: float
    high: float
    low_open: bool
    high_open: bool

    def contains(self, x: float) -> bool:
        above = x > self.low or (x == self.low and not self.low_open)
        below = x < self.high or (x == self.high and not self.high_open)
        return above and below


def invert(rejects: Callable[[float], bool], jumps: npt.ArrayLike) -> Interval:
    """The hull of the shifts a test does not reject, given the points where its statistic jumps.

    Between two neighbouring jump points the test's outcome is constant, so it
    is evaluated once inside each gap (and once beyond each end: an unbounded
    side gives an infinite bound); then at the jump points next to the outermost
    gaps not rejected, which decide whether each bound is closed or open. A jump
    point cut off from the rest by rejected gaps on both sides is left out of the
    hull (the test would then reject everything around it).

    Only the outermost gaps not rejected matter, so the gaps are tried from the
    left end inwards until one is not rejected, then from the right end inwards:
    the gaps inside the interval are never evaluated (unpaired, each one is a
    permutation test), and no assumption about the test's shape is made: the hull
    is the same as when every gap is evaluated.
    """
    w = np.unique(np.asarray(jumps, dtype=float))
    if w.size == 0:
        raise ValueError("no jump points")
    span = max(1.0, float(w[-1] - w[0]))
    gaps = np.r_[w[0] - span, (w[:-1] + w[1:]) / 2, w[-1] + span]
    lo = next((i for i in range(gaps.size) if not rejects(float(gaps[i]))), None)
    if lo is None:  # only single points are plausible (e.g. every difference equal)
        kept = [float(x) for x in w if not rejects(float(x))]
        if not kept:
            return Interval(math.nan, math.nan, True, True)
        return Interval(min(kept), max(kept), False, False)
    hi = next(i for i in range(gaps.size - 1, lo - 1, -1) if i == lo or not rejects(float(gaps[i])))
    if lo == 0:
        low, low_open = -math.inf, True
    else:
        low = float(w[lo - 1])
        low_open = rejects(low)
    if hi == gaps.size - 1:
        high, high_open = math.inf, True
    else:
        high = float(w[hi])
        high_open = rejects(high)
    return Interval(low, high, low_open, high_open)
