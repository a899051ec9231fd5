"""A contour of the score over two hyperparameters the reader picks from a dropdown.

Why precomputed pairs: the report is one offline file with no server, so the
dropdown (a plotly ``updatemenu``) can only switch between traces that are
already in the page. Every pair of hyperparameters gets one interpolated
contour plus the trials of each arm on top; choosing a pair shows its traces
and sets the axes. The shading uses the trials of all arms together (more
points, a better surface); pruned and diverged trials sit at the worst value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from hpsearch.records import Direction
from hpsearch.report._compare_figures import Arms, color
from hpsearch.report._html import Figure, plain

RESOLUTION = 32  # contour grid points per axis: enough for a smooth picture, small in the file
MAX_PARAMS = 8  # at most 28 pairs in the dropdown
BANDWIDTH = 0.08  # Gaussian kernel width, as a share of each axis' range
MAX_POINTS = 1500  # trials drawn per pair (a seeded sample beyond that); the shading uses all


def _axis(arms: Arms, p: str, log: bool) -> tuple[Any, dict]:
    """(value -> plotting coordinate, layout of that axis)."""
    for ss in arms.values():
        for s in ss:
            d = s.distributions.get(p)
            if d is not None and hasattr(d, "choices"):
                choices = list(d.choices)
                return (
                    lambda v, choices=choices: float(choices.index(v)) if v in choices else math.nan,
                    dict(
                        type="linear",
                        tickvals=list(range(len(choices))),
                        ticktext=[plain(c) for c in choices],
                        title=dict(text=plain(p)),
                    ),
                )
    if log:
        return (
            lambda v: math.log10(v) if isinstance(v, (int, float)) and v > 0 else math.nan,
            dict(type="linear", tickvals=None, ticktext=None, title=dict(text=plain(p) + " (log10)")),
        )
    return (
        lambda v: float(v) if isinstance(v, (int, float)) else math.nan,
        dict(type="linear", tickvals=None, ticktext=None, title=dict(text=plain(p))),
    )


def _relayout(name: str, axis: dict) -> dict:
    """Flat relayout keys, so switching pairs resets ticks and range instead of merging them."""
    return {
        f"{name}.title.text": axis["title"]["text"],
        f"{name}.tickvals": axis["tickvals"],
        f"{name}.ticktext": axis["ticktext"],
        f"{name}.autorange": True,
    }


def _surface(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Kernel-weighted local mean of z over a RESOLUTION^2 grid; None when the points span no area.

    Why a smoother rather than triangulation: grids and categorical axes put
    many trials on a few lines, where Delaunay interpolation is slow (seconds
    per pair at 2,500 trials) or fails outright; a Gaussian-weighted mean is
    defined everywhere, costs one small matrix product and averages the noise
    of repeated points instead of drawing spikes between them.

    The Gaussian kernel is a product of one factor per axis, so the weights of
    the RESOLUTION^2 grid points come from RESOLUTION weights per axis and one
    matrix product: 2 x 32 exponentials per trial instead of 1,024 (a comparison
    of 6,480 trials spent seconds per pair on them). No weight underflows: both
    axes are scaled to [0, 1], so the smallest is exp(-0.5 * 2 / BANDWIDTH^2) ~ 1e-68,
    and the mean is the same up to the order of additions.
    """
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    gx = np.linspace(x.min(), x.max(), RESOLUTION)
    gy = np.linspace(y.min(), y.max(), RESOLUTION)
    ux, uy = (x - x.min()) / np.ptp(x), (y - y.min()) / np.ptp(y)
    wx = np.exp(-0.5 * ((gx - x.min()) / np.ptp(x) - ux[:, None]) ** 2 / BANDWIDTH**2)  # (trials, grid x)
    wy = np.exp(-0.5 * ((gy - y.min()) / np.ptp(y) - uy[:, None]) ** 2 / BANDWIDTH**2)  # (trials, grid y)
    gz = (wy.T @ (wx * z[:, None])) / (wy.T @ wx)  # [j, i]: grid point (gx[i], gy[j])
    return gx, gy, gz.reshape(RESOLUTION, RESOLUTION)


