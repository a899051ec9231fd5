"""Trials to match grid search: per repeat, and one summary row per arm (grid's own included).

The target is grid's final best, median over its repeats. Grid gets its own
row measured against the same target: about half of its repeats reach their
own median, which is the yardstick a reader needs to judge "random matched grid
after 12 trials" (docs/science.md, "Trials to match grid").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hpsearch import stats
from hpsearch.records import Direction
from hpsearch.report._compare_figures import Arms
from hpsearch.report._html import fmt


@dataclass
class MatchTable:
    """What the template shows; empty when there is no grid arm with a result."""

    target: str = ""
    summary: list[list[str]] = field(default_factory=list)  # arm, repeats, median, reached
    rows: list[list[str]] = field(default_factory=list)  # arm, study, seed, trials


def _final(values: np.ndarray, direction: Direction) -> float:
    best = stats.incumbent(values, direction)
    return float(best[-1]) if best.size else math.nan


def match_grid(arms: Arms, direction: Direction) -> MatchTable:
    """Per-repeat trials to reach grid's median final best, and a summary per arm."""
    if "grid" not in arms:
        return MatchTable()
    finals = [_final(s.values(), direction) for s in arms["grid"]]
    finals = [v for v in finals if math.isfinite(v)]
    if not finals:
        return MatchTable()
    target = float(np.median(finals))
    table = MatchTable(target=fmt(target, 6))
    for name, studies in arms.items():
        counts = [stats.trials_to_match(s.values(), target, direction) for s in studies]
        for s, n in zip(studies, counts, strict=True):
            table.rows.append([name, s.name, fmt(s.seed), str(n) if n else f"not reached in {len(s.finished)}"])
        med, reached = stats.match_summary(counts)
        median = "not reached" if math.isinf(med) else fmt(med, 3)
        table.summary.append(
            [
                name + (" (its own median)" if name == "grid" else ""),
                str(len(studies)),
                median,
                f"{reached} of {len(studies)} reached",
            ]
        )
    return table
