"""The verdict dict: schema, self-consistency, pairing rule, words, test scores and training noise."""

from __future__ import annotations

import json
import math

import optuna
import pytest

from hpsearch import stats
from hpsearch.comparison import load_verdict

KEYS = ["comparison", "metric", "direction", "budget", "repeats", "arms", "pairs", "importance", "verdict", "sentences"]
ARM_KEYS = ["sampler", "repeats", "best", "test", "seconds"]
PAIR_KEYS = ["a", "b", "diff", "ci", "method", "p", "p_holm", "min_p", "better"]

STRONG = {  # accuracies on 360 validation examples: random and TPE clearly ahead of grid
    "grid": [k / 360 for k in (340, 341, 340, 342, 341, 340, 339, 341, 340, 342)],
    "random": [k / 360 for k in (344, 345, 346, 344, 347, 345, 344, 346, 345, 343)],
    "tpe": [k / 360 for k in (345, 346, 346, 345, 347, 346, 345, 347, 345, 344)],
}


def check_consistent(v: dict) -> None:
    """What every verdict must satisfy, whatever the data."""
    assert list(v) == KEYS
    json.dumps(v, allow_nan=False)  # strict JSON: no NaN anywhere
    for arm in v["arms"]:
        assert list(arm) == ARM_KEYS and list(arm["best"]) == ["median", "q1", "q3"]
        assert arm["best"]["q1"] <= arm["best"]["median"] <= arm["best"]["q3"]
    assert v["pairs"], "a comparison of several arms has pairs"
    for p in v["pairs"]:
        assert list(p) == PAIR_KEYS
        assert p["p_holm"] >= p["p"] >= p["min_p"] - 1e-15
        assert p["method"] in ("wilcoxon", "mann-whitney")
        lo, hi = p["ci"]
        assert lo <= hi
        evidence = p["p_holm"] < 0.05 and (lo > 0 or hi < 0)
        assert (p["better"] is not None) == evidence
        if p["better"] is not None:
            assert p["better"] == ("a" if lo > 0 else "b")
    assert [p["p_holm"] for p in v["pairs"]] == pytest.approx(stats.holm([p["p"] for p in v["pairs"]]))
    imp = v["importance"]
    assert [r["median"] for r in imp] == sorted((r["median"] for r in imp), reverse=True)
    assert all(r["q1"] <= r["median"] <= r["q3"] for r in imp)


def test_strong_effect_names_winners_with_holm_and_examples(store_comparison):
    st = optuna.storages.InMemoryStorage()
    store_comparison(st, "cmp", STRONG, n_val=360)
    v = load_verdict(st, "cmp")
    check_consistent(v)
    assert (v["comparison"], v["metric"], v["direction"], v["budget"], v["repeats"]) == (
        "cmp",
        "accuracy",
        "maximize",
        8,
        10,
    )
    pairs = {(p["a"], p["b"]): p for p in v["pairs"]}
    assert list(pairs) == [("random", "grid"), ("tpe", "grid"), ("tpe", "random")]
    assert pairs["random", "grid"]["method"] == "mann-whitney"  # a grid shares no randomness
    assert pairs["tpe", "grid"]["method"] == "mann-whitney"
    assert pairs["tpe", "random"]["method"] == "wilcoxon"  # same seeds, shared start-up draws
    assert pairs["random", "grid"]["better"] == "a" and pairs["tpe", "grid"]["better"] == "a"
    hl = sorted(a - b for a in STRONG["random"] for b in STRONG["grid"])  # Hodges-Lehmann: median of a_i - b_j
    assert pairs["random", "grid"]["diff"] == pytest.approx((hl[49] + hl[50]) / 2) == pytest.approx(4 / 360)
    assert pairs["random", "grid"]["min_p"] == pytest.approx(2 / math.comb(20, 10))
    assert pairs["tpe", "random"]["min_p"] == pytest.approx(2 / 2**10)
    assert v["verdict"].startswith(
        "Random search beat grid search in 100 of 100 repeat pairings (+1.11 points, 4 of 360 validation examples, "
        "95% CI [+0.83, +1.39], unpaired Mann-Whitney U p_holm="
    )
    assert "of 360 validation examples" in v["verdict"] and "points" in v["verdict"]
    assert v["importance"][0]["param"] == "x"  # x drives every study's value, y does not
    assert [a["sampler"] for a in v["arms"]] == ["grid", "random", "tpe"]
    assert all(a["test"] is None for a in v["arms"])  # nothing retrained: no test split score


