"""Numbers as short text: the one formatting rule of the CLI, the reports and the dashboard."""

from __future__ import annotations

import math
from typing import Any


def fmt_number(x: Any, digits: int = 4, *, none: str = "", nan: str = "–") -> str:
    """A float to ``digits`` significant digits; None as ``none``, NaN as ``nan``; anything else
    (ints, bools, text, infinities) as ``str`` would write it."""
    if x is None:
        return none
    if isinstance(x, float) and not isinstance(x, bool):
        if math.isnan(x):
            return nan
        return f"{x:.{digits}g}" if math.isfinite(x) else str(x)
    return str(x)


#: Metrics in [0, 1], shown in percentage points (differences) and percent (values).
PERCENT_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
#: Metrics whose difference times the split size is a number of examples.
COUNTED_METRICS = ("accuracy",)


class MetricUnits:
    """A metric's numbers as text: percentage points for [0, 1] metrics, else 4 significant digits.

    The one rule for the verdict's sentences (``size``: how big a difference is) and the report's
    tables (``diff`` signed, ``bound`` an interval end, ``value``, ``spread``), so the two never disagree.
    """

    def __init__(self, metric: str, n_val: int | None) -> None:
        self.percent = metric in PERCENT_METRICS
        self.counted = metric in COUNTED_METRICS and isinstance(n_val, int) and n_val > 0
        self.n_val = n_val

    def size(self, x: float) -> str:
        """A difference's size, without its sign (the sentence says which way)."""
        return f"{100 * abs(x):.2f} points" if self.percent else f"{abs(x):.4g}"

    def diff(self, x: float | None) -> str:
        if x is None or not math.isfinite(x):
            return "–"
        return f"{100 * x:+.2f} points" if self.percent else f"{x:+.4g}"

    def bound(self, x: float | None, low: bool) -> str:
        if x is None or not math.isfinite(x):
            return "−∞" if low else "+∞"
        return f"{100 * x:+.2f}" if self.percent else f"{x:+.4g}"

    def value(self, x: float | None) -> str:
        if x is None:
            return "–"
        return f"{100 * x:.2f}%" if self.percent else f"{x:.4g}"

    def spread(self, q: dict[str, Any] | None) -> str:
        if not q or q.get("median") is None:
            return "–"
        return f"{self.value(q['median'])} [{self.value(q['q1'])} – {self.value(q['q3'])}]"


#: The verdict's rank tests, as prose.
METHOD_NAMES = {
    "wilcoxon": "paired Wilcoxon signed-rank",
    "brunner-munzel": "unpaired Brunner-Munzel",
    "mann-whitney": "unpaired Mann-Whitney U",
}
