"""Rank tests with tolerant ties and the intervals that invert them, against brute force and scipy."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from hpsearch import rank_tests, stats


def _brute_signed_rank_p(d):
    """Two-sided exact signed-rank p over every sign assignment (zeros dropped, mid-ranks)."""
    d = np.asarray(d, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    ranks = sps.rankdata(np.abs(d))
    t = ranks[d > 0].sum()
    sums = np.array([ranks[list(s)].sum() for k in range(d.size + 1) for s in itertools.combinations(range(d.size), k)])
    return min(1.0, 2 * min(np.mean(sums >= t - 1e-9), np.mean(sums <= t + 1e-9)))


def _brute_bm_perm_p(a, b):
    """Permutation p of scipy's Brunner-Munzel statistic over every split of the pooled values."""
    x = np.r_[a, b]
    w0 = abs(sps.brunnermunzel(a, b).statistic)
    ws = []
    for c in itertools.combinations(range(x.size), len(a)):
        m = np.zeros(x.size, bool)
        m[list(c)] = True
        ws.append(abs(sps.brunnermunzel(x[m], x[~m]).statistic))
    return float(np.mean(np.array(ws) >= w0 - 1e-9))


def test_tie_midranks_ties_within_relative_tolerance_only():
    v = np.array([0.97 - 0.96, 0.98 - 0.97, 0.5, 2e6, 2e6 + 1])
    r = rank_tests.tie_midranks(v, np.abs(v))
    assert r[0] == r[1] == 1.5  # float noise in the last bits ties
    assert list(r[2:]) == [3.0, 4.0, 5.0]  # 2e6 and 2e6 + 1 differ by 5e-7 relative: not tied


@pytest.mark.parametrize("seed", range(6))
def test_signed_rank_matches_brute_force_on_lattice_data_with_zeros_and_ties(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(340, 356, size=9) / 360
    b = a + rng.integers(-2, 3, size=9) / 360
    test = rank_tests.signed_rank(a - b, np.maximum(a, b))
    ref = _brute_signed_rank_p(np.rint((a - b) * 360))
    assert test.p == pytest.approx(ref, abs=1e-12)
    assert test.n_used == int(np.sum(np.rint((a - b) * 360) != 0))
    assert test.min_p == pytest.approx(min(1.0, 2 / 2**test.n_used))


def test_min_p_counts_only_the_non_zero_differences():
    # 4 zero differences in 10 pairs: the signed-rank test ranks 6, so its floor is 2/2^6, not 2/2^10
    a = np.array([0.9, 0.8, 0.85, 0.7, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96])
    b = a - np.r_[np.zeros(4), np.full(6, 0.01)]
    (pair,) = stats.compare_family([(a, b, True)], direction="maximize")
    assert pair.min_p == pytest.approx(2 / 2**6) and pair.n_used == 6
    assert pair.p == pytest.approx(2 / 2**6)  # every kept difference favours a: the floor is reached


def test_one_outlier_does_not_turn_every_difference_into_a_tie():
    # accuracies on 2,800 examples next to one run whose value is 2e6: differences of 1/2800
    a = np.r_[2e6, np.array([2601, 2602, 2603, 2604, 2605, 2606, 2607, 2608, 2609]) / 2800]
    b = np.r_[2e6 - 1.0, a[1:] - 1 / 2800]
    _, p = stats.wilcoxon_exact(a, b)
    assert p == pytest.approx(2 / 2**10)  # all ten differences are positive
    assert stats.compare_pair(a, b, paired=True, direction="maximize").wins == 10
    (pair,) = stats.compare_family([(a, b, True)], direction="maximize")
    assert pair.better == "a" and pair.n_used == 10


@pytest.mark.parametrize("n1, n2", [(2, 2), (3, 4), (5, 3), (4, 4), (5, 5)])
def test_brunner_munzel_statistic_and_p_against_scipy_and_every_split(n1, n2):
    rng = np.random.default_rng(10 * n1 + n2)
    a, b = rng.normal(size=n1), rng.normal(size=n2) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = sps.brunnermunzel(a, b)
        perm = _brute_bm_perm_p(a, b)
    test = rank_tests.brunner_munzel(a, b)
    assert test.exact and test.splits == math.comb(n1 + n2, n1)
    assert test.statistic == pytest.approx(ref.statistic, rel=1e-12)
    # scipy gives no p where W is infinite (complete separation): the t limit there is 0
    t_p = ref.pvalue if np.isfinite(ref.pvalue) else (0.0 if np.isinf(ref.statistic) else 1.0)
    assert test.p == pytest.approx(max(perm, t_p), abs=1e-12)


def test_brunner_munzel_with_ties_matches_scipy_statistic():
    a = np.array([0.97, 0.96, 0.97, 0.98, 0.95])
    b = np.array([0.96, 0.96, 0.96, 0.96, 0.96, 0.97])
    assert rank_tests.brunner_munzel(a, b).statistic == pytest.approx(sps.brunnermunzel(a, b).statistic)


def test_brunner_munzel_random_splits_are_seeded():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=10), rng.normal(size=10)
    t1, t2 = rank_tests.brunner_munzel(a, b, seed=4), rank_tests.brunner_munzel(a, b, seed=4)
    assert not t1.exact and t1.splits == rank_tests.RANDOM_SPLITS and t1.p == t2.p