def test_five_repeats_say_the_design_cannot_reach_significance(store_comparison):
    st = optuna.storages.InMemoryStorage()
    # random beats TPE in all 5 paired repeats: still no test can say so at 5 repeats
    store_comparison(st, "few", {"random": [0.9, 0.91, 0.92, 0.93, 0.94], "tpe": [0.8, 0.81, 0.82, 0.83, 0.84]})
    v = load_verdict(st, "few")
    check_consistent(v)
    (p,) = v["pairs"]
    assert (p["a"], p["b"], p["method"]) == ("tpe", "random", "wilcoxon")
    assert p["p"] == p["min_p"] == 0.0625 and p["better"] is None and p["diff"] < 0
    assert v["verdict"] == (
        "TPE vs random search inconclusive: with 5 repeats no paired Wilcoxon signed-rank test "
        "can give p below 0.0625 (10 repeats can)."
    )


def test_pairing_needs_shared_randomness_and_the_same_seeds(store_comparison):
    st = optuna.storages.InMemoryStorage()
    store_comparison(
        st,
        "s",
        {"random": [0.9, 0.8, 0.7], "tpe": [0.91, 0.81, 0.71], "qmc": [0.9, 0.8, 0.7]},
        seeds={"random": [0, 1, 2], "tpe": [0, 1, 3], "qmc": [0, 1, 2]},
    )
    v = load_verdict(st, "s")
    assert {(p["a"], p["b"]): p["method"] for p in v["pairs"]} == {
        ("qmc", "random"): "mann-whitney",
        ("tpe", "random"): "mann-whitney",
        ("tpe", "qmc"): "mann-whitney",
    }


def test_minimize_orients_diff_so_positive_means_a_is_better(store_comparison):
    st = optuna.storages.InMemoryStorage()
    losses = {"grid": [0.50 + 0.01 * k for k in range(10)], "random": [0.30 + 0.01 * k for k in range(10)]}
    store_comparison(st, "loss", losses, direction="minimize", metric="log_loss")
    v = load_verdict(st, "loss")
    check_consistent(v)
    (p,) = v["pairs"]
    assert p["diff"] == pytest.approx(0.2) and p["better"] == "a"
    assert v["verdict"].startswith("Random search beat grid search in 100 of 100 repeat pairings (+0.2,")


def test_test_scores_per_repeat_and_training_noise(store_comparison):
    st = optuna.storages.InMemoryStorage()
    grid = {f"grid-s{k}": {"test_score": 0.95 + 0.001 * k, "test_score_std": 0.003} for k in range(4)}
    rand = {f"random-s{k}": {"test_score": 0.96 + 0.001 * k, "test_score_std": 0.004} for k in range(4)}
    store_comparison(st, "t", {"grid": [0.9] * 4, "random": [0.91] * 4}, attrs={**grid, **rand})
    v = load_verdict(st, "t")
    g, r = v["arms"]
    assert g["test"]["per_repeat"] == pytest.approx([0.95, 0.951, 0.952, 0.953])
    assert g["test"]["median"] == pytest.approx(0.9515) and g["test"]["q1"] == pytest.approx(0.95075)
    assert g["test"]["training_sd"] == pytest.approx(0.003) and r["test"]["training_sd"] == pytest.approx(0.004)
    # medians 0.9515 vs 0.9615: a gap of 1 point against 2 x 0.4 points of training noise
    assert "The largest gap between arms, 1.00 points, is more than training noise" in v["verdict"]
    noisy = {k: {**a, "test_score_std": 0.02} for k, a in {**grid, **rand}.items()}
    st2 = optuna.storages.InMemoryStorage()
    store_comparison(st2, "t", {"grid": [0.9] * 4, "random": [0.91] * 4}, attrs=noisy)
    assert "is not more than training noise" in load_verdict(st2, "t")["verdict"]


def test_unknown_comparison_is_a_user_error():
    from hpsearch.errors import StudyNotFound

    with pytest.raises(StudyNotFound, match="no comparison named 'nope'"):
        load_verdict(optuna.storages.InMemoryStorage(), "nope")


def test_pairs_the_design_cannot_decide_are_said_once(store_comparison):
    st = optuna.storages.InMemoryStorage()
    store_comparison(st, "two", {"grid": [0.8, 0.81], "random": [0.9, 0.91], "tpe": [0.92, 0.93]})
    v = load_verdict(st, "two")
    check_consistent(v)
    assert [p["min_p"] for p in v["pairs"]] == pytest.approx([1 / 3, 1 / 3, 0.5])
    assert v["verdict"] == (
        "Random search vs grid search, TPE vs grid search and TPE vs random search inconclusive: "
        "with 2 repeats no test can give p below 0.05 (the smallest p each can give: 0.333, "
        "0.333, 0.5; 10 repeats can)."
    )
