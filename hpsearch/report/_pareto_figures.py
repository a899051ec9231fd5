"""Figures of a study with several objectives: the Pareto front, its hypervolume over trials, parallel
coordinates coloured by rank.

Why separate figures: a multi-objective study has no single value per trial,
so the history, contour, slice and learning-curve figures (which all plot "the"
value) would draw objective 0 and mislead. These draw every objective, named
by the study's metric names, with dominance decided by hpsearch.pareto:
feasible trials only compete (an infeasible trial is greyed and never on the
front, whatever its values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from hpsearch import pareto
from hpsearch.records import direction_name
from hpsearch.report._html import Figure, plain
from hpsearch.results._studies import StudyData, TrialData

FRONT_COLOUR = "#d62728"
DOMINATED_COLOUR = "#1f77b4"
INFEASIBLE_COLOUR = "#9e9e9e"
MAX_LINES = 1000  # parallel-coordinate lines (WebGL; slow without a GPU past that)


@dataclass
class Points:
    """A study's results as the Pareto figures need them."""

    trials: list[TrialData]  # COMPLETE, every objective finite, trial-number order
    values: np.ndarray  # (n, objectives)
    feasible: np.ndarray  # bool per trial
    ranks: np.ndarray  # non-dominated rank among the feasible (0 = front); -1 for infeasible
    directions: list[str]
    names: list[str]


def points_of(study: StudyData) -> Points:
    trials, values = study.objective_values()
    directions: list[str] = [direction_name(d) for d in study.directions]
    feasible = np.array([t.feasible for t in trials], dtype=bool)
    ranks = np.full(len(trials), -1, dtype=int)
    if feasible.any():
        ranks[feasible] = pareto.nondominated_ranks(values[feasible], directions)
    return Points(trials, values, feasible, ranks, directions, list(study.metric_names))


def _label(name: str, direction: str) -> str:
    return f"{plain(name)} ({'higher' if direction == 'maximize' else 'lower'} is better)"


def _hover(p: Points, idx: np.ndarray) -> list[str]:
    return [
        f"#{p.trials[i].number}<br>"
        + "<br>".join(f"{plain(n)} = {v:.4g}" for n, v in zip(p.names, p.values[i], strict=True))
        for i in idx
    ]


def front(study: StudyData, p: Points) -> Figure | None:
    """The front highlighted (joined as a staircase in 2-D), dominated trials faint, infeasible grey."""
    if len(p.trials) == 0:
        return None
    groups = (
        ("Pareto front", np.flatnonzero(p.ranks == 0), dict(color=FRONT_COLOUR, size=9, opacity=1.0)),
        ("dominated", np.flatnonzero(p.ranks > 0), dict(color=DOMINATED_COLOUR, size=6, opacity=0.3)),
        ("infeasible", np.flatnonzero(~p.feasible), dict(color=INFEASIBLE_COLOUR, size=6, opacity=0.5, symbol="x")),
    )
    fig = go.Figure()
    m = p.values.shape[1]
    if m == 2:
        for name, idx, marker in groups:
            if len(idx):
                fig.add_scatter(
                    x=p.values[idx, 0],
                    y=p.values[idx, 1],
                    mode="markers",
                    name=f"{name} ({len(idx)})",
                    marker=marker,
                    text=_hover(p, idx),
                    hoverinfo="text",
                )
        on = np.flatnonzero(p.ranks == 0)
        if len(on) > 1:
            order = on[np.argsort(p.values[on, 0])]
            fig.add_scatter(
                x=p.values[order, 0],
                y=p.values[order, 1],
                mode="lines",
                line=dict(color=FRONT_COLOUR, width=1, shape="hv" if _staircase_hv(p) else "vh"),
                hoverinfo="skip",
                showlegend=False,
            )
        fig.update_layout(
            xaxis_title=_label(p.names[0], p.directions[0]), yaxis_title=_label(p.names[1], p.directions[1])
        )
    else:
        dims_of = [dict(label=plain(n)) for n in p.names]
        for name, idx, marker in groups:
            if len(idx):
                fig.add_trace(
                    go.Splom(
                        dimensions=[{**d, "values": p.values[idx, k]} for k, d in enumerate(dims_of)],
                        name=f"{name} ({len(idx)})",
                        marker=marker,
                        text=_hover(p, idx),
                        hoverinfo="text",
                        diagonal_visible=False,
                        showupperhalf=False,
                    )
                )
        fig.update_layout(height=260 * (m - 1) + 80)
    n_inf = int((~p.feasible).sum())
    return Figure(
        "pareto",
        "Pareto front",
        fig,
        f"Each dot is a complete trial. Red: the {int((p.ranks == 0).sum())} trials no other feasible trial beats "
        "on every objective (the front: each is a best trade-off); faint blue: dominated trials"
        + (f"; grey crosses: {n_inf} infeasible trials (a constraint is violated; never on the front)" if n_inf else "")
        + "."
        + ("" if m == 2 else " Every pair of objectives is drawn; a front point may look dominated in one pair."),
    )


