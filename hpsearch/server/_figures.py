"""Plotly figures as plain dicts, drawn in the page by the bundled plotly.js.

Plain lists (no numpy) so Jinja's ``tojson`` filter can embed them safely
(it escapes ``<``, ``>``, ``&`` and ``'``); no strings from the database are
put into the figures: legend labels are the known sampler names only, since
plotly.js interprets a few HTML tags in text.
"""

from __future__ import annotations

import math
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpsearch import pareto
from hpsearch.samplers import REGISTRY, colour
from hpsearch.search import is_finished
from hpsearch.stats import focus_range, incumbent


def best_so_far(trials: list[FrozenTrial], maximize: bool) -> list[tuple[int, int, float]]:
    """(finished count, trial number, best so far) after each finished trial, in trial-number order.

    Pruned and diverged trials spend budget (they advance the count) but have no
    value, so they never move the curve; the curve is hpsearch.stats.incumbent,
    as in the reports. Points before the first value are left out.
    """
    done = sorted((t for t in trials if is_finished(t)), key=lambda t: t.number)
    values = [
        t.values[0] if t.state == TrialState.COMPLETE and t.values is not None and len(t.values) == 1 else math.nan
        for t in done
    ]
    best = incumbent(values, "maximize" if maximize else "minimize")
    return [(i + 1, t.number, float(b)) for i, (t, b) in enumerate(zip(done, best, strict=True)) if math.isfinite(b)]


def _layout(xtitle: str, ytitle: str) -> dict[str, Any]:
    return {
        "margin": {"l": 60, "r": 20, "t": 20, "b": 50},
        "xaxis": {"title": {"text": xtitle}},
        "yaxis": {"title": {"text": ytitle}},
        "legend": {"orientation": "h", "y": -0.2},
    }


def history_figure(trials: list[FrozenTrial], maximize: bool) -> dict[str, Any]:
    """Each complete trial's value, and the best value so far."""
    done = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and t.values is not None and len(t.values) == 1 and math.isfinite(t.values[0])
    ]
    curve = best_so_far(trials, maximize)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "name": "trial value",
                "x": [t.number for t in done],
                "y": [float(t.value) for t in done],  # type: ignore[arg-type]
                "marker": {"color": "#888", "size": 6},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "best so far",
                "line": {"shape": "hv"},
                "x": [number for _, number, _ in curve],
                "y": [b for _, _, b in curve],
            },
        ],
        "layout": _layout("trial number", "value"),
    }


def comparison_figure(arms: list[tuple[str, str | None, list[FrozenTrial]]], maximize: bool) -> dict[str, Any]:
    """Best-so-far against trial count, one line per study; studies of a sampler share a colour.

    ``arms`` holds (study name, sampler, trials); names are listed in the page's table. The x axis counts finished
    trials of the study (1, 2, ...), so studies with different trial numbering
    line up by budget spent.
    """
    data, seen, curves = [], set(), []
    for _name, sampler, trials in arms:
        curve = best_so_far(trials, maximize)
        curves.append([float(b) for _, _, b in curve])
        key = sampler if sampler in REGISTRY else "other"
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": key,
                "legendgroup": key,
                "showlegend": key not in seen,
                "line": {"shape": "hv", "color": colour(key)},
                "opacity": 0.75,
                "x": [n for n, _, _ in curve],
                "y": [b for _, _, b in curve],
            }
        )
        seen.add(key)
    layout = _layout("finished trials", "best value so far")
    shown = focus_range(curves)  # the report's zoom: where the samplers differ
    if shown is not None:
        layout["yaxis"]["range"] = shown
    return {"data": data, "layout": layout}


def pareto_figure(trials: list[FrozenTrial], directions: list[str], names: list[str]) -> dict[str, Any]:
    """The first two objectives of a multi-objective study: its front (feasible trials no other feasible
    trial beats on every objective) highlighted, dominated trials faint, infeasible ones grey.

    The metric names come from the database: HTML-escaped here, since plotly.js renders a few tags.
    """
    import html

    m = len(directions)
    done = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE
        and t.values is not None
        and len(t.values) == m
        and all(math.isfinite(v) for v in t.values)
    ]
    feasible = [all(c <= 0 for c in t.constraints.values()) for t in done]
    ok = [t for t, f in zip(done, feasible, strict=True) if f]
    ranks: list[int] = pareto.nondominated_ranks([t.values for t in ok], directions).tolist() if ok else []
    groups = (
        ("Pareto front", [t for t, r in zip(ok, ranks, strict=True) if r == 0], {"color": "#d62728", "size": 9}),
        (
            "dominated",
            [t for t, r in zip(ok, ranks, strict=True) if r > 0],
            {"color": "#1f77b4", "size": 6, "opacity": 0.3},
        ),
        (
            "infeasible",
            [t for t, f in zip(done, feasible, strict=True) if not f],
            {"color": "#9e9e9e", "size": 6, "symbol": "x"},
        ),
    )
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": f"{label} ({len(ts)})",
            "x": [float(t.values[0]) for t in ts],
            "y": [float(t.values[1]) for t in ts],
            "text": [f"#{t.number}" for t in ts],
            "marker": marker,
        }
        for label, ts, marker in groups
        if ts
    ]
    better = {"maximize": "higher is better", "minimize": "lower is better"}
    titles = [f"{html.escape(n, quote=False)} ({better[d]})" for n, d in zip(names, directions, strict=True)]
    return {"data": data, "layout": _layout(titles[0], titles[1])}


def hypervolume_figure(trials: list[FrozenTrial], directions: list[str]) -> dict[str, Any] | None:
    """The hypervolume the feasible trials so far dominate, against finished trials: the report's
    "hypervolume over trials" (the study's own [0, 1] scale, hpsearch.pareto), for the live page."""
    import numpy as np

    m = len(directions)
    finished = sorted((t for t in trials if is_finished(t)), key=lambda t: t.number)
    position = {t.number: i + 1 for i, t in enumerate(finished)}
    ok = [
        t
        for t in finished
        if t.state == TrialState.COMPLETE
        and t.values is not None
        and len(t.values) == m
        and all(math.isfinite(v) for v in t.values)
        and all(c <= 0 for c in t.constraints.values())
    ]
    if len(ok) < 2:
        return None
    values = np.array([t.values for t in ok], dtype=float)
    scale = pareto.Scale.fit(values, directions)
    volume = pareto.hypervolume_history(scale.normalise(values), [1 + pareto.REFERENCE_MARGIN] * m, ["minimize"] * m)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "hypervolume",
            "line": {"shape": "hv"},
            "x": [position[t.number] for t in ok],
            "y": [float(v) for v in volume],
        }
    ]
    return {"data": data, "layout": _layout("finished trials", "hypervolume (normalised)")}
