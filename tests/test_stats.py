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


def test_bootstrap_covers_zero_on_identical_samples():
    a = [0.91, 0.93, 0.92, 0.95, 0.90]
    for paired in (True, False):
        diff, lo, hi = stats.bootstrap_median_diff(a, a, paired=paired, seed=3)
        assert diff == 0.0
        assert lo <= 0.0 <= hi


def test_bootstrap_excludes_zero_on_separated_samples_and_is_seeded():
    a = [0.95, 0.96, 0.97, 0.955, 0.965]
    b = [0.80, 0.82, 0.81, 0.805, 0.815]
    diff, lo, hi = stats.bootstrap_median_diff(a, b, seed=7)
    assert diff == pytest.approx(0.15)
    assert lo > 0
    assert stats.bootstrap_median_diff(a, b, seed=7) == (diff, lo, hi)


def test_rank_tests():
    a = [0.95, 0.96, 0.97, 0.955, 0.965, 0.958]
    b = [0.80, 0.82, 0.81, 0.805, 0.815, 0.83]
    paired = stats.rank_test(a, b, paired=True)
    assert paired.name == "Wilcoxon signed-rank" and paired.p_value < 0.05
    assert stats.rank_test(a, a, paired=True).p_value == 1.0
    unpaired = stats.rank_test(a, b, paired=False)
    assert unpaired.name == "Mann-Whitney U" and unpaired.p_value < 0.01


def test_trials_to_match_including_not_reached():
    v = [0.5, np.nan, 0.8, 0.95, 0.99]
    assert stats.trials_to_match(v, 0.8, "maximize") == 3
    assert stats.trials_to_match(v, 0.5, "maximize") == 1
    assert stats.trials_to_match(v, 0.999, "maximize") is None
    assert stats.trials_to_match([3.0, 2.0, 1.0], 2.0, "minimize") == 2
    assert stats.trials_to_match([], 1.0, "minimize") is None


def test_verdict_says_no_evidence_when_interval_covers_zero():
    text = stats.verdict("random", "grid", 0.01, -0.02, 0.03, "maximize", 3)
    assert text.startswith("No evidence") and "anecdotal" in text
    win = stats.verdict("random", "grid", -0.05, -0.08, -0.01, "minimize", 10)
    assert win.startswith("random found better") and "anecdotal" not in win
    lose = stats.verdict("random", "grid", -0.05, -0.08, -0.01, "maximize", 10)
    assert lose.startswith("grid found better")


def test_verdict_weak_when_rank_test_disagrees():
    text = stats.verdict("random", "grid", 0.02, 0.01, 0.03, "maximize", 2, p_value=0.5)
    assert text.startswith("Weak evidence that random found better") and "p = 0.5" in text
    assert stats.verdict("random", "grid", 0.02, 0.01, 0.03, "maximize", 8, p_value=0.01).startswith(
        "random found better"
    )


def test_median_iqr_with_direction_counts_missing_as_worst():
    # repeat 2 has no result at the first budget: the median there is unknown, not repeat 1's value
    curves = np.array([[0.9, 0.9, 0.9], [np.nan, 0.5, 0.95], [np.nan, 0.6, 0.96]])
    med, q1, q3 = stats.median_iqr(curves, "maximize")
    assert np.isnan(med[0]) and np.isnan(q1[0]) and np.isnan(q3[0])
    assert med[1] == pytest.approx(0.6) and med[2] == pytest.approx(0.95)
    assert np.all(np.diff(med[1:]) >= 0)
    med_min, _, _ = stats.median_iqr(np.array([[1.0, 1.0], [np.nan, 2.0], [np.nan, 0.5]]), "minimize")
    assert np.isnan(med_min[0]) and med_min[1] == 1.0