def _shown(n: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of an arm's trials to draw: all of them, or its share of MAX_POINTS."""
    if total <= MAX_POINTS:
        return np.arange(n)
    k = max(1, round(n * MAX_POINTS / total))
    return np.sort(rng.choice(n, size=min(n, k), replace=False))


def contour(
    arms: Arms, params: Sequence[str], log_params: set[str], worst: float, direction: Direction
) -> Figure | None:
    """Contour with a dropdown of hyperparameter pairs; None with fewer than two parameters."""
    params = list(params)[:MAX_PARAMS]
    if len(params) < 2 or not math.isfinite(worst):
        return None
    axes = {p: _axis(arms, p, p in log_params) for p in params}
    traces: list[go.Contour | go.Scatter] = []
    pairs: list[tuple[str, str, int, int]] = []  # (x, y, first trace, number of traces)
    for k, (px, py) in enumerate(itertools.combinations(params, 2)):
        fx, fy = axes[px][0], axes[py][0]
        per_arm = {}
        for name, studies in arms.items():
            pts = [
                (fx(t.params[px]), fy(t.params[py]), t.value if math.isfinite(t.value) else worst)
                for s in studies
                for t in s.finished
                if px in t.params and py in t.params
            ]
            pts = [q for q in pts if math.isfinite(q[0]) and math.isfinite(q[1])]
            if pts:
                per_arm[name] = np.array(pts, dtype=float)
        if not per_arm:
            continue
        start = len(traces)
        surf = _surface(*np.concatenate(list(per_arm.values())).T)
        if surf is not None:
            gx, gy, gz = (a.astype(np.float32) for a in surf)
            traces.append(
                go.Contour(
                    x=gx,
                    y=gy,
                    z=gz,
                    showlegend=False,
                    ncontours=12,
                    colorscale="Greys",
                    reversescale=direction == "maximize",
                    opacity=0.75,
                    colorbar=dict(title=dict(text="value"), len=0.8),
                    hoverinfo="skip",
                    line=dict(width=0.5),
                )
            )
        total = sum(len(a) for a in per_arm.values())
        rng = np.random.default_rng(k)
        for i, (name, _) in reversed(list(enumerate(arms.items()))):  # grid's few points on top
            if name not in per_arm:
                continue
            a = per_arm[name][_shown(len(per_arm[name]), total, rng)].astype(np.float32)
            traces.append(
                go.Scatter(
                    x=a[:, 0],
                    y=a[:, 1],
                    customdata=a[:, 2],
                    mode="markers",
                    name=plain(name),
                    legendgroup=name,
                    marker=dict(size=6, color=color(name, i), opacity=0.8, line=dict(width=0.5, color="white")),
                    hovertemplate="value %{customdata:.4g}<extra>" + plain(name) + "</extra>",
                )
            )
        pairs.append((px, py, start, len(traces) - start))
    if not traces:
        return None
    fig = go.Figure(data=traces)
    menu = []
    for px, py, start, n in pairs:
        visible = [start <= t < start + n for t in range(len(traces))]
        menu.append(
            dict(
                label=f"{plain(px)} × {plain(py)}",
                method="update",
                args=[{"visible": visible}, {**_relayout("xaxis", axes[px][1]), **_relayout("yaxis", axes[py][1])}],
            )
        )
    first = pairs[0]
    for t, trace in enumerate(fig.data):  # the first pair in the menu is the one shown
        trace.visible = first[2] <= t < first[2] + first[3]
    fig.update_layout(
        xaxis=axes[first[0]][1],
        yaxis=axes[first[1]][1],
        height=560,
        legend=dict(orientation="h", x=0, y=-0.15, yanchor="top", traceorder="reversed"),
        updatemenus=[
            dict(
                type="dropdown",
                buttons=menu,
                active=0,
                direction="down",
                showactive=True,
                x=0,
                xanchor="left",
                y=1.13,
                yanchor="top",
            )
        ],
        annotations=[dict(text="axes:", x=0, xref="paper", xanchor="right", y=1.1, yref="paper", showarrow=False)],
        margin=dict(l=60, r=20, t=70, b=90),
    )
    return Figure(
        "contour",
        "Contour over two hyperparameters of your choice",
        fig,
        "Pick the pair of axes from the dropdown. The shading is a local average of the trials of "
        f"all samplers together (Gaussian weights, {BANDWIDTH:.0%} of each axis wide; pruned and "
        "diverged trials at the worst value). The dots are the trials themselves, coloured by "
        f"sampler (a seeded sample of {MAX_POINTS} when there are more). Log-scaled hyperparameters "
        "are shown as log10.",
    )