def _tukey_walsh_interval(d, level):
    """The textbook exact interval: order statistics k and N + 1 - k of the Walsh averages, with k
    from the signed-rank null enumerated by brute force (no ties)."""
    n = len(d)
    sums = np.array([sum(r + 1 for r, s in enumerate(signs) if s) for signs in itertools.product([0, 1], repeat=n)])
    alpha = 1 - level
    k = 0
    while np.mean(sums <= k) < alpha / 2:  # ends at the smallest k with P(T <= k) >= alpha / 2
        k += 1
    w = np.sort(rank_tests.walsh_averages(d))
    return w[k - 1], w[w.size - k]  # W_(k) and W_(N+1-k) (1-based)


@pytest.mark.parametrize("n, seed", [(6, 0), (8, 1), (9, 2), (10, 3)])
def test_paired_interval_is_the_exact_walsh_interval(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = a - 0.4 + rng.normal(size=n) * 0.5
    (pair,) = stats.compare_family([(a, b, True)], direction="maximize")
    lo, hi = _tukey_walsh_interval(a - b, 0.95)
    assert pair.ci == pytest.approx((lo, hi), abs=1e-12)
    # a bound is open exactly where the test rejects the bound itself (ties at a Walsh average)
    for end, is_open in zip(pair.ci, pair.ci_open, strict=True):
        assert is_open == (rank_tests.signed_rank(a - b - end, np.maximum(abs(a), abs(b))).p < 0.05)
    assert pair.ci_level == 0.95
    assert pair.diff == pytest.approx(np.median(rank_tests.walsh_averages(a - b)))


@pytest.mark.parametrize("seed", range(3))
def test_unpaired_interval_is_every_shift_the_test_does_not_reject(seed):
    """Brute force: evaluate the test on a fine grid of shifts and compare with the interval."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=5) + 1, rng.normal(size=4)
    (pair,) = stats.compare_family([(a, b, False)], direction="maximize")
    shifts = np.linspace(-6, 6, 2401)
    kept = [s for s in shifts if rank_tests.brunner_munzel(a - s, b).p >= 0.05]
    lo, hi = pair.ci
    step = shifts[1] - shifts[0]
    assert lo - step <= min(kept) and min(kept) - step <= lo
    assert hi - step <= max(kept) and max(kept) - step <= hi
    assert pair.ci[0] <= pair.diff <= pair.ci[1]


def test_tied_accuracies_name_the_winner_the_test_finds():
    # 4 ties and 6 wins of one example: the signed-rank test drops the ties and rejects (p = 2/2^6);
    # the interval of all shifts it does not reject is (0, 1/360] and so excludes 0. A percentile
    # bootstrap sat at exactly 0 here and left the win unnamed.
    a = np.array([349, 350, 351, 352, 350, 349, 353, 350, 351, 352]) / 360
    b = a - np.r_[np.zeros(4), np.ones(6)] / 360
    (pair,) = stats.compare_family([(a, b, True)], direction="maximize")
    assert pair.p == pytest.approx(2 / 2**6) and pair.p_holm < 0.05
    assert pair.ci[0] == 0.0 and pair.ci_open[0] and pair.excludes_zero
    assert pair.better == "a"


def test_holm_levels_and_decisions():
    rng = np.random.default_rng(5)
    base = rng.normal(size=10)
    strong = (base + 3, base, True)  # p = 2/2^10
    medium = (base + 0.3 + rng.normal(size=10) * 0.3, base, True)
    null = (rng.normal(size=10), rng.normal(size=10), True)
    out = stats.compare_family([null, strong, medium], direction="maximize")
    assert [p.p_holm for p in out] == pytest.approx(stats.holm([p.p for p in out]))
    order = np.argsort([p.p for p in out])
    rejected = sum(p.p_holm < 0.05 for p in out)
    for rank, i in enumerate(order):
        k = 3 - rank if rank < rejected else 3 - rejected
        assert out[i].ci_level == pytest.approx(1 - 0.05 / k)
        assert (out[i].p_holm < 0.05) == out[i].excludes_zero
    assert out[1].better == "a" and out[0].better is None


def test_minimisation_flips_the_orientation():
    a, b = np.arange(8.0), np.arange(8.0) + 1
    (up,) = stats.compare_family([(a, b, True)], direction="maximize")
    (down,) = stats.compare_family([(a, b, True)], direction="minimize")
    assert up.better == "b" and down.better == "a" and up.diff == -down.diff == -1.0


def test_too_few_repeats_is_never_a_winner():
    (one,) = stats.compare_family([([0.9], [0.1, 0.2], False)], direction="maximize")
    assert one.p == 1.0 and one.better is None and one.ci == (-math.inf, math.inf)
    as_json = json.loads(json.dumps(one.to_dict(), allow_nan=False))  # no Infinity in the JSON
    assert as_json["ci"] == [None, None] and as_json["method"] == "brunner-munzel" and as_json["better"] is None
    (few,) = stats.compare_family([([0.9, 0.8], [0.1, 0.2], True)], direction="maximize")
    assert few.min_p == 0.5 and few.better is None and math.isinf(few.ci[0])


def test_interval_and_test_agree_on_lattice_data():
    """On tied, zero-laden accuracies the interval excludes 0 exactly when p_holm < 0.05."""
    rng = np.random.default_rng(11)
    for _ in range(25):
        n = int(rng.integers(4, 7))
        a = rng.integers(320, 350, size=n) / 360
        b = (a * 360 + rng.integers(-1, 4, size=n)) / 360
        c = rng.integers(330, 336, size=n) / 360
        for pair in stats.compare_family([(a, b, True), (a, c, False), (b, c, False)], direction="maximize"):
            assert (pair.p_holm < 0.05) == pair.excludes_zero
            assert pair.ci[0] <= pair.diff <= pair.ci[1]


def test_interval_coverage_by_simulation():
    """Exact intervals cover the true shift at least at their level: 150 fixed-seed draws each,
    nominal 95 %; 0.915 is two binomial standard errors (1.8 %) below it."""
    rng = np.random.default_rng(2024)
    paired = unpaired = 0
    for _ in range(150):
        base = rng.normal(size=8)
        (p,) = stats.compare_family([(base + 0.5 + rng.normal(size=8), base, True)], direction="maximize")
        paired += rank_tests.Interval(*p.ci, *p.ci_open).contains(0.5)
        a, b = rng.standard_t(3, size=6) + 0.5, rng.standard_t(3, size=6)
        (u,) = stats.compare_family([(a, b, False)], direction="maximize")
        unpaired += rank_tests.Interval(*u.ci, *u.ci_open).contains(0.5)
    assert paired / 150 >= 0.915 and unpaired / 150 >= 0.915


def test_near_constant_arm_keeps_the_nominal_rate():
    """Null: P(a > b) = 1/2 with b ten times narrower (a fully enumerated grid varies only by
    training noise). 1,000 fixed-seed draws at 10 + 10 repeats: Mann-Whitney rejects ~9 %; the
    test used must stay within two binomial standard errors (0.7 %) of 5 %, i.e. below 6.4 %."""
    rng = np.random.default_rng(7)
    mw = bm = 0
    for _ in range(1000):
        a, b = rng.normal(size=10), rng.normal(size=10) * 0.1
        mw += stats.mann_whitney_exact(a, b)[1] < 0.05
        bm += rank_tests.brunner_munzel(a, b).p < 0.05
    assert mw / 1000 > 0.075  # the defect: Mann-Whitney assumes equal spreads
    assert bm / 1000 < 0.064
