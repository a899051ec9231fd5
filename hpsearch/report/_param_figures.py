"""Per-hyperparameter figures of a comparison: score against each value, and importance spread.

Why these two: Bergstra & Bengio's argument is visible only per axis. A grid
tries a few columns of values on each axis, random search a new value every
trial; plotting score against each hyperparameter, coloured by arm, shows both
how much of the axis each arm saw and where the score moves. The importance
figure then says which axes matter, with one point per study so the reader sees
how much a single study's ranking can be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from plotly.subplots import make_subplots

from hpsearch.report._compare_figures import Arms, color
from hpsearch.report._html import Figure, plain
from hpsearch.report._ticks import log_ticks
from hpsearch.results._studies import StudyData

ARM_OFFSET = 0.12  # categorical axes: arms side by side around each choice


def _choices(arms: Arms, p: str) -> list[Any] | None:
    """The choices of a categorical parameter (None for numeric ones)."""
    for ss in arms.values():
        for s in ss:
            d = s.distributions.get(p)
            if d is not None and hasattr(d, "choices"):
                return list(d.choices)
    return None


def _repeat_ids(studies: Sequence[StudyData]) -> tuple[str, list[int]]:
    """How the hover names each study of an arm: its seed when every seed is an int, else its position."""
    seeds = [s.seed for s in studies]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in seeds):
        return "seed", seeds
    return "repeat", list(range(len(studies)))


def score_vs_param(
    arms: Arms, params: Sequence[str], log_params: set[str], worst: float, metric: str = "value"
) -> Figure | None:
    """Every finished trial of every repeat: score against each hyperparameter, coloured by arm."""
    if not params or not math.isfinite(worst):
        return None
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[plain(p) for p in params],
        horizontal_spacing=0.07,
        vertical_spacing=0.32 / rows,
        shared_yaxes=True,
    )
    n_arms = len(arms)
    for j, p in enumerate(params):
        r, c = j // cols + 1, j % cols + 1
        choices = _choices(arms, p)
        # grid first and hollow: its columns of repeated points sit under random's and TPE's, never hide them
        shown_x: list[float] = []
        for i, (name, studies) in enumerate(arms.items()):
            id_label, ids = _repeat_ids(studies)
            pts = [
                (t.params[p], t.value, ids[k], t.number)
                for k, s in enumerate(studies)
                for t in s.finished
                if p in t.params
            ]
            if not pts:
                continue
            if choices is not None:
                shift = (i - (n_arms - 1) / 2) * ARM_OFFSET
                x = np.array([choices.index(v) + shift if v in choices else math.nan for v, *_ in pts])
            else:
                x = np.array([v for v, *_ in pts], dtype=float)
                shown_x += [float(v) for v in x if math.isfinite(v)]
            y = np.array([v for _, v, *_ in pts], dtype=float)
            who = np.array([q[2:] for q in pts], dtype=np.int32)  # (seed or repeat, trial) for the hover
            ok = np.isfinite(y)
            y = np.where(ok, y, worst)
            dot = "circle-open" if name == "grid" else "circle"
            for mask, symbol, label in ((ok, dot, ""), (~ok, "x", " (pruned/diverged, at worst)")):
                if not mask.any():
                    continue
                fig.add_scatter(
                    x=x[mask].astype(np.float32),
                    y=y[mask].astype(np.float32),
                    customdata=who[mask],
                    mode="markers",
                    row=r,
                    col=c,
                    name=plain(name) + label,
                    legendgroup=name + label,
                    showlegend=j == 0,
                    marker=dict(size=5, color=color(name, i), opacity=0.55, symbol=symbol),
                    hovertemplate=f"%{{x}}: %{{y}}<br>{id_label} %{{customdata[0]}}, trial %{{customdata[1]}}"
                    f"<extra>{plain(name)}</extra>",
                )
        if choices is not None:
            fig.update_xaxes(tickvals=list(range(len(choices))), ticktext=[plain(v) for v in choices], row=r, col=c)
        elif p in log_params:
            fig.update_xaxes(type="log", row=r, col=c, **log_ticks(min(shown_x, default=0), max(shown_x, default=0)))
    fig.update_yaxes(title_text=plain(metric), col=1)
    fig.update_layout(height=max(360, 300 * rows), legend=dict(orientation="h", y=-0.12 / rows))
    return Figure(
        "score-vs-param",
        "Score against each hyperparameter",
        fig,
        "Every finished trial of every repeat, coloured by sampler; crosses are pruned or diverged "
        "trials, drawn at the worst value. A grid shows a few columns per axis (hollow circles, drawn "
        "underneath), random search a spread; on categorical axes the samplers sit side by side around "
        "each choice.",
    )


def importance_figure(
    per: dict[str, list[tuple[StudyData, dict[str, float]]]], order: Sequence[str], arm_names: Sequence[str]
) -> Figure | None:
    """One point per study and method; a black bar marks the median and quartiles across studies.

    ``per`` maps a method label to (study, importances) pairs; ``order`` lists
    the parameters top to bottom (most important first).
    """
    if not order or not any(per.values()):
        return None
    fig = make_subplots(rows=1, cols=len(per), subplot_titles=list(per), shared_yaxes=True, horizontal_spacing=0.06)
    ypos = {p: len(order) - 1 - k for k, p in enumerate(order)}
    rng = np.random.default_rng(0)
    for col, results in enumerate(per.values(), start=1):
        for i, name in enumerate(arm_names):
            got = [(p, imp.get(p, 0.0)) for s, imp in results if s.sampler == name for p in order]
            if not got:
                continue
            fig.add_scatter(
                x=[v for _, v in got],
                y=[ypos[p] + rng.uniform(-0.2, 0.2) for p, _ in got],
                mode="markers",
                name=plain(name),
                legendgroup=name,
                showlegend=col == 1,
                marker=dict(size=6, color=color(name, i), opacity=0.7),
                row=1,
                col=col,
                hovertemplate="%{x:.3f}<extra>" + plain(name) + "</extra>",
            )
        for p in order:
            v = np.array([imp.get(p, 0.0) for _, imp in results], dtype=float)
            if v.size == 0:
                continue
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            fig.add_scatter(
                x=[q1, q3],
                y=[ypos[p]] * 2,
                mode="lines",
                line=dict(color="black", width=3),
                showlegend=False,
                hoverinfo="skip",
                row=1,
                col=col,
            )
            fig.add_scatter(
                x=[med],
                y=[ypos[p]],
                mode="markers",
                showlegend=False,
                row=1,
                col=col,
                marker=dict(symbol="line-ns-open", size=16, color="black", line=dict(width=3)),
                hovertemplate=f"median %{{x:.3f}} [IQR {q1:.3f}-{q3:.3f}]<extra></extra>",
            )
        fig.update_xaxes(range=[-0.02, 1.02], title_text="importance (share, per study)", row=1, col=col)
    fig.update_yaxes(tickvals=list(ypos.values()), ticktext=[plain(p) for p in ypos], row=1, col=1)
    fig.update_layout(
        height=max(320, 60 * len(order) + 140), legend=dict(orientation="h", y=-0.12 - 0.6 / (len(order) + 2))
    )
    return Figure(
        "importance",
        "Importance per study",
        fig,
        "Each dot is one study (one repeat of one sampler); the black bar spans the interquartile "
        "range across studies and the tick marks the median. fANOVA explains the variance over the "
        "whole space; PED-ANOVA asks what separates the best 10 % of trials from the rest.",
    )
