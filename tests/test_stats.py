"""The comparison report's statistics, checked on hand-made inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hpsearch import stats


def test_incumbent_maximize_and_minimize_skip_nan():
    v = [0.5, np.nan, 0.4, 0.7, 0.6]
    np.testing.assert_array_equal(stats.incumbent(v, "maximize"), [0.5, 0.5, 0.5, 0.7, 0.7])
    np.testing.assert_array_equal(stats.incumbent(v, "minimize"), [0.5, 0.5, 0.4, 0.4, 0.4])


def test_incumbent_leading_nan_stays_nan():
    out = stats.incumbent([np.nan, np.nan, 3.0, 1.0], "minimize")
    assert np.isnan(out[:2]).all()
    np.testing.assert_array_equal(out[2:], [3.0, 1.0])


def test_incumbent_rejects_unknown_direction():
    with pytest.raises(ValueError):
        stats.incumbent([1.0], "up")


def test_incumbent_on_grid_steps_by_cost():
    x = [1.0, 3.0, 4.0]  # cumulative seconds
    v = [0.2, 0.5, 0.4]
    out = stats.incumbent_on_grid(x, v, [0.5, 1.0, 2.9, 3.0, 10.0], "maximize")
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [0.2, 0.2, 0.5, 0.5])


def test_median_iqr_over_repeats_ignores_missing():
    curves = np.array([[np.nan, 1.0, 2.0], [np.nan, 3.0, 4.0], [np.nan, np.nan, 6.0]])
    med, q1, q3 = stats.median_iqr(curves)
    assert np.isnan(med[0]) and np.isnan(q1[0])
    assert med[1] == 2.0 and med[2] == 4.0
    assert q1[2] == 3.0 and q3[2] == 5.0


def _brute_expected_max(v, n):
    return np.mean([max(c) for c in itertools.combinations(v, n)])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_expected_max_equals_enumeration_over_subsets(n):
    v = [0.31, 0.9, 0.55, 0.1, 0.72, 0.72, 0.4]
    assert stats.expected_max(v, n) == pytest.approx(_brute_expected_max(v, n), rel=1e-12)


def test_expected_min_for_minimisation_matches_enumeration():
    v = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    for n in range(1, 7):
        brute = np.mean([min(c) for c in itertools.combinations(v, n)])
        assert stats.expected_max(v, n, "minimize") == pytest.approx(brute, rel=1e-12)


def test_expected_max_endpoints_and_curve():
    rng = np.random.default_rng(1)
    v = rng.normal(size=40)
    assert stats.expected_max(v, 1) == pytest.approx(v.mean())
    assert stats.expected_max(v, 40) == pytest.approx(v.max())
    ns, mean, std = stats.expected_max_curve(v)
    assert list(ns) == list(range(1, 41))
    assert np.all(np.diff(mean) >= -1e-12)  # more budget never hurts in expectation
    assert std[0] == pytest.approx(v.std())
    assert std[-1] == pytest.approx(0.0, abs=1e-9)  # all N drawn: the max, no spread


def test_expected_max_spread_matches_enumeration():
    v = [0.1, 0.4, 0.35, 0.8, 0.6]
    maxes = [max(c) for c in itertools.combinations(v, 2)]
    _, mean, std = stats.expected_max_curve(v)
    assert mean[1] == pytest.approx(np.mean(maxes))
    assert std[1] == pytest.approx(np.std(maxes))


def test_expected_max_ignores_nan_and_checks_n():
    assert stats.expected_max([1.0, np.nan, 3.0], 2) == 3.0
    with pytest.raises(ValueError):
        stats.expected_max([1.0, 2.0], 3)


def test_trials_to_match_including_not_reached():
    v = [0.5, np.nan, 0.8, 0.95, 0.99]
    assert stats.trials_to_match(v, 0.8, "maximize") == 3
    assert stats.trials_to_match(v, 0.5, "maximize") == 1
    assert stats.trials_to_match(v, 0.999, "maximize") is None
    assert stats.trials_to_match([3.0, 2.0, 1.0], 2.0, "minimize") == 2
    assert stats.trials_to_match([], 1.0, "minimize") is None


# --- pairwise tests: exact p-values against scipy and brute force ---------------------------


def _brute_wilcoxon(a, b):
    """Two-sided exact signed-rank p by enumerating every sign assignment (mid-ranks for ties)."""
    from scipy.stats import rankdata

    d = np.round(np.asarray(a) - np.asarray(b), 9)
    d = d[d != 0]
    ranks = rankdata(np.abs(d))
    t = ranks[d > 0].sum()
    sums = [
        sum(r for r, s in zip(ranks, signs, strict=True) if s) for signs in itertools.product([0, 1], repeat=d.size)
    ]
    sums = np.array(sums)
    return min(1.0, 2 * min(np.mean(sums >= t - 1e-9), np.mean(sums <= t + 1e-9)))


def _brute_mann_whitney(a, b):
    """Two-sided exact rank-sum p by enumerating every way to choose a's positions."""
    from scipy.stats import rankdata

    pooled = np.round(np.concatenate([a, b]), 9)
    ranks = rankdata(pooled)
    r = ranks[: len(a)].sum()
    sums = np.array([ranks[list(c)].sum() for c in itertools.combinations(range(pooled.size), len(a))])
    return min(1.0, 2 * min(np.mean(sums >= r - 1e-9), np.mean(sums <= r + 1e-9)))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 10])