def _staircase_hv(p: Points) -> bool:
    """Which way the 2-D front's staircase turns so that it bounds the region the front dominates: sorted
    by the first objective, a minimised first objective steps along it first, a maximised one last."""
    return p.directions[0] == "minimize"


def hypervolume_history(study: StudyData, p: Points) -> Figure | None:
    """The hypervolume of the feasible trials so far, against finished trials, on the study's own scale."""
    ok = np.flatnonzero(p.feasible)
    if len(ok) < 2:
        return None
    scale = pareto.Scale.fit(p.values[ok], p.directions)
    finished = study.finished
    position = {t.number: i for i, t in enumerate(finished)}
    x = np.array([position.get(p.trials[i].number, -1) for i in ok]) + 1
    keep = x > 0
    m = p.values.shape[1]
    hv = pareto.hypervolume_history(
        scale.normalise(p.values[ok][keep]), [1 + pareto.REFERENCE_MARGIN] * m, ["minimize"] * m
    )
    fig = go.Figure()
    fig.add_scatter(x=x[keep], y=hv, mode="lines", line=dict(shape="hv", width=2), name="hypervolume")
    fig.update_layout(xaxis_title="finished trials", yaxis_title="hypervolume (normalised)")
    ref = ", ".join(f"{plain(n)} {v:.4g}" for n, v in zip(p.names, scale.reference(), strict=True))
    return Figure(
        "hypervolume",
        "Hypervolume over trials",
        fig,
        "The volume of objective space the feasible trials so far dominate, after scaling each objective to "
        "[0, 1] between its best and worst value in this study; it grows only when a trial joins the front. "
        f"Reference point: {ref} (each objective's worst value plus {pareto.REFERENCE_MARGIN:.0%} of its range).",
    )


def parallel_by_rank(study: StudyData, p: Points, params: list[str]) -> Figure | None:
    """One line per feasible trial across the hyperparameters and every objective, coloured by rank."""
    from hpsearch.report._study_figures import _axis

    idx = np.flatnonzero(p.feasible)
    if len(idx) < 2:
        return None
    note = ""
    if len(idx) > MAX_LINES:  # the front always, the rest by rank
        idx = idx[np.argsort(p.ranks[idx], kind="stable")[:MAX_LINES]]
        idx.sort()
        note = f" Showing {MAX_LINES} of {int(p.feasible.sum())} feasible trials (the lowest ranks)."
    trials = [p.trials[i] for i in idx]
    dims = []
    for name in params:
        x, ax = _axis(study, name, trials)
        dim = dict(label=ax["title"], values=np.nan_to_num(x, nan=np.nanmin(x) if np.isfinite(x).any() else 0))
        if "tickvals" in ax:
            dim.update(tickvals=ax["tickvals"], ticktext=ax["ticktext"])
        dims.append(dim)
    for k, name in enumerate(p.names):
        dims.append(dict(label=plain(name), values=p.values[idx, k]))
    ranks = p.ranks[idx]
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line=dict(
                color=ranks,
                colorscale="Viridis",
                reversescale=True,
                showscale=True,
                colorbar=dict(title="rank"),
            ),
        )
    )
    fig.update_layout(margin=dict(l=70, r=40, t=70, b=40))
    return Figure(
        "parallel",
        "Parallel coordinates by rank",
        fig,
        "One line per feasible complete trial, across the hyperparameters and every objective, coloured by "
        "non-dominated rank (0, yellow: the Pareto front; 1: the front once that is removed; ...). "
        "Drag along an axis to filter." + note,
    )
