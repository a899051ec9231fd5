"""``hpsearch check``: validate a spec and show what a run would do, without running it."""

from __future__ import annotations

import math

import click
from rich.console import Console
from rich.table import Table

from hpsearch.cli._common import fmt


@click.command("check")
@click.argument("spec_path", metavar="SPEC")
def check(spec_path: str) -> None:
    """Validate a spec: the search space, grid search's grid and its size, and a
    gradient check of one sampled network. Touches no database.

    \b
    Examples:
      hpsearch check studies/digits.toml
    """
    from hpsearch.spec import CategoricalParam, load_spec

    spec = load_spec(spec_path)
    console = Console()
    s = spec.study
    goal = (
        ", ".join(f"{d} {n}" for d, n in zip(spec.directions, spec.objective_names, strict=True))
        if spec.is_multi_objective
        else f"{s.direction or '?'} {s.metric or 'value'}"
    )
    console.print(
        f"{spec_path}: valid. study {s.name!r}: objective {s.objective}, "
        f"{goal}, sampler {s.sampler}, "
        f"{s.n_trials} trials, seed {s.seed}, pruner {s.pruner}"
    )
    for metric, bound in (spec.constraints or {}).items():
        limits = [f"{op} {v:g}" for op, v in ((">=", bound.min), ("<=", bound.max)) if v is not None]
        console.print(f"constraint: {metric} {' and '.join(limits)} (trials outside are kept, never chosen)")
    from objectives import describe_objective  # a CSV's imputation and one-hot columns; a command's program

    for line in describe_objective(spec):
        console.print(line, markup=False, highlight=False)
    conditional = any(p.when for p in spec.space.values())
    columns = ("hyperparameter", "type", "values", "scale") + (("exists when",) if conditional else ())
    table = Table(*columns, title="search space")
    for name, p in spec.space.items():
        when = (_when_text(p.when),) if conditional else ()
        if isinstance(p, CategoricalParam):
            table.add_row(name, "categorical", ", ".join(map(str, p.choices)), "", *when)
        else:
            has_step = p.step is not None and not (p.type == "int" and p.step == 1)
            step = f" step {fmt(p.step)}" if has_step else ""
            table.add_row(name, p.type, f"{fmt(p.low)} .. {fmt(p.high)}{step}", "log" if p.log else "linear", *when)
    console.print(table)
    _print_grid(console, spec)
    _print_gradient_check(console, spec)


def _when_text(when: dict | None) -> str:
    """``optimizer in {sgd, momentum}`` (conditions joined by "and"); "always" without one."""
    if not when:
        return "always"
    return " and ".join(f"{parent} in {{{', '.join(map(str, values))}}}" for parent, values in when.items())


def _print_grid(console: Console, spec) -> None:
    """The grid grid search would run: points per axis and their values (never the grid listed)."""
    from hpsearch.conditions import has_conditions
    from hpsearch.space import GRID_CAP, Grid, grid_axes, grid_counts

    budget = spec.study.n_trials
    nominal = math.prod(grid_counts(spec.space, budget).values())
    if nominal > GRID_CAP:
        console.print(
            f"grid: for a budget of {budget} the grid would have {nominal} points; grid search "
            f"is capped at {GRID_CAP} (lower n_trials or give the axes grid = [...])"
        )
        return
    axes = grid_axes(spec.space, budget)
    size = Grid(spec.space, axes).size
    grid = Table("hyperparameter", "points", "grid values", title=f"grid for a budget of {budget}: {size} points")
    for name, axis in axes.items():
        shown = [fmt(axis.value(i)) for i in range(min(axis.count, _SHOWN))]
        more = (
            f", ... ({axis.count - _SHOWN} more), {fmt(axis.value(axis.count - 1))}"
            if axis.count > _SHOWN + 1
            else (f", {fmt(axis.value(_SHOWN))}" if axis.count == _SHOWN + 1 else "")
        )
        grid.add_row(name, str(axis.count), ", ".join(shown) + more)
    console.print(grid)
    product = " x ".join(str(a.count) for a in axes.values())
    if has_conditions(spec.space):
        product += f" = {math.prod(a.count for a in axes.values())} combinations, of which {size} are points"
        product += " (a conditional axis multiplies only the points where it exists)"
    else:
        product += f" = {size}"
    console.print(
        f"points per axis: {product}; numbers at the centres of equal (log) cells of their ranges, "
        "grid = [...] as given"
    )
    if size > budget:
        console.print(f"grid search would run a seeded random subset of {budget} of these {size} points")
    elif size < budget:
        console.print(f"grid search would stop after all {size} points (fewer than n_trials)")


_SHOWN = 12  # grid values printed per axis before "..."


def _print_gradient_check(console: Console, spec) -> None:
    from objectives import gradient_check_sample

    error = gradient_check_sample(spec)
    if error is None:
        console.print("gradient check: skipped (not a built-in network objective)")
        return
    verdict = "ok" if error < 1e-5 else "SUSPICIOUS (expected < 1e-5)"
    console.print(f"gradient check of one sampled network: max relative error {error:.2e} ({verdict})")
