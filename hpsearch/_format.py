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
#: The verdict's rank tests, as prose.
METHOD_NAMES = {
    "wilcoxon": "paired Wilcoxon signed-rank",
    "brunner-munzel": "unpaired Brunner-Munzel",
    "mann-whitney": "unpaired Mann-Whitney U",
}
