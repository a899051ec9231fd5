"""The comparison report: arms (samplers) x repeats (seeds), statistics and tables.

Follows docs/science.md: repeats are the unit, the verdict first (computed by
hpsearch.comparison._verdict from the stored studies: exact tests paired only where
arms share randomness, Holm over all pairs, Hodges-Lehmann shift with a bootstrap
interval, test scores against training noise), expected max only for independent
samplers, trials-to-match grid, coverage next to importance, diverged trials
counted per arm, provenance recorded.
"""

from __future__ import annotations

import math
from typing import Any

from hpsearch.comparison._verdict import group_arms as _group_arms
from hpsearch.comparison._verdict import verdict_details
from hpsearch.report import _compare_figures as cf
from hpsearch.report._collect import StudyData
from hpsearch.report._compare_sections import sections
from hpsearch.report._html import fmt, render
from hpsearch.report._study import _short, test_score_items
from hpsearch.report._verdict_section import verdict_view


def group_arms(studies: list[StudyData]) -> cf.Arms:
    """Studies grouped by sampler in the verdict's order (grid, random, qmc, tpe, others), repeats by seed."""
    return _group_arms(studies)  # type: ignore[return-value]


def final_best(s: StudyData) -> float:
    b = s.best()
    return b.value if b else math.nan


def budget_of(arms: cf.Arms) -> int:
    return max((len(s.finished) for a in arms.values() for s in a), default=0)


def summary(arms: cf.Arms, direction: str) -> tuple[list[int], list[list[str]]]:
    """Median best value per sampler at N/4, N/2 and N finished trials."""
    n = budget_of(arms)
    budgets = sorted({b for b in (max(1, n // 4), max(1, n // 2), n) if b > 0})
    grid, curves = cf.arm_curves(arms, direction, "trials")
    rows = []
    for name, (med, _, _) in curves.items():
        rows.append([name, str(len(arms[name]))] + [fmt(med[b - 1]) for b in budgets])
    return budgets, rows


def comparison_page(
    name: str, studies: list[StudyData], *, seed: int = 0, importance: list[dict[str, Any]] | None = None
) -> str:
    """HTML of the comparison ``name`` built from its arm studies.

    The verdict (hpsearch.comparison._verdict, computed from the stored studies
    only) opens the page; ``importance`` may carry the verdict's importance
    when the caller has it already.
    """
    n_val = next((s.attrs["n_val"] for s in studies if isinstance(s.attrs.get("n_val"), int)), None)
    arms = group_arms(studies)
    direction = studies[0].direction
    params = list(dict.fromkeys(p for s in studies for p in s.distributions))
    log_params = {p for s in studies for p, d in s.distributions.items() if getattr(d, "log", False)}
    n = budget_of(arms)
    param_figs, panels = sections(arms, direction, params, log_params, seed=seed)
    # the report's fANOVA spread is the verdict's importance: computed once, not twice
    spread = panels.pop("importance_spread")
    details = verdict_details(name, studies, seed=seed, importance=spread if importance is None else importance)
    em_fig, em_notes = cf.expected_max(arms, direction, n, seed=seed)
    finals = {a: [final_best(s) for s in ss] for a, ss in arms.items()}
    figures = [
        cf.best_so_far(arms, direction, "trials"),
        cf.best_so_far(arms, direction, "seconds") if any(s.has("seconds") for s in studies) else None,
        cf.best_so_far(arms, direction, "epochs") if any(s.has("epochs") for s in studies) else None,
        em_fig,
        cf.final_distribution(finals, {a: [s.seed for s in ss] for a, ss in arms.items()}),
        *param_figs,
    ]
    budgets, summary_rows = summary(arms, direction)
    arm_rows = []
    for a, ss in arms.items():
        c = [s.counts() for s in ss]
        arm_rows.append(
            [
                a,
                len(ss),
                sum(x["COMPLETE"] for x in c),
                sum(x["PRUNED"] for x in c),
                sum(x["DIVERGED"] for x in c),
                sum(x["FAIL"] for x in c),
            ]
        )
    tests = []
    for a, ss in arms.items():
        for s in ss:
            items = test_score_items(s.attrs)
            if items:
                num = s.attrs.get("test_trial")
                tr = next((t for t in s.trials if t.number == num), None) or s.best()
                tests.append(
                    {
                        "arm": a,
                        "study": s.name,
                        "trial": tr.number if tr else "",
                        "valid": fmt(tr.value, 6) if tr else "",
                        "rows": [kv for kv in items if kv[0] != "evaluated trial"],
                    }
                )
    prov = [
        [
            s.sampler,
            s.name,
            fmt(s.seed),
            str(s.attrs.get("optuna_version", "–")),
            _short(s.attrs.get("sampler_args", "–")),
        ]
        for ss in arms.values()
        for s in ss
    ]
    return render(
        "comparison.html",
        title=f"Comparison {name}",
        figures=[f for f in figures if f],
        name=name,
        direction=direction,
        budget=n,
        arms=list(arms),
        summary_head=["sampler", "repeats"] + [f"median best @ {b}" for b in budgets],
        summary_rows=summary_rows,
        em_notes=em_notes,
        pairs=details.verdict["pairs"],
        **panels,
        arm_rows=arm_rows,
        tests=tests,
        provenance=prov,
        **verdict_view(details, n_val),
    )
