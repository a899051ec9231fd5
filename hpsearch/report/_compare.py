"""The comparison report: arms (samplers) x repeats (seeds), statistics and tables.

Follows docs/science.md: repeats are the unit, the verdict first (the one it is
handed: computed by the comparison and stored with it; the report never
computes it), expected max only for independent
samplers, trials-to-match grid, coverage next to importance, diverged trials
counted per arm, provenance recorded.
"""

from __future__ import annotations

import math
from typing import Any

from hpsearch.records import N_VAL_ATTR, TEST_TRIAL_ATTR, Direction
from hpsearch.report import _compare_figures as cf
from hpsearch.report._compare_sections import sections
from hpsearch.report._html import fmt, render
from hpsearch.report._study import arm_provenance, test_score_items
from hpsearch.report._verdict_section import verdict_view
from hpsearch.results import StudyData, compared_budget, group_by_sampler


def _value(t: Any) -> float:
    return t.value if t is not None else math.nan


def budget_of(arms: cf.Arms) -> int:
    return max((len(s.finished) for a in arms.values() for s in a), default=0)


def summary(arms: cf.Arms, direction: Direction) -> tuple[list[int], list[list[str]]]:
    """Median best value per sampler at N/4, N/2 and N finished trials."""
    n = budget_of(arms)
    budgets = sorted({b for b in (max(1, n // 4), max(1, n // 2), n) if b > 0})
    grid, curves = cf.arm_curves(arms, direction, "trials")
    rows = []
    for name, (med, _, _) in curves.items():
        rows.append([name, str(len(arms[name]))] + [fmt(med[b - 1]) for b in budgets])
    return budgets, rows


def comparison_page(name: str, studies: list[StudyData], verdict: dict[str, Any] | None, *, seed: int = 0) -> str:
    """HTML of the comparison ``name`` built from its arm studies, opening with ``verdict`` (None: none yet)."""
    if studies[0].multi_objective:  # several objectives: hypervolume replaces every single-value figure
        from hpsearch.report._compare_pareto import comparison_pareto_page

        return comparison_pareto_page(name, studies, verdict)
    n_val = next((s.attrs[N_VAL_ATTR] for s in studies if isinstance(s.attrs.get(N_VAL_ATTR), int)), None)
    arms = group_by_sampler(studies)
    direction = studies[0].direction
    params = list(dict.fromkeys(p for s in studies for p in s.distributions))
    log_params = {p for s in studies for p, d in s.distributions.items() if getattr(d, "log", False)}
    n = budget_of(arms)
    param_figs, panels = sections(arms, direction, params, log_params, seed=seed)
    panels.pop("importance_spread")
    em_fig, em_notes = cf.expected_max(arms, direction, n, seed=seed)
    at = compared_budget(studies)  # the budget every arm is compared at (the verdict's picks)
    finals = {a: [_value(s.best_within(at)) for s in ss] for a, ss in arms.items()}
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
                sum(x["complete"] for x in c),
                sum(x["pruned"] for x in c),
                sum(x["diverged"] for x in c),
                sum(x["failed"] for x in c),
                sum(x["crashed"] for x in c),
            ]
        )
    tests = []
    for a, ss in arms.items():
        for s in ss:
            items = test_score_items(s.attrs)
            if items:
                num = s.attrs.get(TEST_TRIAL_ATTR)
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
    prov = arm_provenance(arms)
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
        **panels,
        arm_rows=arm_rows,
        tests=tests,
        provenance=prov,
        **verdict_view(verdict, n_val),
    )
