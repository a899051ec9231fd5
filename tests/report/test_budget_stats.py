"""Expected best against budget with worst-value counting, its bootstrap band, trials-to-match summary.

Checked against brute force: every subset (random search's draw without
replacement) and every ordering (a grid run in a seeded shuffle) of tiny inputs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hpsearch import stats


def _brute_subsets(values: list[float], n: int, direction: str) -> float:
    best = max if direction == "maximize" else min
    subsets = list(itertools.combinations(values, n))
    return sum(best(s) for s in subsets) / len(subsets)


def _brute_orders(values: list[float], n: int, direction: str) -> float:
    """Mean best of the first n over all orderings: what a shuffled grid's first n trials give."""
    best = max if direction == "maximize" else min
    orders = list(itertools.permutations(values))
    return sum(best(o[:n]) for o in orders) / len(orders)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_expected_max_with_worst_value_matches_every_subset_and_every_grid_order(direction):
    raw = [0.3, math.nan, 0.9, 0.5, math.inf, 0.5]  # NaN: diverged; inf: a pruned trial's missing value
    worst = 0.1 if direction == "maximize" else 1.2
    filled = stats.fill_worst(raw, worst)
    assert list(filled) == [0.3, worst, 0.9, 0.5, worst, 0.5]  # budget kept: nothing dropped
    for n in range(1, len(raw) + 1):
        want = _brute_subsets(list(filled), n, direction)
        assert stats.expected_max(filled, n, direction) == pytest.approx(want, abs=1e-12)
        assert _brute_orders(list(filled), n, direction) == pytest.approx(want, abs=1e-12)
    ns, center, lo, hi = stats.expected_max_repeats([filled], direction)
    assert list(ns) == [1, 2, 3, 4, 5, 6]
    assert center == pytest.approx([_brute_subsets(list(filled), n, direction) for n in ns])
    assert center[-1] == (0.9 if direction == "maximize" else 0.3)  # all N: the best value itself


def test_worst_values_lower_the_curve_where_dropping_them_would_not():
    """Dropping 2 diverged trials of 4 would claim E[best of 1] = mean of the finished ones."""
    raw = [0.8, math.nan, 0.6, math.nan]
    _, center, _, _ = stats.expected_max_repeats([stats.fill_worst(raw, 0.0)])
    assert center[0] == pytest.approx((0.8 + 0.6) / 4)
    assert center[1] == pytest.approx(_brute_subsets([0.8, 0.0, 0.6, 0.0], 2, "maximize"))
    assert center[0] < stats.expected_max(raw, 1)  # the old estimate, NaN dropped


def test_repeats_are_averaged_up_to_the_shortest_and_values_must_be_filled():
    a, b = [0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7]
    ns, center, _, _ = stats.expected_max_repeats([a, b], n_boot=200)
    assert list(ns) == [1, 2, 3]
    want = [(stats.expected_max(a, n) + stats.expected_max(b, n)) / 2 for n in (1, 2, 3)]
    assert center == pytest.approx(want)
    with pytest.raises(ValueError, match="fill_worst"):
        stats.expected_max_repeats([[0.1, math.nan]])


def test_bootstrap_band_is_seeded_covers_the_estimate_and_keeps_width_at_full_budget():
    rng = np.random.default_rng(3)
    repeats = [rng.normal(0.9, 0.02, 12) for _ in range(7)]
    one = stats.expected_max_repeats(repeats, seed=5)
    again = stats.expected_max_repeats(repeats, seed=5)
    other = stats.expected_max_repeats(repeats, seed=6)
    for x, y in zip(one, again, strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(one[2], other[2])
    ns, center, lo, hi = one
    assert np.all(lo <= center) and np.all(center <= hi)
    per_repeat_best = [r.max() for r in repeats]
    assert lo[-1] < np.median(per_repeat_best) < hi[-1]  # the band covers the median final best
    assert hi[-1] - lo[-1] > 0.005  # search luck across repeats: no collapse to 0 at n = N
    # one repeat: nothing to resample, the band is the curve itself
    _, c1, lo1, hi1 = stats.expected_max_repeats(repeats[:1], seed=5)
    assert np.array_equal(lo1, c1) and np.array_equal(hi1, c1)


def test_match_summary_counts_never_reached_as_infinitely_many_trials():
    assert stats.match_summary([3, None, 5]) == (5.0, 2)
    assert stats.match_summary([4, 8]) == (6.0, 2)
    med, reached = stats.match_summary([None, None, 2])
    assert math.isinf(med) and reached == 1
    med, reached = stats.match_summary([])
    assert math.isnan(med) and reached == 0
