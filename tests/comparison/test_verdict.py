"""The verdict dict: schema, self-consistency, pairing rule, words, held-out decisions, equal budgets."""

from __future__ import annotations

import json
import math

import numpy as np
import optuna
import pytest

from hpsearch import stats
from hpsearch.comparison import load_verdict
from hpsearch.comparison._pairs import pairwise
from hpsearch.comparison._verdict import comparison_verdict, earlier_looks, store_verdict
from hpsearch.results import arm_studies

KEYS = [
    "comparison",
    "metric",
    "direction",
    "budget",
    "repeats",
    "arms",
    "pairs",
    "validation_pairs",
    "importance",
    "verdict",
    "sentences",
    "looks",
]
ARM_KEYS = ["sampler", "repeats", "trials", "best", "test", "seconds"]
PAIR_KEYS = ["a", "b", "on", "diff", "ci", "ci_level", "method", "p", "p_holm", "min_p", "better", "n"]

STRONG = {  # accuracies on 360 validation examples: random and TPE clearly ahead of grid
    "grid": [k / 360 for k in (340, 341, 340, 342, 341, 340, 339, 341, 340, 342)],
    "random": [k / 360 for k in (344, 345, 346, 344, 347, 345, 344, 346, 345, 343)],
    "tpe": [k / 360 for k in (345, 346, 346, 345, 347, 346, 345, 347, 345, 344)],
}


def check_consistent(v: dict) -> None:
    """What every verdict must satisfy, whatever the data."""
    assert list(v)[: len(KEYS)] == KEYS and set(v) - set(KEYS) <= {"optimum"}
    json.dumps(v, allow_nan=False)  # strict JSON: no NaN anywhere
    for arm in v["arms"]:
        assert list(arm)[: len(ARM_KEYS)] == ARM_KEYS and list(arm["best"]) == ["median", "q1", "q3"]
        assert arm["best"]["q1"] <= arm["best"]["median"] <= arm["best"]["q3"]
        assert arm["trials"] >= v["budget"]  # every arm ran at least the budget it is compared at
    assert v["pairs"], "a comparison of several arms has pairs"
    for family in ("pairs", "validation_pairs"):
        for p in v[family]:
            assert list(p) == PAIR_KEYS
            assert p["p_holm"] >= p["p"] >= p["min_p"] - 1e-15
            assert p["method"] in ("wilcoxon", "brunner-munzel")
            lo, hi = (-math.inf if p["ci"][0] is None else p["ci"][0]), (math.inf if p["ci"][1] is None else p["ci"][1])
            assert lo <= hi  # an unbounded end is null in JSON
            assert (p["better"] is not None) == (p["p_holm"] < 0.05)  # the interval inverts the same test
            if p["better"] is not None:
                assert p["better"] == ("a" if lo >= 0 else "b")
        assert [p["p_holm"] for p in v[family]] == pytest.approx(stats.holm([p["p"] for p in v[family]]))
    assert all(p["on"] == "validation" for p in v["validation_pairs"])
    for sampler in {r["sampler"] for r in v["importance"]}:  # importance per arm, most important first
        rows = [r for r in v["importance"] if r["sampler"] == sampler]
        assert [r["median"] for r in rows] == sorted((r["median"] for r in rows), reverse=True)
        assert all(r["q1"] <= r["median"] <= r["q3"] for r in rows)
    assert "training noise" not in v["verdict"]  # no "2 x training SD" rule: training_sd is a number only
    assert "repeat pairings" not in v["verdict"]


def scored(values: dict[str, list[float]], scores: dict[str, list[list[float | None]]]) -> dict[str, dict]:
    """Arm attrs as compare's re-scoring stores them: ``scores[sampler][k]`` per retraining seed for the
    pick of repeat k (store_comparison's trial 0 reaches each study's best)."""
    return {
        f"{sampler}-s{k}": {"test_scores": row, "test_trial": 0, "test_score_std": 0.003}
        for sampler, rows in scores.items()
        for k, row in enumerate(rows)
    }


