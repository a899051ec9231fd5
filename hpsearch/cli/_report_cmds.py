"""``hpsearch compare`` and ``hpsearch report``: the commands that answer "which search wins?"."""

from __future__ import annotations

import json
import time
import webbrowser
from pathlib import Path

import click
from rich.console import Console

from hpsearch.cli._common import next_command, storage_option
from hpsearch.samplers import SAMPLERS


@click.command("compare")
@click.argument("spec_path", metavar="SPEC")
@click.option(
    "--samplers",
    default="grid,random,tpe",
    show_default=True,
    help=f"Comma-separated samplers to compare ({', '.join(SAMPLERS)}).",
)
@click.option(
    "--seeds",
    "n_seeds",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Repeats per sampler (study seeds study.seed, study.seed+1, ...). An exact paired test "
    "needs 6 or more repeats to reach p < 0.05 at all; 10 is a good default.",
)
@click.option(
    "--n-trials",
    type=click.IntRange(min=1),
    default=None,
    help="Budget per study (default: the spec's n_trials). Grid search gets a grid of at most this size.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes shared by all studies (and by the retraining and the per-study importance).",
)
@click.option(
    "--eval-seeds",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Training seeds when retraining every repeat's best on train+validation for its test "
    "score (0: skip the test evaluation).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Report file (default: reports/<name>-comparison.html).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print only the verdict as one JSON object on stdout (progress goes to stderr).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@storage_option
def compare(
    spec_path: str,
    samplers: str,
    n_seeds: int,
    n_trials: int | None,
    jobs: int,
    eval_seeds: int,
    output: str | None,
    as_json: bool,
    quiet: bool,
    storage: str | None,
) -> None:
    """Run one study per sampler and seed on the same data split and budget,
    retrain every repeat's best on train+validation and score it on test, then
    write the comparison report and print the verdict.

    Studies are named <name>-<sampler>-s<seed> and grouped as the comparison
    <name>; re-running the same command resumes them (nothing is retrained twice).

    \b
    Examples:
      hpsearch compare studies/digits.toml --seeds 10 --jobs 2
      hpsearch compare studies/digits.toml --samplers grid,random --n-trials 16 --json
    """
    from hpsearch.cli._progress import ConsoleProgress, comparison_summary_lines
    from hpsearch.comparison._flow import compare_arms
    from hpsearch.report import comparison_report_html, default_report_path
    from hpsearch.spec import load_spec
    from hpsearch.storage import open_storage, resolve_storage_url

    spec = load_spec(spec_path)  # validated before the database is touched
    url = resolve_storage_url(storage)
    console = Console(stderr=as_json)  # with --json, stdout holds the JSON object only
    name = spec.study.name
    start = time.monotonic()
    verdict, arms = compare_arms(
        spec,
        samplers=samplers,
        seeds=n_seeds,
        storage=url,
        jobs=jobs,
        n_trials=n_trials,
        eval_seeds=eval_seeds,
        progress=ConsoleProgress(console, bar=not quiet, summary=not quiet),
    )
    st = open_storage(url)
    if not as_json:
        for line in comparison_summary_lines(st, name, time.monotonic() - start):
            _say(console, line)
    path = Path(output) if output else default_report_path(name, "comparison")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comparison_report_html(st, name, verdict=verdict, arms=arms), encoding="utf-8")
    _say(console, f"report written to {path}")
    if as_json:
        click.echo(verdict_json(verdict))
    else:
        _print_verdict(console, verdict)
        _say(console, next_command(f"report {name}-comparison --open", storage))


def verdict_json(verdict: dict) -> str:
    """The verdict as one line of strict JSON (NaN and infinities become null)."""
    from hpsearch.records import json_safe

    return json.dumps(json_safe(verdict), allow_nan=False)


def _bound(x: float | None, sign: str) -> str:
    return f"{sign}inf" if x is None else f"{x:.2g}"  # an unbounded end is null in the JSON


