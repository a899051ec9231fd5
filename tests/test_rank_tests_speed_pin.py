"""The fast Brunner-Munzel null and the outside-in interval give what the slow ones gave.

The permutation statistic is computed per block of tied values (not per position),
and an interval's inversion tries gaps from both ends inwards (not every gap).
Both are only faster: the references below are the earlier per-position
statistic and every-gap inversion, verbatim, and the results must agree with them
on random, tie-heavy data (exact and random splits, sizes up to 30 + 30): the
null's W to 1e-12, the observed W, p-values and intervals exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from hpsearch import rank_tests, stats


def _per_position_w(block_ids: np.ndarray, in_a: np.ndarray) -> np.ndarray:
    """The earlier statistic: W per split from per-position ranks (rows of ``in_a``: True = in a)."""
    return _per_position(block_ids, in_a)[0]


def _per_position(block_ids: np.ndarray, in_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, Satterthwaite's df) per split, as the earlier per-position code computed them."""
    n = block_ids.size
    starts = np.flatnonzero(np.r_[True, block_ids[1:] != block_ids[:-1]])
    sizes = np.diff(np.r_[starts, n])
    first = np.repeat(starts, sizes)
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
    return w, df


def _every_gap_invert(rejects: Callable[[float], bool], jumps: np.ndarray) -> rank_tests.Interval:
    """The earlier inversion: the test evaluated in every gap between jump points."""
    w = np.unique(np.asarray(jumps, dtype=float))
    span = max(1.0, float(w[-1] - w[0]))
    gaps = np.r_[w[0] - span, (w[:-1] + w[1:]) / 2, w[-1] + span]
    ok = np.array([not rejects(float(g)) for g in gaps])
    if not ok.any():
        kept = [float(x) for x in w if not rejects(float(x))]
        if not kept:
            return rank_tests.Interval(math.nan, math.nan, True, True)
        return rank_tests.Interval(min(kept), max(kept), False, False)
    lo, hi = int(np.argmax(ok)), int(ok.size - 1 - np.argmax(ok[::-1]))
    low, low_open = (-math.inf, True) if lo == 0 else (float(w[lo - 1]), rejects(float(w[lo - 1])))
    high, high_open = (math.inf, True) if hi == ok.size - 1 else (float(w[hi]), rejects(float(w[hi])))
    return rank_tests.Interval(low, high, low_open, high_open)


def _tie_heavy(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    """Accuracy-like values on a coarse lattice (many ties within and across arms)."""
    return np.round(rng.normal(loc=shift, size=n) * 3) / 30 + 0.7


@pytest.mark.parametrize("n1, n2, seed", [(4, 5, 0), (6, 6, 1), (8, 8, 2), (10, 10, 3), (30, 30, 4), (12, 30, 5)])
def test_block_statistic_equals_the_per_position_one_over_every_split(n1, n2, seed):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        x = np.r_[_tie_heavy(rng, n1, 0.5), _tie_heavy(rng, n2, 0.0)]
        order = np.argsort(x, kind="stable")
        blocks = rank_tests._blocks(x[order], np.abs(x[order]))
        counts, _ = rank_tests._splits(x.size, n1, seed)
        new = np.concatenate([rank_tests._bm_statistics(blocks, c, n1) for c in counts])
        in_a = np.concatenate([np.diff(c, axis=1, prepend=0).astype(bool) for c in counts])
        old = _per_position_w(blocks, in_a)
        assert np.array_equal(np.isfinite(new), np.isfinite(old))
        assert np.array_equal(new[~np.isfinite(new)], old[~np.isfinite(old)])
        assert np.allclose(new[np.isfinite(new)], old[np.isfinite(old)], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n1, n2, seed", [(5, 6, 0), (8, 8, 1), (10, 10, 2), (30, 30, 3)])
def test_intervals_and_p_values_equal_the_every_gap_inversion(n1, n2, seed):
    rng = np.random.default_rng(100 + seed)
    a, b = _tie_heavy(rng, n1, 0.6), _tie_heavy(rng, n2, 0.0)
    scales = np.r_[np.abs(a), np.abs(b)]
    jumps = (a[:, None] - b[None, :]).ravel()
    for k in (1, 3):

        def rejects(s: float, k: int = k) -> bool:
            return min(1.0, k * rank_tests.brunner_munzel(a - s, b, seed=seed, scales=scales).p) < stats.ALPHA

        assert rank_tests.invert(rejects, jumps) == _every_gap_invert(rejects, jumps)
    # the p-value itself against one computed from the per-position statistic
    x = np.r_[a, b]
    order = np.argsort(x, kind="stable")
    blocks = rank_tests._blocks(x[order], np.abs(x[order]))
    counts, exact = rank_tests._splits(x.size, n1, seed)
    in_a = np.concatenate([np.diff(c, axis=1, prepend=0).astype(bool) for c in counts])
    obs = np.zeros((1, x.size), dtype=bool)
    obs[0, np.argsort(order)[:n1]] = True
    w_ref, df_ref = _per_position(blocks, obs)
    w_obs = abs(float(w_ref[0]))
    hits = int(np.sum(np.abs(_per_position_w(blocks, in_a)) >= w_obs - 1e-9 * max(1.0, w_obs)))
    perm_p = hits / in_a.shape[0] if exact else (1 + hits) / (1 + in_a.shape[0])
    test = rank_tests.brunner_munzel(a, b, seed=seed)
    assert test.statistic == float(w_ref[0])  # bit for bit: the observed W is still computed per position
    # p is the larger of the permutation p and the t approximation's p
    assert test.p == max(perm_p, rank_tests._t_p(float(w_ref[0]), float(df_ref[0])))