def test_strong_effect_names_winners_in_one_plain_sentence_per_pair(store_comparison):
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
    assert pairs["random", "grid"]["method"] == "brunner-munzel"  # a grid shares no randomness
    assert pairs["tpe", "random"]["method"] == "wilcoxon"  # same seeds, shared start-up draws
    assert pairs["random", "grid"]["better"] == "a" and pairs["tpe", "grid"]["better"] == "a"
    assert all(p["on"] == "validation" for p in v["pairs"])  # nothing re-scored held out
    hl = sorted(a - b for a in STRONG["random"] for b in STRONG["grid"])  # Hodges-Lehmann: median of a_i - b_j
    assert pairs["random", "grid"]["diff"] == pytest.approx((hl[49] + hl[50]) / 2) == pytest.approx(4 / 360)
    assert v["sentences"][0] == (
        f"Random search finds better networks than grid search: 1.11 points of best validation accuracy "
        f"(Holm p = {pairs['random', 'grid']['p_holm']:.2g})."
    )
    assert v["verdict"].startswith(v["sentences"][0])
    assert "biased upward by selection" in v["verdict"]  # decided on validation maxima: said once
    assert v["verdict"].count("biased upward") == 1
    assert [a["sampler"] for a in v["arms"]] == ["grid", "random", "tpe"]
    assert all(a["test"] is None for a in v["arms"])


def test_five_repeats_say_the_design_cannot_reach_significance(store_comparison):
    st = optuna.storages.InMemoryStorage()
    # random beats TPE in all 5 paired repeats: still no test can say so at 5 repeats
    store_comparison(st, "few", {"random": [0.9, 0.91, 0.92, 0.93, 0.94], "tpe": [0.8, 0.81, 0.82, 0.83, 0.84]})
    v = load_verdict(st, "few")
    check_consistent(v)
    (p,) = v["pairs"]
    assert (p["a"], p["b"], p["method"]) == ("tpe", "random", "wilcoxon")
    assert p["p"] == p["min_p"] == 0.0625 and p["better"] is None and p["diff"] < 0
    assert v["verdict"].startswith(
        "TPE vs random search: no verdict is possible with 5 repeats (no p below 0.05 after Holm); "
        "10 repeats can give one."
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
        ("qmc", "random"): "brunner-munzel",
        ("tpe", "random"): "brunner-munzel",
        ("tpe", "qmc"): "brunner-munzel",
    }


def test_minimize_orients_diff_so_positive_means_a_is_better(store_comparison):
    st = optuna.storages.InMemoryStorage()
    losses = {"grid": [0.50 + 0.01 * k for k in range(10)], "random": [0.30 + 0.01 * k for k in range(10)]}
    store_comparison(st, "loss", losses, direction="minimize", metric="log_loss")
    v = load_verdict(st, "loss")
    check_consistent(v)
    (p,) = v["pairs"]
    assert p["diff"] == pytest.approx(0.2) and p["better"] == "a"
    assert v["verdict"].startswith("Random search finds better networks than grid search: 0.2 of best validation")


def test_the_verdict_decides_on_held_out_scores_where_every_repeat_has_one(store_comparison):
    """Validation maxima say grid is better; each pick's held-out score says random is: test decides."""
    st = optuna.storages.InMemoryStorage()
    validation = {"grid": [0.95 + 0.001 * k for k in range(10)], "random": [0.90 + 0.001 * k for k in range(10)]}
    held = {
        "grid": [[0.80 + 0.001 * k, 0.80 + 0.001 * k] for k in range(10)],
        "random": [[0.85 + 0.001 * k, 0.85 + 0.001 * k] for k in range(10)],
    }
    store_comparison(st, "h", validation, attrs=scored(validation, held))
    v = load_verdict(st, "h")
    check_consistent(v)
    (p,) = v["pairs"]
    (vp,) = v["validation_pairs"]
    assert p["on"] == "test" and p["better"] == "a" and p["diff"] == pytest.approx(0.05)  # random, on test
    assert vp["on"] == "validation" and vp["better"] == "b"  # the biased view names grid: for reference only
    assert v["verdict"].startswith("Random search finds better networks than grid search: 5.00 points of test")
    assert "biased upward" not in v["verdict"]
    assert v["arms"][1]["test"]["per_repeat"] == pytest.approx([0.85 + 0.001 * k for k in range(10)])
    assert v["arms"][0]["test"]["training_sd"] == pytest.approx(0.003)  # reported, never a threshold


