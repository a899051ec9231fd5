"""hpsearch._format.fmt_number: the one rule for numbers as text (CLI, reports, dashboard)."""

from __future__ import annotations

import math

import pytest

from hpsearch._format import fmt_number
from hpsearch.cli._common import fmt as cli_fmt
from hpsearch.report._html import fmt as report_fmt


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.123456789, "0.1235"),
        (12345.678, "1.235e+04"),
        (3, "3"),
        (True, "True"),
        ("adam", "adam"),
        (None, ""),
        (math.nan, "–"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (1e-7, "1e-07"),
    ],
)
def test_defaults(x, text):
    assert fmt_number(x) == text


def test_each_place_says_how_it_shows_what_is_missing():
    assert fmt_number(None, none="–") == "–"
    assert fmt_number(math.nan, nan="") == ""
    assert fmt_number(0.5, 3, none="–") == "0.5"
    assert report_fmt(math.nan) == "–" and report_fmt(None) == ""
    assert cli_fmt(None) == "None" and cli_fmt(math.nan) == "nan" and cli_fmt(1 / 3) == "0.333333"
