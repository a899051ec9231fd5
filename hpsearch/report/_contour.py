"""A contour of the score over two hyperparameters the reader picks from a dropdown.

Why precomputed pairs: the report is one offline file with no server, so the
dropdown (a plotly ``updatemenu``) can only switch between traces that are
already in the page. Every pair of hyperparameters gets one interpolated
contour plus the trials of each arm on top; choosing a pair shows its traces
and sets the axes. Interpolation uses the trials of all arms together (more
points, a better surface); pruned and diverged trials sit at the worst value.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from scipy.interpolate import griddata

from hpsearch.report._compare_figures import Arms, color
from hpsearch.report._html import Figure, plain

RESOLUTION = 32  # contour grid points per axis: enough for a smooth picture, small in the file
MAX_PARAMS = 8  # at most 28 pairs in the dropdown


def _axis(arms: Arms, p: str, log: bool) -> tuple[Any, dict]:
    """(value -> plotting coordinate, layout of that axis)."""
    for ss in arms.values():
        for s in ss:
            d = s.distributions.get(p)
            if d is not None and hasattr(d, "choices"):
                choices = list(d.choices)
                return (lambda v: float(choices.index(v)) if v in choices else math.nan,
                        dict(type="linear", tickvals=list(range(len(choices))),
                             ticktext=[plain(c) for c in choices], title=dict(text=plain(p))))
    if log:
        return (lambda v: math.log10(v) if isinstance(v, (int, float)) and v > 0 else math.nan,
                dict(type="linear", tickvals=None, ticktext=None, title=dict(text=plain(p) + " (log10)")))
    return (lambda v: float(v) if isinstance(v, (int, float)) else math.nan,
            dict(type="linear", tickvals=None, ticktext=None, title=dict(text=plain(p))))


def _relayout(name: str, axis: dict) -> dict:
    """Flat relayout keys, so switching pairs resets ticks and range instead of merging them."""
    return {f"{name}.title.text": axis["title"]["text"], f"{name}.tickvals": axis["tickvals"],
            f"{name}.ticktext": axis["ticktext"], f"{name}.autorange": True}


def _surface(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Linear interpolation of z over a RESOLUTION^2 grid; None when the points span no area."""
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    # average repeated points (grids, categoricals) so the triangulation sees each location once
    keys, inv = np.unique(np.column_stack([x, y]), axis=0, return_inverse=True)
    zz = np.bincount(inv.ravel(), weights=z) / np.bincount(inv.ravel())
    gx = np.linspace(x.min(), x.max(), RESOLUTION)
    gy = np.linspace(y.min(), y.max(), RESOLUTION)
    mx, my = np.meshgrid(gx, gy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            gz = griddata(keys, zz, (mx, my), method="linear")
        except Exception:  # collinear points: Qhull cannot triangulate them
            return None
    if not np.any(np.isfinite(gz)):
        return None
    # corners outside the points' convex hull: nearest trial, so the shading reaches the axis ends
    gap = ~np.isfinite(gz)
    if gap.any():
        gz[gap] = griddata(keys, zz, (mx[gap], my[gap]), method="nearest")
    return gx, gy, gz


def contour(arms: Arms, params: Sequence[str], log_params: set[str], worst: float,
            direction: str) -> Figure | None:
    """Contour with a dropdown of hyperparameter pairs; None with fewer than two parameters."""
    params = list(params)[:MAX_PARAMS]
    if len(params) < 2 or not math.isfinite(worst):
        return None
    axes = {p: _axis(arms, p, p in log_params) for p in params}
    fig = go.Figure()
    buttons = []
    n_traces_per_pair: list[int] = []
    for k, (px, py) in enumerate(itertools.combinations(params, 2)):
        fx, fy = axes[px][0], axes[py][0]
        start = len(fig.data)
        all_x, all_y, all_z = [], [], []
        for i, (name, studies) in reversed(list(enumerate(arms.items()))):  # grid's few points on top
            pts = [(fx(t.params[px]), fy(t.params[py]), t.value if math.isfinite(t.value) else worst)
                   for s in studies for t in s.finished if px in t.params and py in t.params]
            pts = [q for q in pts if math.isfinite(q[0]) and math.isfinite(q[1])]
            if not pts:
                continue
            x, y, z = (np.array(a, dtype=float) for a in zip(*pts))
            all_x.append(x), all_y.append(y), all_z.append(z)
            fig.add_scatter(x=x, y=y, mode="markers", name=plain(name), legendgroup=name, visible=k == 0,
                            showlegend=True, marker=dict(size=6, color=color(name, i), opacity=0.8,
                                                         line=dict(width=0.5, color="white")),
                            customdata=z, hovertemplate="value %{customdata:.4g}<extra>" + plain(name) + "</extra>")
        if all_x:
            surf = _surface(np.concatenate(all_x), np.concatenate(all_y), np.concatenate(all_z))
            if surf is not None:
                gx, gy, gz = surf
                fig.add_contour(x=gx, y=gy, z=gz, visible=k == 0, showlegend=False, ncontours=12,
                                colorscale="Greys", reversescale=direction == "maximize", opacity=0.75,
                                colorbar=dict(title=dict(text="value"), len=0.8), hoverinfo="skip",
                                line=dict(width=0.5))
                # contour below the points: move it before this pair's scatter traces
                data = list(fig.data)
                data.insert(start, data.pop())
                fig.data = data
        n_traces_per_pair.append(len(fig.data) - start)
        buttons.append((px, py, start))
    if not fig.data:
        return None
    total = len(fig.data)
    menu = []
    for (px, py, start), n in zip(buttons, n_traces_per_pair):
        if n == 0:
            continue
        visible = [start <= t < start + n for t in range(total)]
        menu.append(dict(label=f"{plain(px)} × {plain(py)}", method="update",
                         args=[{"visible": visible}, {**_relayout("xaxis", axes[px][1]),
                                                      **_relayout("yaxis", axes[py][1])}]))
    first = buttons[0]
    fig.update_layout(
        xaxis=axes[first[0]][1], yaxis=axes[first[1]][1], height=560,
        legend=dict(orientation="h", x=0, y=-0.15, yanchor="top", traceorder="reversed"),
        updatemenus=[dict(type="dropdown", buttons=menu, active=0, direction="down", showactive=True,
                          x=0, xanchor="left", y=1.13, yanchor="top")],
        annotations=[dict(text="axes:", x=0, xref="paper", xanchor="right", y=1.1, yref="paper",
                          showarrow=False)],
        margin=dict(l=60, r=20, t=70, b=90))
    return Figure("contour", "Contour over two hyperparameters of your choice", fig,
                  "Pick the pair of axes from the dropdown. The shading interpolates the trials of all "
                  "samplers together: linear between trials, the nearest trial beyond them, pruned and "
                  "diverged trials at the worst value. The dots are the trials themselves, coloured by "
                  "sampler. Log-scaled hyperparameters are shown as log10.")
