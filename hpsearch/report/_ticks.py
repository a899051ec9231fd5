"""Ticks for log axes that read as numbers.

Plotly labels a log axis spanning few decades with bare minor digits
("2 3 4 … 9 100 2", or "2, 1, 5, 2, 0.1, 5" with ``dtick="D2"``), which read as
nonsense next to a learning rate. These ticks are 1-2-5 steps (thinned to a
handful), each written out whole: "0.0002", "0.0005", "0.001".
"""

from __future__ import annotations

import math
from typing import Any

MOST = 8  # ticks on one axis; more crowd a subplot a third of the page wide


def log_ticks(low: float, high: float, most: int = MOST) -> dict[str, Any]:
    """``tickvals``/``ticktext`` for a log axis over [low, high]; {} (plotly's own) when there is
    no positive range or fewer than two such steps fall inside it."""
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        return {}
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    values: list[float] = []
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        values = [float(f"{m}e{e}") for e in range(first, last + 1) for m in mantissas]
        values = [v for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]
        if len(values) <= most:
            break
    if len(values) > most:  # many decades: every k-th power of ten
        values = values[:: math.ceil(len(values) / most)]
    if len(values) < 2:
        return {}
    return {"tickvals": values, "ticktext": [f"{v:g}" for v in values]}