def test_a_repeat_without_a_held_out_score_for_its_pick_decides_on_validation(store_comparison):
    st = optuna.storages.InMemoryStorage()
    validation = {"grid": [0.9] * 4, "random": [0.91] * 4}
    attrs = scored(validation, {"grid": [[0.8]] * 4, "random": [[0.85]] * 4})
    attrs["random-s3"]["test_trial"] = 5  # re-scored for another trial than the pick: stale
    store_comparison(st, "stale", validation, attrs=attrs)
    v = load_verdict(st, "stale")
    assert [p["on"] for p in v["pairs"]] == ["validation"] and v["arms"][1]["test"] is None


def test_diverged_retrains_count_as_the_worst_score_and_keep_their_repeat(store_comparison):
    st = optuna.storages.InMemoryStorage()
    validation = {"grid": [0.9] * 6, "random": [0.91] * 6}
    held = {
        "grid": [[0.80, 0.82]] * 6,
        "random": [[0.90, None], [None, None], [0.88, 0.86], [0.9, 0.9], [0.9, 0.9], [0.9, 0.9]],
    }
    store_comparison(st, "div", validation, attrs=scored(validation, held))
    v = load_verdict(st, "div")
    per = v["arms"][1]["test"]["per_repeat"]
    assert len(per) == 6  # the repeat whose retrains all diverged stays
    worst = 0.80  # the worst finite held-out score of the comparison
    assert per[:3] == pytest.approx([(0.90 + worst) / 2, worst, 0.87])


def test_arms_are_compared_at_the_same_number_of_finished_trials():
    """Grid ran 4 trials, random 8: random's later trials (its best among them) are not its pick."""
    st = optuna.storages.InMemoryStorage()
    dist = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for sampler, n in (("grid", 4), ("random", 8)):
        for seed in range(3):
            study = optuna.create_study(study_name=f"b-{sampler}-s{seed}", storage=st, direction="maximize")
            for key, value in {"comparison": "b", "sampler": sampler, "seed": seed}.items():
                study.set_user_attr(key, value)
            for k in range(n):
                value = 0.5 + 0.01 * seed + (0.4 if k >= 4 else 0.0)  # trials 4..7 are far better
                study.add_trial(optuna.trial.create_trial(params={"x": k / 10}, distributions=dist, value=value))
    v = load_verdict(st, "b")
    assert v["budget"] == 4 and [a["trials"] for a in v["arms"]] == [4, 8]
    assert v["arms"][1]["best"]["median"] == pytest.approx(0.51)  # the best of the first 4, not 0.91
    (p,) = v["pairs"]
    assert p["better"] is None  # same values at the same budget: no winner
    assert "Every arm is compared at its first 4 finished trials (grid search ran 4)." in v["verdict"]


