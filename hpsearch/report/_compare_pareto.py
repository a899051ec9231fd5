"""The comparison report of arms with several objectives: hypervolume over budget, each repeat's final
hypervolume, and every repeat's final front per arm.

Why its own page: best-so-far curves, expected max, trials-to-match-grid and
importance all rank trials by one value, which a multi-objective trial does
not have. Here the hypervolume of each repeat's front takes that value's
place, measured on one scale for the whole comparison: the verdict's stated
reference when the page is handed a verdict, else the same rule
(hpsearch.pareto.Scale fitted on every arm's compared trials), so the curves
and the verdict measure with the same ruler.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from hpsearch import pareto, stats
from hpsearch.records import direction_name
from hpsearch.report import _compare_figures as cf
from hpsearch.report._html import Figure, fmt, plain, render
from hpsearch.report._study import arm_provenance
from hpsearch.report._verdict_section import verdict_view
from hpsearch.results import StudyData, TrialData, compared_budget, group_by_sampler


def _usable(t: TrialData, m: int) -> bool:
    """A trial that can stand on a front: COMPLETE, feasible, every value finite."""
    return t.state == "COMPLETE" and t.feasible and len(t.values) == m and all(map(math.isfinite, t.values))


def comparison_scale(studies: list[StudyData], verdict: dict[str, Any] | None, budget: int) -> pareto.Scale | None:
    """The verdict's scale if it states one, else fitted by the same rule on every arm's compared trials."""
    directions: list[str] = [direction_name(d) for d in studies[0].directions]
    ref = (verdict or {}).get("reference")
    if isinstance(ref, dict) and isinstance(ref.get("best"), list) and isinstance(ref.get("worst"), list):
        return pareto.Scale(tuple(directions), tuple(map(float, ref["best"])), tuple(map(float, ref["worst"])))
    m = len(directions)
    points = [t.values for s in studies for t in s.finished_by_slot()[:budget] if _usable(t, m)]
    return pareto.Scale.fit(np.array(points), directions) if points else None


def _history(study: StudyData, scale: pareto.Scale, budget: int) -> np.ndarray:
    """The repeat's hypervolume after each of its first ``budget`` finished trials (by slot)."""
    m = len(scale.directions)
    trials = study.finished_by_slot()[:budget]
    out = np.full(budget, np.nan)
    if not trials:
        return out
    ok = [i for i, t in enumerate(trials) if _usable(t, m)]
    hv = np.zeros(len(trials))
    if ok:
        h = pareto.hypervolume_history(
            scale.normalise(np.array([trials[i].values for i in ok])),
            [1 + pareto.REFERENCE_MARGIN] * m,
            ["minimize"] * m,
        )
        for j, i in enumerate(ok):
            hv[i:] = h[j]
    out[: len(trials)] = hv
    return out


def hypervolume_over_budget(arms: cf.Arms, scale: pareto.Scale, budget: int) -> tuple[Figure, dict[str, list[float]]]:
    """Median and interquartile band over repeats of each arm's hypervolume so far; and each repeat's final one."""
    fig = go.Figure()
    grid = np.arange(1, budget + 1, dtype=float)
    finals: dict[str, list[float]] = {}
    for i, (name, studies) in enumerate(arms.items()):
        curves = np.array([_history(s, scale, budget) for s in studies]).reshape(len(studies), budget)
        med, lo, hi = stats.median_iqr(curves, "maximize")
        cf._band(fig, grid, med, lo, hi, name, cf.color(name, i))
        finals[name] = [float(c[-1]) if np.isfinite(c[-1]) else 0.0 for c in curves]
    fig.update_layout(xaxis_title="finished trials", yaxis_title="hypervolume so far (normalised)")
    k = max(len(a) for a in arms.values())
    return (
        Figure(
            "hypervolume-trials",
            "Hypervolume against finished trials",
            fig,
            f"Median over repeats (line) and interquartile band, up to {k} repeats per sampler: the volume of "
            "objective space each repeat's feasible trials so far dominate, on the comparison's scale "
            "(it replaces the best-so-far curves of a single objective).",
        ),
        finals,
    )