def test_wilcoxon_exact_matches_scipy_without_ties(n):
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(n)
    a, b = rng.normal(size=n), rng.normal(size=n)
    t, p = stats.wilcoxon_exact(a, b)
    ref = wilcoxon(a, b, method="exact")
    assert p == pytest.approx(ref.pvalue, abs=1e-12)
    assert t == pytest.approx(np.sum(np.argsort(np.argsort(np.abs(a - b)))[a - b > 0] + 1))


def test_wilcoxon_exact_with_ties_and_zeros_matches_brute_force():
    # accuracies on 360 examples: differences tie in value but not in floating point
    a = np.array([349, 350, 351, 352, 350, 349, 353, 350]) / 360
    b = np.array([348, 349, 350, 352, 348, 350, 350, 351]) / 360
    assert stats.wilcoxon_exact(a, b)[1] == pytest.approx(_brute_wilcoxon(a, b), abs=1e-12)
    assert stats.wilcoxon_exact(a, a) == (0.0, 1.0)


def test_wilcoxon_reaches_its_minimum_p_when_all_pairs_agree():
    for n in (5, 10):
        a = np.arange(n) + 1.0
        assert stats.wilcoxon_exact(a, a - 0.5)[1] == pytest.approx(2 / 2**n)
        assert stats.min_p_value(n, n, paired=True) == pytest.approx(2 / 2**n)
    assert stats.min_p_value(5, 5, paired=True) == 0.0625


@pytest.mark.parametrize("n1, n2", [(1, 1), (2, 3), (4, 4), (5, 3), (6, 6)])
def test_mann_whitney_exact_matches_scipy_without_ties(n1, n2):
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(10 * n1 + n2)
    a, b = rng.normal(size=n1), rng.normal(size=n2)
    u, p = stats.mann_whitney_exact(a, b)
    ref = mannwhitneyu(a, b, method="exact", alternative="two-sided")
    assert p == pytest.approx(ref.pvalue, abs=1e-12) and u == ref.statistic


def test_mann_whitney_exact_with_ties_matches_brute_force_and_min_p():
    a = np.array([0.97, 0.96, 0.97, 0.98, 0.95])
    b = np.array([0.96, 0.95, 0.95, 0.97, 0.94, 0.96])
    assert stats.mann_whitney_exact(a, b)[1] == pytest.approx(_brute_mann_whitney(a, b), abs=1e-12)
    sep_a, sep_b = [10.0, 11, 12, 13, 14], [1.0, 2, 3, 4, 5]
    assert stats.mann_whitney_exact(sep_a, sep_b)[1] == pytest.approx(2 / 252)
    assert stats.min_p_value(5, 5, paired=False) == pytest.approx(2 / 252)