def test_equal_budgets_keep_false_winners_at_the_nominal_rate():
    """Pure noise, 6 axes, 63 trials: a 32-point grid against random and TPE at 63. Best-of-63 beats
    best-of-32 on noise alone; compared at 32, every arm is the same and false winners stay rare."""
    rng = np.random.default_rng(21)
    runs, unequal, equal = 40, 0, 0  # (100 runs of this seed: 20 % against 1 %)
    for i in range(runs):
        shared = [rng.normal(size=63) for _ in range(10)]  # random's and TPE's start-up draws are shared
        values = {
            "grid": [rng.normal(size=32) for _ in range(10)],
            "random": shared,
            "tpe": [np.r_[s[:10], rng.normal(size=53)] for s in shared],
        }
        for at, count in ((None, "unequal"), (32, "equal")):
            finals = {n: [(k, float(np.max(v[:at]))) for k, v in enumerate(vs)] for n, vs in values.items()}
            pairs, _ = pairwise(finals, "maximize", on="validation", seed=i)
            named = any(p["better"] is not None for p in pairs)
            if count == "unequal":
                unequal += named
            else:
                equal += named
    assert unequal / runs >= 0.10  # the defect: more trials win on noise (the 3-arm simulation: 15.8 %)
    assert equal / runs <= 0.05  # the nominal family-wise rate


def test_true_regret_where_the_optimum_is_known(store_comparison):
    st = optuna.storages.InMemoryStorage()
    validation = {"grid": [0.9] * 4, "random": [0.91] * 4}
    attrs = scored(validation, {"grid": [[0.80]] * 4, "random": [[0.85]] * 4})
    for a in attrs.values():
        a["true_optimum"] = 0.9
    store_comparison(st, "r", validation, attrs=attrs)
    v = load_verdict(st, "r")
    assert v["optimum"] == 0.9
    assert v["arms"][0]["regret"]["per_repeat"] == pytest.approx([0.1] * 4)
    assert v["arms"][1]["regret"]["median"] == pytest.approx(0.05)


def test_importance_is_given_per_arm(store_comparison):
    st = optuna.storages.InMemoryStorage()
    store_comparison(st, "imp", {"grid": [0.9] * 3, "random": [0.91] * 3})
    v = load_verdict(st, "imp")
    assert {r["sampler"] for r in v["importance"]} == {"grid", "random"}
    assert [r["param"] for r in v["importance"] if r["sampler"] == "random"][0] == "x"  # x drives each study


def test_a_resumed_comparison_is_named_a_second_look(store_comparison):
    st = optuna.storages.InMemoryStorage()
    store_comparison(st, "look", {"random": [0.9, 0.91, 0.92, 0.93, 0.94], "tpe": [0.8, 0.81, 0.82, 0.83, 0.84]})
    first = load_verdict(st, "look")
    assert first["looks"] == [5] and "looked at" not in first["verdict"]
    store_verdict(st, "look", first)
    store_comparison(
        st,
        "look",
        {"random": [0.95] * 10, "tpe": [0.85] * 10},
        seeds={"random": list(range(5, 15)), "tpe": list(range(5, 15))},
    )
    studies = arm_studies(st, "look")
    assert earlier_looks(studies) == [5]
    v = comparison_verdict("look", studies, looks=earlier_looks(studies))
    assert v["looks"] == [5, 15]
    assert "looked at with 5 repeats and resumed to 15" in v["verdict"] and "up to about 8%" in v["verdict"]


def test_unknown_comparison_is_a_user_error():
    from hpsearch.errors import StudyNotFound

    with pytest.raises(StudyNotFound, match="no comparison named 'nope'"):
        load_verdict(optuna.storages.InMemoryStorage(), "nope")


def test_pairs_the_design_cannot_decide_are_said_once(store_comparison):
    st = optuna.storages.InMemoryStorage()
    store_comparison(st, "two", {"grid": [0.8, 0.81], "random": [0.9, 0.91], "tpe": [0.92, 0.93]})
    v = load_verdict(st, "two")
    check_consistent(v)
    assert v["verdict"].startswith(
        "Random search vs grid search, TPE vs grid search and TPE vs random search: no verdict is possible "
        "with 2 repeats (no p below 0.05 after Holm); 10 repeats can give one."
    )
    assert v["verdict"].count("no verdict is possible") == 1