def final_fronts(arms: cf.Arms, budget: int, names: list[str], directions: list[str]) -> Figure | None:
    """Every repeat's final front (at the budget), one colour per arm: where each strategy's trade-offs lie."""
    if len(directions) != 2:
        return None
    fig = go.Figure()
    for i, (name, studies) in enumerate(arms.items()):
        xs: list[float] = []
        ys: list[float] = []
        for s in studies:
            trials = [t for t in s.finished_by_slot()[:budget] if _usable(t, 2)]
            if not trials:
                continue
            pts = np.array([t.values for t in trials])
            on = pts[pareto.front_mask(pts, directions)]
            on = on[np.argsort(on[:, 0])]
            xs += [*on[:, 0].tolist(), math.nan]
            ys += [*on[:, 1].tolist(), math.nan]
        fig.add_scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            name=plain(name),
            line=dict(color=cf.color(name, i), width=1, shape="hv" if directions[0] == "minimize" else "vh"),
            marker=dict(size=5),
            opacity=0.6,
        )
    better = {"maximize": "higher is better", "minimize": "lower is better"}
    fig.update_layout(
        xaxis_title=f"{plain(names[0])} ({better[directions[0]]})",
        yaxis_title=f"{plain(names[1])} ({better[directions[1]]})",
    )
    return Figure(
        "fronts",
        "Every repeat's final front",
        fig,
        "One staircase per repeat (its feasible trials no other of its trials beats on both objectives), "
        "coloured by sampler.",
    )


def comparison_pareto_page(name: str, studies: list[StudyData], verdict: dict[str, Any] | None) -> str:
    """HTML of a comparison whose arms have several objectives."""
    arms = group_by_sampler(studies)
    budget = compared_budget(studies)
    directions: list[str] = [direction_name(d) for d in studies[0].directions]
    names = list(studies[0].metric_names)
    scale = comparison_scale(studies, verdict, budget)
    figures: list[Figure | None] = []
    if scale is not None and budget > 0:
        curve, finals = hypervolume_over_budget(arms, scale, budget)
        box = cf.final_distribution(finals, {a: [s.seed for s in ss] for a, ss in arms.items()})
        box.fig.update_layout(yaxis_title="hypervolume at the budget (normalised)")
        box.title, box.caption = (
            "Final-budget hypervolume per sampler",
            "One point per repeat; box = median and quartiles.",
        )
        figures += [curve, box]
    figures.append(final_fronts(arms, budget, names, directions))
    reference = (
        []
        if scale is None
        else [
            (n, f"{fmt(r)} (best {fmt(b)}, worst {fmt(w)})")
            for n, r, b, w in zip(names, scale.reference(), scale.best, scale.worst, strict=True)
        ]
    )
    arm_rows = []
    for a, ss in arms.items():
        c = [s.counts() for s in ss]
        infeasible = sum(1 for s in ss for t in s.trials if t.state == "COMPLETE" and not t.feasible)
        arm_rows.append(
            [
                a,
                len(ss),
                *(sum(x[k] for x in c) for k in ("complete", "pruned", "diverged", "failed", "crashed")),
                infeasible,
            ]
        )
    prov = arm_provenance(arms)
    return render(
        "comparison_pareto.html",
        title=f"Comparison {name}",
        figures=[f for f in figures if f is not None],
        name=name,
        objectives=", ".join(f"{n} ({d})" for n, d in zip(names, directions, strict=True)),
        budget=budget,
        arms=list(arms),
        reference=reference,
        reference_rule=pareto.REFERENCE_MARGIN,
        arm_rows=arm_rows,
        provenance=prov,
        **verdict_view(verdict, None),
    )
