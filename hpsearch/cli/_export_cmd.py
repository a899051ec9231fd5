"""``hpsearch export``: every trial of a study as CSV or JSON (hpsearch.export)."""

from __future__ import annotations

from pathlib import Path

import click

from hpsearch.cli._common import open_existing, storage_option


@click.command("export")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv: one row per trial; json: a list of objects with the same keys and params.",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH",
    help="Write to this file instead of stdout.",
)
@storage_option
def export(name: str, fmt: str, output: Path | None, storage: str | None) -> None:
    """Every trial of study NAME: number, state, value, seconds, then one column per parameter.

    state is complete, pruned, diverged, failed (the objective raised),
    crashed, running or waiting; seconds is the recorded training time, else
    the trial's wall-clock time. Numbers keep every digit. Works on any Optuna
    study in the storage; a multi-objective study gets value_0, value_1, ...
    (JSON: "values") instead of value.

    \b
    Examples:
      hpsearch export digits > digits.csv
      hpsearch export digits --format json -o digits.json
      hpsearch export digits --storage sqlite:///other.db -o digits.csv
    """
    from hpsearch.errors import UserError
    from hpsearch.export import to_csv, to_json, trial_records, trial_rows
    from hpsearch.storage import missing_storage

    url, st = open_existing(storage)
    if st is None:
        raise missing_storage(url, name)
    if fmt == "csv":
        columns, rows = trial_rows(st, name)
        text, n = to_csv(columns, rows), len(rows)
    else:
        records = trial_records(st, name)
        text, n = to_json(records), len(records)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"-o {output}: cannot write the file ({exc.strerror or exc})") from None
    click.echo(f"wrote {n} trials to {output}", err=True)
