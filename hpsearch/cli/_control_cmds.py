"""``hpsearch enqueue``, ``hpsearch stop`` and ``hpsearch copy``: steering a study from outside its run."""

from __future__ import annotations

import click

from hpsearch.cli._common import shown, storage_option
from hpsearch.errors import UserError


@click.command("enqueue")
@click.argument("name")
@click.option(
    "--params",
    "params",
    multiple=True,
    metavar="JSON",
    help="One configuration as a JSON object of parameter values (repeat for more).",
)
@click.option(
    "--csv",
    "csv_path",
    default=None,
    metavar="FILE",
    help="Configurations from a CSV file: a header of parameter names, one configuration per row "
    "(an empty cell: a parameter absent at that point).",
)
@storage_option
def enqueue(name: str, params: tuple[str, ...], csv_path: str | None, storage: str | None) -> None:
    """Warm-start a study: configurations its next trials run, before the sampler's own.

    Each configuration is checked against the study's space (every parameter
    that exists at that point, in range, on its step, one of its choices);
    one that does not fit is refused with nothing stored. They count toward
    the budget, and each runs exactly once, with any number of workers and
    after a crash. Run or resume the study to run them.

    \b
    Examples:
      hpsearch enqueue digits --params '{"learning_rate": 0.01, "width": 64, "optimizer": "adam"}'
      hpsearch enqueue digits --csv known_good.csv
      hpsearch run studies/digits.toml
    """
    from hpsearch.configurations import parse_json_configuration
    from hpsearch.search import enqueue as enqueue_configurations
    from hpsearch.storage import resolve_storage_url

    if not params and csv_path is None:
        raise UserError("hpsearch enqueue: expected --params JSON (repeatable) or --csv FILE")
    configurations = [parse_json_configuration(p, where=f"--params #{i}") for i, p in enumerate(params, start=1)]
    done = enqueue_configurations(resolve_storage_url(storage), name, configurations, csv=csv_path)
    first, last = done.positions[0], done.positions[-1]
    where = f"#{first}" if first == last else f"#{first}-#{last}"
    click.echo(
        f"enqueued {len(done.positions)} configurations for study {shown(name)!r} (queue {where}); "
        f"{done.waiting} wait to run first"
    )
    if done.waiting > done.free_slots:
        click.echo(
            f"note: only {done.free_slots} slots of its budget are left; raise it (hpsearch run SPEC --n-trials N) "
            "to run them all"
        )


@click.command("stop")
@click.argument("name")
@storage_option
def stop(name: str, storage: str | None) -> None:
    """Stop a study's workers: each finishes its running trial and exits.

    Works on every worker of the study, on any machine sharing the database
    (run --jobs N, hpsearch worker). Nothing is lost: the next run or worker
    of the study clears the stop and resumes where it stopped.

    \b
    Examples:
      hpsearch stop digits
      hpsearch stop digits --storage postgresql+psycopg://me@db/hpsearch
      hpsearch run studies/digits.toml      # later: resumes (and clears the stop)
    """
    from hpsearch.search import request_stop
    from hpsearch.storage import resolve_storage_url

    request_stop(resolve_storage_url(storage), name)
    click.echo(
        f"study {shown(name)!r}: stop requested; its workers finish their running trials and exit. "
        "Run it again (run or worker) to resume"
    )


@click.command("copy")
@click.argument("name")
@click.argument("new")
@click.option(
    "--storage-to",
    default=None,
    metavar="URL",
    help="Database to copy into (default: the same database as --storage).",
)
@storage_option
def copy(name: str, new: str, storage_to: str | None, storage: str | None) -> None:
    """Copy study NAME as NEW: its spec, attributes and every trial, in this or another database.

    Trials keep their state, values, parameters, intermediate values and
    attributes, and the slots they filled, so show, report and a resumed run
    work on the copy. A trial still running is copied as interrupted (its
    slot runs again when the copy is resumed). NEW must not exist yet.

    \b
    Examples:
      hpsearch copy digits digits-backup
      hpsearch copy digits digits --storage-to postgresql+psycopg://me@db/hpsearch
      hpsearch copy digits digits --storage postgresql+psycopg://me@db/hpsearch --storage-to sqlite:///local.db
    """
    from hpsearch.storage import copy_study, display_url, resolve_storage_url

    source = resolve_storage_url(storage)
    target = source if storage_to is None else resolve_storage_url(storage_to)
    n = copy_study(source, name, target, new)
    click.echo(f"copied study {shown(name)!r} to {shown(new)!r} in {display_url(target)} ({n} trials)")
