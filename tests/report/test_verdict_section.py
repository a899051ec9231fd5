"""The verdict section's words and units (hpsearch.report._verdict_section), on hand-made verdicts."""

from __future__ import annotations

import pytest

from hpsearch.report._verdict_section import verdict_view


def _verdict(optimum: float | None, metric: str = "accuracy") -> dict:
    pair = {"a": "tpe", "b": "grid", "on": "test", "diff": 0.004, "ci": [0.0006, 0.012], "ci_level": 0.983}
    pair |= {"method": "brunner-munzel", "p": 0.0004, "p_holm": 0.0012, "min_p": 0.0001, "better": "a", "n": [30, 30]}
    test = {"median": 0.87, "q1": 0.86, "q3": 0.88, "per_repeat": [0.87], "training_sd": None}
    arm = {"sampler": "tpe", "repeats": 30, "trials": 72, "best": test, "test": test, "seconds": 0.9}
    if optimum is not None:
        arm["regret"] = {"median": 0.0138, "q1": 0.01143, "q3": 0.0162, "per_repeat": [0.0138]}
    v = {
        "metric": metric,
        "budget": 72,
        "pairs": [pair],
        "validation_pairs": [pair | {"on": "validation"}],
        "arms": [arm],
        "verdict": "v",
    }
    if optimum is not None:
        v["optimum"] = optimum
    return v


@pytest.mark.parametrize(("optimum", "on"), [(None, "held-out test"), (0.8853, "held-out true mean")])
def test_a_pair_says_what_it_was_decided_on(optimum, on):
    view = verdict_view(_verdict(optimum), None)
    assert [row["on"] for row in view["verdict_pairs"]] == [on]
    assert [row["on"] for row in view["validation_pairs"]] == ["best validation (biased upward)"]


def test_true_regret_is_in_the_units_of_the_differences():
    view = verdict_view(_verdict(0.8853), None)
    assert view["verdict_head"][-2] == "true regret: median [IQR]"
    assert view["verdict_arms"][0][-2] == "1.38 [1.14 – 1.62] points"  # accuracy: points, as "+0.40 points"
    assert view["verdict_pairs"][0]["diff"] == "+0.40 points"
    mse = verdict_view(_verdict(0.01, metric="mse"), None)
    assert mse["verdict_arms"][0][-2] == "0.0138 [0.01143 – 0.0162]"  # not a [0, 1] score: its own units
