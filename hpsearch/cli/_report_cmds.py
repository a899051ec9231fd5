"""``hpsearch compare`` and ``hpsearch report``: the commands that answer "which search wins?"."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hpsearch.cli._common import storage_option


@click.command("compare")
@click.argument("spec_path", metavar="SPEC")
@click.option("--samplers", default="grid,random,tpe", show_default=True,
              help="Comma-separated samplers to compare (grid, random, tpe, qmc).")
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Repeats per sampler (study seeds study.seed, study.seed+1, ...).")
@click.option("--n-trials", type=click.IntRange(min=1), default=None,
              help="Budget per study (default: the spec's n_trials). Grid search gets a grid of at most this size.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes shared by all studies.")
@click.option("--eval-seeds", type=click.IntRange(min=0), default=3, show_default=True,
              help="Training seeds when retraining each sampler's best on train+validation for its test "
                   "score (0: skip the test evaluation).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Report file (default: reports/<name>-comparison.html).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@storage_option
def compare(spec_path: str, samplers: str, n_seeds: int, n_trials: int | None, jobs: int, eval_seeds: int,
            output: str | None, quiet: bool, storage: str | None) -> None:
    """Run one study per sampler and seed on the same data split and budget, then
    write the comparison report.

    Studies are named <name>-<sampler>-s<seed> and grouped as the comparison
    <name>; re-running the same command resumes them.

    \b
    Examples:
      hpsearch compare studies/digits.toml --seeds 5
      hpsearch compare studies/digits.toml --samplers grid,random --n-trials 16 --jobs 2
    """
    from hpsearch.report import comparison_report_html, default_report_path
    from hpsearch.report._run_compare import arm_specs, evaluate_arms, parse_samplers, run_comparison
    from hpsearch.spec import load_spec
    from hpsearch.storage import open_storage, resolve_storage_url

    names = parse_samplers(samplers)
    spec = load_spec(spec_path)  # validated before the database is touched
    specs = arm_specs(spec, names, n_seeds, n_trials)
    url = resolve_storage_url(storage)
    console = Console()
    run_comparison(spec, url, specs, jobs=jobs, progress=not quiet)
    st = open_storage(url)
    _print_summary(console, st, spec.study.name)
    if eval_seeds:
        from hpsearch.errors import UserError

        try:
            results = evaluate_arms(st, spec.study.name, n_seeds=eval_seeds, say=console.print)
        except UserError as exc:  # e.g. an external objective: no built-in retraining
            console.print(f"test evaluation skipped: {exc}")
        else:
            for sampler, r in results.items():
                std = r.get("test_score_std")
                pm = f" ± {std:.4g}" if isinstance(std, float) else ""
                score = r.get("test_score")
                shown = f"{score:.4g}" if isinstance(score, float) else str(score)
                console.print(f"test score of {sampler}'s best (trial #{r['trial']} of {r['study']}): {shown}{pm}")
    path = Path(output) if output else default_report_path(spec.study.name, "comparison")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comparison_report_html(st, spec.study.name), encoding="utf-8")
    console.print(f"report written to {path}")


def _print_summary(console: Console, st, name: str) -> None:
    from hpsearch.report._collect import find_studies
    from hpsearch.report._compare import group_arms, summary

    _, studies = find_studies(st, name)
    if not studies:
        return
    budgets, rows = summary(group_arms(studies), studies[0].direction)
    table = Table(title=f"comparison {name}: median best value over repeats")
    for h in ["sampler", "repeats"] + [f"@ {b} trials" for b in budgets]:
        table.add_column(h)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@click.command("report")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Report file (default: reports/<name>.html, or reports/<name>-comparison.html).")
@click.option("--open", "open_browser", is_flag=True, help="Open the report in the web browser.")
@storage_option
def report(name: str, output: str | None, open_browser: bool, storage: str | None) -> None:
    """Write the HTML report of a study or of a comparison (one offline file).

    NAME is a study name or a comparison name (the [study] name given to
    compare; `<name>-comparison` always means the comparison).

    \b
    Examples:
      hpsearch report digits --open
      hpsearch report digits-comparison -o /tmp/cmp.html
    """
    from hpsearch.cli._common import open_existing
    from hpsearch.report import write_report
    from hpsearch.storage import missing_storage

    url, st = open_existing(storage)
    if st is None:
        raise missing_storage(url, name, what="study or comparison")
    path = write_report(st, name, output)
    click.echo(f"report written to {path}")
    if open_browser:
        webbrowser.open(path.resolve().as_uri())
