"""Figures of a comparison: one arm = one sampler, repeated over seeds.

The unit is a study repeat (docs/science.md): every curve is a median over repeats
with an interquartile band, on a common x-grid so repeats with different costs
line up.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hpsearch import samplers, stats
from hpsearch.records import Direction
from hpsearch.report._html import Figure, fmt, plain
from hpsearch.results._importance import worst_value
from hpsearch.results._studies import StudyData

MIN_EXPECTED_MAX = 5  # fewer values: do not draw an expected-max curve

Arms = dict[str, list[StudyData]]


def metric_of(arms: Arms) -> str:
    """The compared metric's name ("accuracy"), for axis titles (hpsearch.results StudyData.metric)."""
    return next((ss[0].metric for ss in arms.values() if ss), "value")


def color(sampler: str, i: int = 0) -> str:
    """The sampler's colour (hpsearch.samplers), the same in reports and on the dashboard."""
    return samplers.colour(sampler, i)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _x_of(s: StudyData, axis: str) -> np.ndarray:
    if axis == "trials":
        return np.arange(1, len(s.finished) + 1, dtype=float)
    return s.cumulative(axis)


def arm_curves(arms: Arms, direction: Direction, axis: str, n_points: int = 200) -> tuple[np.ndarray, dict]:
    """Common grid and, per arm, (median, q25, q75) of the best-so-far over repeats."""
    xmax = max((_x_of(s, axis)[-1] for a in arms.values() for s in a if s.finished), default=0.0)
    if axis == "trials":
        grid = np.arange(1, int(xmax) + 1, dtype=float)
    else:
        grid = np.linspace(0, xmax, n_points + 1)[1:] if xmax > 0 else np.array([])
    out = {}
    for name, studies in arms.items():
        curves = np.array(
            [stats.incumbent_on_grid(_x_of(s, axis), s.values(), grid, direction) for s in studies]
        ).reshape(len(studies), grid.size)
        out[name] = stats.median_iqr(curves, direction)
    return grid, out


