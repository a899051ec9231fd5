"""The per-hyperparameter part of the comparison report, assembled for the template.

One entry point, :func:`sections`, so the page builder (``_compare``) needs a
single call for: importance per study (fANOVA and PED-ANOVA, median and IQR
across repeats) next to each hyperparameter's coverage, the importance and
score-against-hyperparameter figures, the contour with choosable axes, the cost
per arm and the trials-to-match-grid tables. Everything reads stored trials;
nothing is trained here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hpsearch.records import Direction
from hpsearch.report import _compare_figures as cf
from hpsearch.report._contour import contour
from hpsearch.report._html import Figure, fmt
from hpsearch.report._match import match_grid
from hpsearch.report._param_figures import importance_figure, score_vs_param
from hpsearch.results._importance import FANOVA_TREES, TOP_QUANTILE, per_study_methods, spread, worst_value

FANOVA = "fANOVA (whole space)"
PED = f"PED-ANOVA (top {TOP_QUANTILE:.0%} vs all)"


def coverage_counts(arms: cf.Arms, p: str) -> dict[str, tuple[float, int]]:
    """Per arm: (median distinct values of ``p`` per study, distinct values pooled over repeats)."""
    out = {}
    for name, studies in arms.items():
        per = [len({repr(t.params[p]) for t in s.finished if p in t.params}) for s in studies]
        pooled = len({repr(t.params[p]) for s in studies for t in s.finished if p in t.params})
        out[name] = (float(np.median(per)) if per else 0.0, pooled)
    return out


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    return f"{fmt(row['median'], 2)} [{fmt(row['q1'], 2)}–{fmt(row['q3'], 2)}]"


def sections(
    arms: cf.Arms, direction: Direction, params: Sequence[str], log_params: set[str], seed: int = 0
) -> tuple[list[Figure], dict[str, Any]]:
    """(figures, template context) for importance, coverage, per-parameter plots, cost, trials to match."""
    studies = [s for ss in arms.values() for s in ss]
    worst = worst_value(studies)
    both = per_study_methods(studies, ("fanova", "ped-anova"), seed)
    fan, ped = both["fanova"], both["ped-anova"]
    # per arm, never pooled: a grid's near-copies would dominate a pooled figure (= the verdict's importance)
    per_arm = {a: {r["param"]: r for r in spread([imp for s, imp in fan if s.sampler == a], params)} for a in arms}
    ped_rows = {r["param"]: r for r in spread([imp for _, imp in ped], params)}

    def top(p: str) -> float:
        return max(((rows.get(p) or {}).get("median", -1.0) for rows in per_arm.values()), default=-1.0)

    order = sorted(params, key=lambda p: (-top(p), -(ped_rows.get(p) or {}).get("median", -1.0), p))
    coverage_rows = []
    for p in order:
        counts = coverage_counts(arms, p)
        coverage_rows.append(
            [p, *(_cell(per_arm[a].get(p)) for a in arms)]
            + [f"{fmt(m)} per study, {pooled} pooled" for m, pooled in counts.values()]
        )
    match = match_grid(arms, direction)
    figures = [
        importance_figure({FANOVA: fan, PED: ped}, order, list(arms)),
        score_vs_param(arms, order, log_params, worst, metric=studies[0].metric),
        contour(arms, order, log_params, worst, direction),
        cf.cost(arms),
    ]
    panels = {
        "coverage_head": ["hyperparameter", *(f"{FANOVA} in {a}: median [IQR]" for a in arms)]
        + [f"distinct values: {a}" for a in arms],
        "coverage_rows": coverage_rows,
        "importance_note": (
            f"computed per study: fANOVA ({FANOVA_TREES} trees, seed {seed}) on "
            f"{len(fan)} of {len(studies)} studies, PED-ANOVA on {len(ped)}; median and "
            "interquartile range across the studies of each arm. Pruned and diverged trials count as "
            f"the worst value ({fmt(worst, 4)}); a hyperparameter a study could not rank "
            "counts as 0 there"
        ),
        "importance_spread": {a: list(rows.values()) for a, rows in per_arm.items()},
        "match_target": match.target,
        "match_summary": match.summary,
        "match_rows": match.rows,
    }
    return [f for f in figures if f is not None], panels
