"""``hpsearch run`` and ``hpsearch worker``: the commands that train."""

from __future__ import annotations

import click
from rich.console import Console

from hpsearch.cli._common import next_command, storage_option
from hpsearch.cli._progress import ConsoleProgress
from hpsearch.errors import UserError
from hpsearch.search import MAX_FAILURES, SAMPLERS, join_study, run_study
from hpsearch.search._devices import device_slots, jobs_for, parse_gpus
from hpsearch.spec import load_spec  # here, not in `run`: imported with the CLI's start-up (hpsearch.cli.main)
from hpsearch.storage import resolve_storage_url

gpus_option = click.option(
    "--gpus",
    "--devices",
    "gpus",
    default=None,
    metavar="LIST",
    help="Devices for the trials: a comma list (0,1,2,3) or 'all' (from nvidia-smi -L). One worker process per "
    "device slot; each trial sees only its slot (CUDA_VISIBLE_DEVICES, HPSEARCH_DEVICES).",
)
gpus_per_trial_option = click.option(
    "--gpus-per-trial",
    type=int,
    default=1,
    show_default=True,
    metavar="K",
    help="Devices per slot (per trial) with --gpus.",
)
retry_failed_option = click.option(
    "--retry-failed",
    is_flag=True,
    help="First re-open the slots of trials the objective failed (e.g. after fixing its environment), so they "
    "run again; their old errors are kept as user attr error_before_retry.",
)


def _jobs_and_slots(jobs: int | None, gpus: str | None, per_trial: int) -> tuple[int, list[list[str]] | None]:
    """(--jobs, each worker's devices): the jobs default to the number of device slots."""
    if gpus is None:
        if per_trial != 1:
            raise UserError("--gpus-per-trial: expected --gpus too (which devices to split)")
        return jobs_for(jobs, None), None
    slots = device_slots(parse_gpus(gpus), per_trial)
    return jobs_for(jobs, slots), slots


max_failures_option = click.option(
    "--max-failures",
    type=int,
    default=MAX_FAILURES,
    show_default=True,
    metavar="N",
    help="Stop (exit 1, with the last error) when the objective fails N trials in a row. A failing trial "
    "is kept as failed with its error and counts toward the budget; the run also stops when the "
    "study's first 5 trials all fail.",
)


@click.command("run")
@click.argument("spec_path", metavar="SPEC")
@click.option(
    "--n-trials",
    type=int,
    default=None,
    help=(
        "Budget: finished trials the study should hold "
        "(overrides the spec; raises a resumed study's budget, never lowers it)."
    ),
)
@click.option("--timeout", type=float, default=None, metavar="S", help="Start no new trial after S seconds.")
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=None,
    help="Worker processes (each with one BLAS thread) [default: 1, or one per device slot with --gpus].",
)
@click.option("--sampler", type=click.Choice(SAMPLERS), default=None, help="Override study.sampler.")
@click.option("--seed", type=int, default=None, help="Override study.seed.")
@click.option("--study-name", default=None, metavar="NAME", help="Override study.name (the name in the database).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@gpus_option
@gpus_per_trial_option
@retry_failed_option
@max_failures_option
@storage_option
def run(
    spec_path: str,
    n_trials: int | None,
    timeout: float | None,
    jobs: int | None,
    sampler: str | None,
    seed: int | None,
    study_name: str | None,
    quiet: bool,
    gpus: str | None,
    gpus_per_trial: int,
    retry_failed: bool,
    max_failures: int,
    storage: str | None,
) -> None:
    """Create or resume a study and run trials until it holds N finished trials.

    Finished means completed, pruned, diverged, or failed: an objective that
    raises (or a command that fails) fails that trial only, keeps the error
    with it (user attr "error") and is not retried on that configuration.
    Crashed trials (a killed run or worker) are re-run, so re-running the same
    command after an interruption resumes where it stopped. A budget only
    grows: --n-trials below a resumed study's budget is refused, and a spec
    whose n_trials is larger than the stored budget (say after a shorter
    --n-trials run) raises it. A study stopped by 'hpsearch stop' resumes:
    this run clears the stop.

    \b
    Examples:
      hpsearch run studies/quickstart.toml
      hpsearch run studies/digits.toml --jobs 2 --n-trials 60
      hpsearch run studies/digits.toml --sampler random --seed 3 --study-name digits-r3
      hpsearch run spec.toml --storage postgresql+psycopg://me@db/hpsearch
      hpsearch run train.toml --gpus 0,1,2,3
    """
    spec = load_spec(spec_path)  # validated before the database is touched
    jobs, slots = _jobs_and_slots(jobs, gpus, gpus_per_trial)
    console = Console()
    if not quiet:
        from objectives.csvfile import target_warnings

        for line in target_warnings(spec.data):  # a CSV's classes, and labels that look like typos
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    progress = None if quiet else ConsoleProgress(console)
    study = run_study(
        spec,
        resolve_storage_url(storage),
        n_trials=n_trials,
        jobs=jobs,
        timeout=timeout,
        study_name=study_name,
        sampler=sampler,
        seed=seed,
        progress=progress,
        max_failures=max_failures,
        devices=slots,
        retry_failed=retry_failed,
    )
    _next_step(progress, study.study_name, storage)


@click.command("worker")
@click.argument("name")
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=None,
    help="Worker processes to start here [default: 1, or one per device slot with --gpus].",
)
@click.option("--timeout", type=float, default=None, metavar="S", help="Start no new trial after S seconds.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@gpus_option
@gpus_per_trial_option
@retry_failed_option
@max_failures_option
@storage_option
def worker(
    name: str,
    jobs: int | None,
    timeout: float | None,
    quiet: bool,
    gpus: str | None,
    gpus_per_trial: int,
    retry_failed: bool,
    max_failures: int,
    storage: str | None,
) -> None:
    """Join an existing study as more workers (on this or another machine).

    The spec is read from the database, so the study name and the storage URL
    are all a worker needs. Workers share the study's budget: together they
    finish exactly n_trials trials, and each grid point runs once. A study
    stopped by 'hpsearch stop' resumes: starting a worker clears the stop.

    \b
    Examples:
      hpsearch worker digits
      hpsearch worker digits --jobs 2 --storage postgresql+psycopg://me@db/hpsearch
      hpsearch worker train --gpus all --gpus-per-trial 2
    """
    progress = None if quiet else ConsoleProgress(Console())
    jobs, slots = _jobs_and_slots(jobs, gpus, gpus_per_trial)
    join_study(
        name,
        resolve_storage_url(storage),
        jobs=jobs,
        timeout=timeout,
        progress=progress,
        max_failures=max_failures,
        devices=slots,
        retry_failed=retry_failed,
    )
    _next_step(progress, name, storage)


def _next_step(progress: ConsoleProgress | None, name: str, storage: str | None) -> None:
    """After a run's closing summary: the command that shows it."""
    if progress is not None and name in progress.summarised:
        progress.note(next_command(f"report {name} --open", storage))