def _print_verdict(console: Console, verdict: dict) -> None:
    """The pairs as a table, then the verdict's words (only compare's next-step line follows them)."""
    on = {p.get("on") for p in verdict["pairs"]}
    held_out = "held-out (true mean)" if verdict.get("optimum") is not None else "held-out (test)"
    what = held_out if on == {"test"} else "best validation"
    _say(
        console,
        f"comparison {verdict['comparison']}: {what} {verdict['metric']} per repeat, "
        f"{verdict['repeats']} repeats compared at {verdict['budget']} finished trials",
    )
    rows = [("pair", "on", "a - b", "interval", "test", "p", "Holm p", "min p", "better")]
    for p in verdict["pairs"]:
        rows.append(
            (
                f"{p['a']} vs {p['b']}",
                str(p.get("on", "-")),
                f"{p['diff']:+.3g}",
                f"[{_bound(p['ci'][0], '-')}, {_bound(p['ci'][1], '+')}]",
                p["method"],
                f"{p['p']:.2g}",
                f"{p['p_holm']:.2g}",
                f"{p['min_p']:.2g}",
                p[p["better"]] if p["better"] else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:  # plain aligned text: fits 80 columns where a boxed table would truncate
        _say(console, "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    _say(console, f"verdict: {verdict['verdict']}")


def _say(console: Console, message: str) -> None:
    """One message as is: no line wrapping (it may be grepped or parsed), no markup."""
    console.print(message, soft_wrap=True, markup=False, highlight=False)


@click.command("report")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Report file (default: reports/<name>.html, or reports/<name>-comparison.html).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the report in the web browser.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the comparison's verdict as one JSON object (read from the database; nothing is run).",
)
@storage_option
def report(name: str, output: str | None, open_browser: bool, as_json: bool, storage: str | None) -> None:
    """Write the HTML report of a study or of a comparison (one offline file).

    NAME is a study name or a comparison name (the [study] name given to
    compare; `<name>-comparison` always means the comparison). With --json,
    print the comparison's verdict, read from the database (nothing is run).

    \b
    Examples:
      hpsearch report digits --open
      hpsearch report digits-comparison -o /tmp/cmp.html
      hpsearch report digits --json
    """
    from hpsearch.cli._common import open_existing
    from hpsearch.report import write_report
    from hpsearch.storage import missing_storage

    url, st = open_existing(storage)
    if st is None:
        raise missing_storage(url, name, what="study or comparison")
    if as_json:
        click.echo(verdict_json(_stored_verdict(st, name)))
        return
    path = write_report(st, name, output, verdict=_comparison_verdict(st, name))
    if not name.endswith("-comparison") and name not in {s.study_name for s in st.get_all_studies()}:
        # NAME matched no study but a comparison: say so (after `delete digits`, `report digits`
        # writes the comparison digits' report, which a user may not have meant)
        click.echo(f"no study is named {name!r}: this is the report of the comparison {name!r}")
    click.echo(f"report written to {path}")
    if open_browser:
        webbrowser.open(path.resolve().as_uri())


def _stored_verdict(st, name: str) -> dict:
    """The verdict of comparison ``name`` (or ``<name>-comparison``); UserError if there is none."""
    from hpsearch.comparison import current_verdict
    from hpsearch.errors import StudyNotFound, UserError

    for candidate in dict.fromkeys((name, name.removesuffix("-comparison"))):
        try:
            return current_verdict(st, candidate)
        except StudyNotFound:
            continue
    raise UserError(
        f"report --json: {name!r} is not a comparison (no study has user attr comparison={name!r}); "
        "`hpsearch studies` lists the studies, and `hpsearch compare SPEC` makes a comparison"
    )


def _comparison_verdict(st, name: str) -> dict | None:
    """The verdict the report of ``name`` opens with, when ``name`` is a comparison (not a study)."""
    from hpsearch.comparison import current_verdict
    from hpsearch.errors import StudyNotFound

    try:
        st.get_study_id_from_name(name)
        return None  # a study of that name wins
    except KeyError:
        pass
    for candidate in dict.fromkeys((name, name.removesuffix("-comparison"))):
        try:
            return current_verdict(st, candidate)
        except StudyNotFound:
            continue
    return None
