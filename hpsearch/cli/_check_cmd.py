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
    console.print(f"{spec_path}: valid. study {s.name!r}: objective {s.objective}, "
                  f"{s.direction or '?'} {s.metric or 'value'}, sampler {s.sampler}, "
                  f"{s.n_trials} trials, seed {s.seed}, pruner {s.pruner}")
    table = Table("hyperparameter", "type", "values", "scale", title="search space")
    for name, p in spec.space.items():
        if isinstance(p, CategoricalParam):
            table.add_row(name, "categorical", ", ".join(map(str, p.choices)), "")
        else:
            has_step = p.step is not None and not (p.type == "int" and p.step == 1)
            step = f" step {fmt(p.step)}" if has_step else ""
            table.add_row(name, p.type, f"{fmt(p.low)} .. {fmt(p.high)}{step}", "log" if p.log else "linear")
    console.print(table)
    _print_grid(console, spec)
    _print_gradient_check(console, spec)


def _print_grid(console: Console, spec) -> None:
    from hpsearch.space import grid_values

    axes = grid_values(spec.space, spec.study.n_trials)
    size = math.prod(len(v) for v in axes.values())
    grid = Table("hyperparameter", "grid values", title=f"grid for a budget of {spec.study.n_trials}: {size} points")
    for name, values in axes.items():
        grid.add_row(name, ", ".join(fmt(v) for v in values))
    console.print(grid)
    if size > spec.study.n_trials:
        console.print(f"grid search would run a random subset of {spec.study.n_trials} of these {size} points")
    elif size < spec.study.n_trials:
        console.print(f"grid search would stop after all {size} points (fewer than n_trials)")


def _print_gradient_check(console: Console, spec) -> None:
    from objectives import gradient_check_sample

    error = gradient_check_sample(spec)
    if error is None:
        console.print("gradient check: skipped (not a built-in network objective)")
        return
    verdict = "ok" if error < 1e-5 else "SUSPICIOUS (expected < 1e-5)"
    console.print(f"gradient check of one sampled network: max relative error {error:.2e} ({verdict})")