def _steps(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explicit step-after coordinates, so a filled band steps exactly like its line."""
    xs = np.repeat(x, 2)[1:]
    ys = np.repeat(y, 2)[:-1]
    return xs, ys


def _band(
    fig: go.Figure, x, med, lo, hi, name: str, c: str, dash: str = "solid", step: bool = True, fill: bool = True
) -> None:
    x, med, lo, hi = (np.asarray(a, dtype=float) for a in (x, med, lo, hi))
    ok = np.isfinite(med)  # leading budgets where no repeat has a value yet
    x, med, lo, hi = x[ok], med[ok], lo[ok], hi[ok]
    if x.size == 0:
        return
    # a quartile still missing (repeats without a result) is drawn down to the lowest value shown
    floor, ceil = np.nanmin(np.concatenate([lo, med])), np.nanmax(np.concatenate([hi, med]))
    lo, hi = np.where(np.isfinite(lo), lo, floor), np.where(np.isfinite(hi), hi, ceil)
    if step and x.size > 1:
        (xs, med), (_, lo), (_, hi) = _steps(x, med), _steps(x, lo), _steps(x, hi)
        x = xs
    if fill:
        fig.add_scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.concatenate([hi, lo[::-1]]),
            fill="toself",
            mode="lines",
            fillcolor=_rgba(c, 0.18),
            line=dict(width=0),
            hoverinfo="skip",
            showlegend=False,
            legendgroup=name,
        )
    fig.add_scatter(
        x=x,
        y=med,
        mode="lines" if step else "lines+markers",
        name=plain(name),
        line=dict(color=c, width=2, dash=dash),
        legendgroup=name,
    )


def _focus(fig: go.Figure, arrays: list[np.ndarray]) -> None:
    """Zoom the y-axis onto the curves after their first quarter (hpsearch.stats.focus_range);
    double-clicking the plot shows everything."""
    shown = stats.focus_range(arrays)
    if shown is not None:
        fig.update_yaxes(range=shown)


_AXIS_TITLE = {
    "trials": "finished trials",
    "seconds": "cumulative trial seconds (as if run one after another)",
    "epochs": "cumulative epochs trained (incl. pruned trials)",
}


def best_so_far(arms: Arms, direction: Direction, axis: str) -> Figure | None:
    grid, curves = arm_curves(arms, direction, axis)
    if grid.size == 0:
        return None
    fig = go.Figure()
    for i, (name, (med, lo, hi)) in enumerate(curves.items()):
        _band(fig, grid, med, lo, hi, name, color(name, i))
    _focus(fig, [a for m in curves.values() for a in m])
    fig.update_layout(xaxis_title=_AXIS_TITLE[axis], yaxis_title=f"best {plain(metric_of(arms))} so far")
    k = max(len(a) for a in arms.values())
    return Figure(
        f"best-{axis}",
        f"Best so far against {_AXIS_TITLE[axis].split(' (')[0]}",
        fig,
        f"Median over repeats (line) and interquartile band, up to {k} repeats per sampler. "
        "The y-axis is zoomed past the first quarter of the budget; double-click to see all.",
    )


def _expected_max_arm(
    fig: go.Figure, name: str, studies: list[StudyData], direction: Direction, worst: float, c: str, seed: int
) -> tuple[list[np.ndarray], str]:
    """Draw one arm's expected best of n; return the arrays shown and a note for the reader."""
    used = [s for s in studies if len(s.finished) >= MIN_EXPECTED_MAX]
    if not used:
        return [], (
            f"{name}: no repeat has {MIN_EXPECTED_MAX} finished trials yet, too few for an expected-best curve."
        )
    repeats = [stats.fill_worst(s.values(), worst) for s in used]
    ns, mean, lo, hi = stats.expected_max_repeats(repeats, direction, seed=seed)
    _band(fig, ns, mean, lo, hi, f"{name}: expected best of n", c, step=False)
    n_worst = sum(int(np.sum(~np.isfinite(s.values()))) for s in used)
    how = (
        "its first n trials are a uniform draw from the grid, because the grid runs in a seeded shuffle of its points"
        if name == "grid"
        else "its trials are independent draws"
    )
    if name == "qmc":
        how = "quasi-random points are treated as a uniform draw (an approximation)"
    note = f"{name}: mean over {len(used)} repeats of each repeat's exact expected best of its first n trials ({how})"
    if n_worst:
        note += f"; {n_worst} pruned or diverged trials count as the worst value, {fmt(worst, 4)}"
    if len(used) < len(studies):
        note += f"; {len(studies) - len(used)} repeats with fewer than {MIN_EXPECTED_MAX} trials left out"
    if min(len(r) for r in repeats) < max(len(r) for r in repeats):
        note += f"; drawn up to n = {ns[-1]}, the shortest repeat's trials"
    return [mean, lo, hi], note + "."


def expected_max(arms: Arms, direction: Direction, budget: int, seed: int = 0) -> tuple[Figure | None, list[str]]:
    """Expected best of n against budget for every arm that allows it; TPE as repeated-study curves.

    docs/science.md ("Expected max vs budget"): pruned and diverged trials stay
    in as the worst value any trial of the comparison reached, so every arm's n
    counts the same thing, and the band is a bootstrap over repeats.
    """
    fig = go.Figure()
    notes: list[str] = []
    shown: list[np.ndarray] = []
    worst = worst_value([s for ss in arms.values() for s in ss])
    if not math.isfinite(worst):
        return None, ["No trial has a value yet."]
    for i, (name, studies) in enumerate(arms.items()):
        c = color(name, i)
        if samplers.is_exchangeable(name):  # first n trials = a uniform draw without replacement
            arrays, note = _expected_max_arm(fig, name, studies, direction, worst, c, seed)
            shown += arrays
            notes.append(note)
            continue
        n = min((len(s.finished) for s in studies), default=0)
        if n < MIN_EXPECTED_MAX:
            continue
        curves = np.array([stats.incumbent(stats.fill_worst(s.values()[:n], worst), direction) for s in studies])
        med, lo, hi = stats.median_iqr(curves, direction)
        _band(
            fig, np.arange(1, n + 1), med, lo, hi, f"{name}: median best of repeated studies", c, dash="dot", fill=False
        )  # its IQR band is in the best-so-far plot above
        shown.append(med)
        notes.append(
            f"{name}: trials are not independent draws"
            + (" (each TPE trial depends on the earlier ones)" if name == "tpe" else "")
            + ", so no expected best; the dotted line is the median best-so-far of its "
            f"{len(studies)} repeated studies."
        )
    if not shown:
        return None, notes
    _focus(fig, shown)
    fig.update_layout(
        xaxis_title="budget n (trials, pruned and diverged included)",
        yaxis_title=f"expected best {plain(metric_of(arms))}",
    )
    return Figure(
        "expected-max",
        "Expected best validation score against budget",
        fig,
        "Solid: expected best of n trials, estimated exactly per repeat without replacement "
        "(Dodge et al. 2019; Tang et al. 2020) and averaged over repeats; band = 95 % bootstrap "
        "interval over repeats. A pruned or diverged trial counts as the worst value.",
    ), notes


def final_distribution(finals: dict[str, list[float]], seeds: dict[str, list]) -> Figure:
    fig = go.Figure()
    for i, (name, vals) in enumerate(finals.items()):
        fig.add_box(
            y=vals,
            name=plain(name),
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            marker=dict(color=color(name, i)),
            text=[f"seed {plain(s)}" for s in seeds[name]],
        )
    fig.update_layout(yaxis_title="best value at the final budget", showlegend=False)
    return Figure(
        "final", "Final-budget best value per sampler", fig, "One point per repeat (study); box = median and quartiles."
    )


def cost(arms: Arms) -> Figure | None:
    """Seconds each arm spent: per repeat (the whole study) and per trial.

    A sampler that wins on trials can still lose on time (TPE's own overhead,
    a grid that lands on wide networks); the reader needs both views.
    """
    if not any(s.has("seconds") for ss in arms.values() for s in ss):
        return None
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=["seconds per repeat (whole study)", "seconds per trial"]
    )
    for i, (name, studies) in enumerate(arms.items()):
        c = color(name, i)
        totals = [float(s.cumulative("seconds")[-1]) for s in studies if s.finished]
        per_trial = [t.seconds for s in studies for t in s.finished if math.isfinite(t.seconds)]
        fig.add_box(
            y=totals,
            name=plain(name),
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            marker=dict(color=c),
            text=[f"seed {plain(s.seed)}" for s in studies if s.finished],
            row=1,
            col=1,
            legendgroup=name,
        )
        fig.add_box(
            y=per_trial, name=plain(name), boxpoints="outliers", marker=dict(color=c), row=1, col=2, legendgroup=name
        )
    fig.update_yaxes(title_text="seconds", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(showlegend=False, margin=dict(l=60, r=20, t=40, b=50))
    return Figure(
        "cost",
        "Cost in seconds per sampler",
        fig,
        "Left: total trial seconds of each repeat (one point per study; trials timed one after "
        "another, so workers running in parallel do not hide cost). Right: seconds per finished "
        "trial, pruned and diverged included, on a log scale.",
    )
