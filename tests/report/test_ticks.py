"""Log-axis ticks read as numbers: 1-2-5 steps written out whole, never bare minor digits."""

from __future__ import annotations

import math

import pytest

from hpsearch.report._ticks import log_ticks


def test_a_learning_rate_range_gets_whole_numbers_at_1_2_5_steps():
    ticks = log_ticks(1e-4, 1e-1)
    # ten 1-2-5 steps do not fit in 8: 1-3 steps (0.0001, 0.0003, 0.001, ... 0.1)
    assert ticks["tickvals"] == pytest.approx([1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1])
    assert ticks["ticktext"] == [f"{v:g}" for v in ticks["tickvals"]]
    assert len(ticks["tickvals"]) <= 8
    assert all(1e-4 <= v <= 1e-1 for v in ticks["tickvals"])
    # every label is a number in its own right (plotly's own log labels were "2 3 4 … 9 100 2")
    assert all(float(text) == pytest.approx(v) for text, v in zip(ticks["ticktext"], ticks["tickvals"], strict=True))
    assert "0.001" in ticks["ticktext"] and "0.01" in ticks["ticktext"]


def test_a_short_range_keeps_1_2_5_and_a_wide_one_thins_to_powers_of_ten():
    assert log_ticks(16, 256)["ticktext"] == ["20", "50", "100", "200"]
    wide = log_ticks(1e-8, 1e4)
    assert len(wide["tickvals"]) <= 8
    assert all(math.log10(v) == pytest.approx(round(math.log10(v))) for v in wide["tickvals"])  # powers of ten


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (-1.0, 10.0), (5.0, 5.0), (3.0, 4.0), (float("nan"), 1.0)])
def test_no_positive_range_or_no_two_steps_leaves_plotlys_own(low, high):
    assert log_ticks(low, high) == {}