def _brute_holm(p):
    """Holm by definition: reject H_(k) while p_(j) <= alpha / (m - j + 1) for all j <= k; the
    adjusted p is the smallest alpha that rejects it."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    for k, i in enumerate(order):
        out[i] = min(1.0, max((m - j) * p[order[j]] for j in range(k + 1)))
    return out


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03, 0.005], [0.5], [0.02, 0.02, 0.9], [0.001, 0.2, 0.04]])
def test_holm_step_down(p):
    assert stats.holm(p) == pytest.approx(_brute_holm(p))
    assert all(h >= q for h, q in zip(stats.holm(p), p, strict=True))
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_hodges_lehmann_by_hand():
    # paired: Walsh averages of d = [1, 2, 6] are 1, 1.5, 2, 3.5, 4, 6 -> median 2.75
    assert stats.hodges_lehmann([2, 4, 9], [1, 2, 3], paired=True) == pytest.approx(np.median([1, 1.5, 3.5, 2, 4, 6]))
    # unpaired: all differences a_i - b_j
    a, b = [3.0, 5.0], [1.0, 2.0, 10.0]
    assert stats.hodges_lehmann(a, b, paired=False) == pytest.approx(np.median([2, 1, -7, 4, 3, -5]))


def test_bootstrap_hl_interval_is_seeded_and_covers_zero_on_equal_samples():
    a = [0.91, 0.93, 0.92, 0.95, 0.90]
    for paired in (True, False):
        lo, hi = stats.bootstrap_hl_interval(a, a, paired=paired, seed=3)
        assert lo <= 0.0 <= hi
    b = [0.80, 0.82, 0.81, 0.805, 0.815]
    assert stats.bootstrap_hl_interval(a, b, paired=False, seed=1) == stats.bootstrap_hl_interval(
        a, b, paired=False, seed=1
    )
    assert stats.bootstrap_hl_interval(a, b, paired=False, seed=1)[0] > 0


def test_compare_pair_orients_by_direction_and_counts_wins():
    a, b = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    up = stats.compare_pair(a, b, paired=True, direction="maximize", seed=0)
    down = stats.compare_pair(a, b, paired=True, direction="minimize", seed=0)
    assert up.diff == pytest.approx(-0.1) and down.diff == pytest.approx(0.1)
    assert (up.wins, down.wins, up.out_of) == (0, 6, 6) and up.method == "wilcoxon" and up.paired
    assert up.p == down.p == pytest.approx(2 / 2**6) == up.min_p
    un = stats.compare_pair(a, b, paired=False, direction="maximize", seed=0)
    assert un.method == "mann-whitney" and un.out_of == 36 and un.p >= un.min_p


def test_better_arm_needs_both_holm_and_interval():
    assert stats.better_arm(0.01, (0.1, 0.3)) == "a"
    assert stats.better_arm(0.01, (-0.3, -0.1)) == "b"
    assert stats.better_arm(0.01, (-0.1, 0.3)) is None
    assert stats.better_arm(0.05, (0.1, 0.3)) is None


def test_pairing_rule_and_repeats_needed():
    assert stats.shares_randomness("random", "tpe") and stats.shares_randomness("tpe", "random")
    assert not any(stats.shares_randomness("grid", s) for s in ("random", "tpe", "qmc"))
    assert not stats.shares_randomness("qmc", "random")
    assert stats.repeats_needed(3) == 7  # 3 * 2 / 2^7 = 0.047 < 0.05; 3 * 2 / 2^6 = 0.094
    assert stats.repeats_needed(1) == 6
