"""Figures of one study, built with plotly.graph_objects directly.

Why not optuna.visualization: it re-reads the study per plot and draws one
marker trace per trial in places, which is slow and huge at 5,000 trials. Here
every figure is a handful of traces over arrays, and plots that would choke
(learning curves, pruned-vs-complete) draw a subsample and say so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hpsearch import stats
from hpsearch.records import Direction
from hpsearch.report._html import Figure, plain
from hpsearch.report._ticks import log_ticks
from hpsearch.results._studies import StudyData, TrialData

MAX_CURVES = 300  # learning curves drawn in the pruned-vs-complete plot
TOP_CURVES = 10
_LATER = [[0.0, "#9ecae1"], [1.0, "#08306b"]]  # trial number: light (early) to dark (late), never white
MAX_POINTS = 1500  # markers per slice / contour overlay (SVG slows down past a few thousand)
MAX_LINES = 1000  # parallel-coordinate lines (WebGL; slow without a GPU past that)
MIN_CONTOUR = 8  # fewer trials: an interpolated surface would be mostly invented


def _is_log(d: Any) -> bool:
    return bool(getattr(d, "log", False))


def _is_cat(d: Any) -> bool:
    return isinstance(d, optuna.distributions.CategoricalDistribution)


def _axis(study: StudyData, name: str, trials: list[TrialData]) -> tuple[np.ndarray, dict]:
    """Numeric coordinates of a param (log10 / category index) and axis labels."""
    d = study.distributions.get(name)
    raw = [t.params.get(name) for t in trials]
    if _is_cat(d) or any(isinstance(v, str) for v in raw if v is not None):
        choices = getattr(d, "choices", None) if _is_cat(d) else None
        cats = [str(c) for c in choices] if choices is not None else sorted({str(v) for v in raw if v is not None})
        pos = {c: i for i, c in enumerate(cats)}
        x = np.array([pos.get(str(v), np.nan) if v is not None else np.nan for v in raw], dtype=float)
        return x, dict(tickvals=list(range(len(cats))), ticktext=[plain(c) for c in cats], title=plain(name))
    x = np.array([np.nan if v is None else float(v) for v in raw], dtype=float)
    if _is_log(d):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(x), dict(title=f"log10({plain(name)})")
    return x, dict(title=plain(name))


def _subsample(
    trials: list[TrialData], direction: Direction, seed: int = 0, limit: int = MAX_POINTS
) -> tuple[list[TrialData], str]:
    """At most ``limit`` trials: the best 100 always, the rest drawn at random."""
    if len(trials) <= limit:
        return trials, ""
    sign = -1 if direction == "maximize" else 1
    ranked = sorted(trials, key=lambda t: sign * t.value)
    rest = ranked[100:]
    idx = np.random.default_rng(seed).choice(len(rest), limit - 100, replace=False)
    keep = sorted(ranked[:100] + [rest[i] for i in idx], key=lambda t: t.number)
    return keep, f" Showing {limit} of {len(trials)} trials (the best 100 and a random sample)."


def history(study: StudyData) -> Figure:
    fin = study.finished
    n = np.arange(1, len(fin) + 1)
    v = study.values()
    ok = np.isfinite(v)
    fig = go.Figure()
    size = 7 if len(fin) <= 500 else 4
    fig.add_scatter(x=n[ok], y=v[ok], mode="markers", name="trial value", marker=dict(size=size, opacity=0.7))
    fig.add_scatter(
        x=n, y=stats.incumbent(v, study.direction), mode="lines", name="best so far", line=dict(shape="hv", width=2)
    )
    fig.update_layout(xaxis_title="finished trials", yaxis_title=study.metric)
    return Figure(
        "history",
        "Optimization history",
        fig,
        "Each dot is a complete trial; the line is the best value found so far. "
        "Pruned and diverged trials use budget (x advances) but have no value.",
    )


def parallel(study: StudyData, params: list[str]) -> Figure | None:
    done = [t for t in study.trials if math.isfinite(t.value)]
    if len(done) < 2 or not params:
        return None
    done, note = _subsample(done, study.direction, limit=MAX_LINES)
    dims = []
    for p in params:
        x, ax = _axis(study, p, done)
        dim = dict(label=ax["title"], values=np.nan_to_num(x, nan=np.nanmin(x) if np.isfinite(x).any() else 0))
        if "tickvals" in ax:
            dim.update(tickvals=ax["tickvals"], ticktext=ax["ticktext"])
        dims.append(dim)
    v = np.array([t.value for t in done])
    dims.append(dict(label=study.metric, values=v))
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line=dict(color=v, colorscale="Viridis", showscale=True, reversescale=study.direction == "minimize"),
        )
    )
    fig.update_layout(margin=dict(l=70, r=40, t=70, b=40))
    return Figure(
        "parallel",
        "Parallel coordinates",
        fig,
        f"One line per complete trial, coloured by {plain(study.metric)}; drag along an axis to filter." + note,
    )


def slices(study: StudyData, params: list[str]) -> Figure | None:
    done = [t for t in study.trials if math.isfinite(t.value)]
    if not done or not params:
        return None
    done, note = _subsample(done, study.direction)
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[plain(p) for p in params],
        horizontal_spacing=0.06,
        vertical_spacing=0.25 / rows,
    )
    v = np.array([t.value for t in done])
    num = np.array([t.number for t in done])
    for i, p in enumerate(params):
        r, c = i // cols + 1, i % cols + 1
        d = study.distributions.get(p)
        raw = [t.params.get(p) for t in done]
        x = [plain(x) if isinstance(x, str) else x for x in raw]
        fig.add_scatter(
            x=x,
            y=v,
            mode="markers",
            row=r,
            col=c,
            showlegend=False,
            marker=dict(size=7 if len(done) <= 500 else 4, color=num, colorscale=_LATER, opacity=0.8),
        )
        if _is_log(d):
            fig.update_xaxes(type="log", row=r, col=c, **log_ticks(getattr(d, "low", 0.0), getattr(d, "high", 0.0)))
        if _is_cat(d):
            fig.update_xaxes(type="category", row=r, col=c)
    fig.update_yaxes(title_text=plain(study.metric), col=1)
    fig.update_layout(height=max(320, 260 * rows))
    caption = f"{plain(study.metric).capitalize()} against each hyperparameter; darker dots are later trials."
    return Figure("slice", "Slice plots", fig, caption + note)


def contour(study: StudyData, pair: list[str], bins: int = 20) -> Figure | None:
    done = [t for t in study.trials if math.isfinite(t.value)]
    if len(pair) < 2 or len(done) < MIN_CONTOUR:
        return None
    (x, ax), (y, ay) = _axis(study, pair[0], done), _axis(study, pair[1], done)
    v = np.array([t.value for t in done])
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, v = x[ok], y[ok], v[ok]
    if len(v) < MIN_CONTOUR or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    ex = _edges(x, ax, bins)
    ey = _edges(y, ay, bins)
    s, _, _ = np.histogram2d(x, y, bins=[ex, ey], weights=v)
    cnt, _, _ = np.histogram2d(x, y, bins=[ex, ey])
    with np.errstate(invalid="ignore"):
        z = (s / cnt).T
    fig = go.Figure()
    fig.add_contour(
        x=(ex[:-1] + ex[1:]) / 2,
        y=(ey[:-1] + ey[1:]) / 2,
        z=z,
        connectgaps=True,
        colorscale="Viridis",
        reversescale=study.direction == "minimize",
        name="mean value",
    )
    shown = np.sort(np.random.default_rng(0).choice(len(v), min(len(v), MAX_POINTS), replace=False))
    fig.add_scatter(
        x=x[shown],
        y=y[shown],
        mode="markers",
        name="trials",
        showlegend=False,
        marker=dict(size=4, color="white", line=dict(width=0.5, color="black")),
    )
    fig.update_xaxes(**_ticks(ax))
    fig.update_yaxes(**_ticks(ay))
    return Figure(
        "contour",
        "Contour of the two most important parameters",
        fig,
        "Mean objective value per cell (gaps interpolated) over all complete trials; dots are "
        + (f"{len(shown)} of them." if len(shown) < len(v) else "the trials."),
    )


def _edges(x: np.ndarray, ax: dict, bins: int) -> np.ndarray:
    if "tickvals" in ax:
        return np.arange(len(ax["tickvals"]) + 1) - 0.5
    return np.linspace(x.min(), x.max(), bins + 1)


def _ticks(ax: dict) -> dict:
    out: dict = {"title": ax["title"]}
    if "tickvals" in ax:
        out.update(tickvals=ax["tickvals"], ticktext=ax["ticktext"])
    return out


def importance(imp: dict[str, float], note: str) -> Figure | None:
    if not imp:
        return None
    names = list(imp)[::-1]
    fig = go.Figure(go.Bar(x=[imp[n] for n in names], y=[plain(n) for n in names], orientation="h"))
    fig.update_layout(xaxis_title="importance", height=max(260, 40 * len(names) + 100))
    return Figure("importance", "Hyperparameter importance", fig, note)


def learning_curves(study: StudyData) -> Figure | None:
    done = [t for t in study.trials if math.isfinite(t.value) and t.curve]
    if not done:
        return None
    sign = -1 if study.direction == "maximize" else 1
    top = sorted(done, key=lambda t: sign * t.value)[:TOP_CURVES]
    fig = go.Figure()
    for t in top:
        fig.add_scatter(
            x=list(range(1, len(t.curve) + 1)), y=t.curve, mode="lines", name=f"#{t.number} ({t.value:.4g})"
        )
    fig.update_layout(xaxis_title="epoch", yaxis_title="validation metric")
    return Figure(
        "curves",
        f"Learning curves of the top {len(top)} trials",
        fig,
        "Validation metric per epoch of the best trials.",
    )


def states(study: StudyData, seed: int = 0) -> Figure | None:
    """Pruned vs complete: their learning curves if any were recorded, else counts. None when no
    trial was pruned (no pruner, or one that never stopped a trial): the page's header already
    counts the trials by state, and a "pruned vs complete" panel of complete trials only says nothing."""
    counts = {k: v for k, v in study.counts().items() if v}
    if not counts.get("pruned"):
        return None
    with_curve = [t for t in study.trials if t.curve and t.state in ("COMPLETE", "PRUNED")]
    fig = go.Figure()
    note = ", ".join(f"{k}: {v}" for k, v in counts.items())
    if not with_curve:
        fig.add_bar(x=list(counts), y=list(counts.values()))
        fig.update_layout(yaxis_title="trials")
        return Figure("states", "Trials by state", fig, note)
    if len(with_curve) > MAX_CURVES:
        idx = np.random.default_rng(seed).choice(len(with_curve), MAX_CURVES, replace=False)
        with_curve = [with_curve[i] for i in sorted(idx)]
        note += f" (curves of {MAX_CURVES} randomly chosen trials drawn)"
    for state, color in (("COMPLETE", "#1a7f37"), ("PRUNED", "#e8590c")):
        xs: list = []
        ys: list = []
        for t in with_curve:
            if t.state == state:
                xs += list(range(1, len(t.curve) + 1)) + [None]
                ys += [None if not math.isfinite(c) else c for c in t.curve] + [None]
        if xs:
            fig.add_scatter(x=xs, y=ys, mode="lines", name=state.lower(), line=dict(color=color, width=1), opacity=0.6)
    fig.update_layout(xaxis_title="epoch", yaxis_title="validation metric")
    return Figure(
        "states",
        "Pruned vs complete trials",
        fig,
        "Learning curves of complete and pruned trials; pruned ones stop early. " + note,
    )
