"""``hpsearch studies``, ``show``, ``delete``, ``best``: looking at and managing stored studies."""

from __future__ import annotations

import math
import sys

import click
import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.table import Table

from hpsearch.cli._common import fmt, load_named_study, open_existing, shown, storage_option
from hpsearch.records import EPOCHS_RUN_ATTR, TRAIN_SECONDS_ATTR
from hpsearch.storage import display_url, study_id_of

OTHER_COLUMNS_WIDTH = 62  # sampler, direction, a short "trials by state" and best, with borders


@click.command("studies")
@storage_option
def studies(storage: str | None) -> None:
    """List studies: name, sampler, trials by state, best value.

    Studies made by other Optuna code are listed too, with what is known. A
    study with several objectives has no single best value: its row gives the
    size of its Pareto front (``hpsearch best NAME`` lists it).

    \b
    Examples:
      hpsearch studies
      hpsearch studies --storage sqlite:///other.db
    """
    url, st = open_existing(storage)
    console = Console()
    frozen = [] if st is None else st.get_all_studies()
    if not frozen:
        console.print(f"no studies in {display_url(url)}")
        return

    # Names are shown whole (folded onto more lines when long), never cut with an ellipsis: a
    # comparison's arms differ only at the end ("-s12"), which a cut hides.
    longest = max(len(fs.study_name) for fs in frozen)
    table = Table()
    room = max(20, console.width - OTHER_COLUMNS_WIDTH)  # the rest of the table stays on screen
    table.add_column("name", min_width=min(longest, room), overflow="fold")
    for header in ("sampler", "direction", "trials by state", "best"):
        table.add_column(header)
    overviews = _overviews(st)
    for fs in sorted(frozen, key=lambda s: s.study_name):
        table.add_row(*(shown(cell) for cell in _study_row(st, fs, overviews.get(fs.study_name))))
    console.print(table)


def _overviews(st) -> dict:
    """name -> hpsearch.storage.StudyOverview (counts and best from aggregate SQL, no trial loaded);
    {} if that fails, so each study falls back to its trials."""
    from hpsearch.storage import study_overviews

    try:
        return {o.name: o for o in study_overviews(st)}
    except Exception:  # a listing must not fail: the per-study path below still answers
        return {}


def _study_row(st, fs, overview=None) -> list[str]:
    """One row of `hpsearch studies`; a study hpsearch cannot fully read still gets a row."""
    from hpsearch.records import best_trial, sampler_of, state_counts

    sampler = sampler_of(fs.user_attrs)
    directions = [d.name.lower() for d in fs.directions]
    try:
        trials = [] if overview is not None else st.get_all_trials(study_id_of(fs), deepcopy=False)
        states = overview.states if overview is not None else state_counts(trials)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "-"
    except Exception as exc:  # a listing must not fail for one odd study
        return [fs.study_name, sampler, ", ".join(directions), f"unreadable ({type(exc).__name__})", "-"]
    if len(directions) != 1:  # no single best: the size of its front (only such studies load their trials)
        try:
            from hpsearch.records import pareto_front

            front = len(pareto_front(st.get_all_trials(study_id_of(fs), deepcopy=False), fs.directions))
            shown = f"multi-objective, front of {front}"
        except Exception as exc:
            shown = f"multi-objective (unreadable: {type(exc).__name__})"
        return [fs.study_name, sampler, ", ".join(directions), counts, shown]
    try:
        best = overview.best if overview is not None else best_trial(trials, fs.directions)
        shown = "-" if best is None else fmt(best.value)
    except Exception as exc:
        shown = f"unreadable ({type(exc).__name__})"
    return [fs.study_name, sampler, directions[0], counts, shown]


@click.command("show")
@click.argument("name")
@click.option(
    "--top", "top", type=click.IntRange(min=1), default=10, show_default=True, help="How many trials to list."
)
@storage_option
def show(name: str, top: int, storage: str | None) -> None:
    """The best trial and the top K trials of a study.

    \b
    Examples:
      hpsearch show digits
      hpsearch show digits --top 3
    """
    from hpsearch.export import param_names
    from hpsearch.records import (
        ERROR_ATTR,
        TEST_SCORE_ATTR,
        best_trial,
        budget,
        is_feasible,
        is_finished,
        last_error,
        sampler_of,
        state_counts,
    )

    _, st, study, spec = load_named_study(storage, name)
    trials = study.get_trials(deepcopy=False)
    console = Console()
    best = best_trial(trials, study.directions)
    counts = state_counts(trials)
    sampler = spec.study.sampler if spec is not None else sampler_of(study.user_attrs)
    of_budget = f" of {budget(spec)}" if spec is not None else ""  # a plain Optuna study has no budget
    console.print(
        shown(
            f"study {name}: {sampler} sampler, {sum(map(is_finished, trials))}{of_budget} "
            f"trials finished "
            f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none'})"
        )
    )
    _control_lines(console, st, study_id_of(study))
    failed = last_error(trials)
    if failed is not None:
        text = " ".join(str(failed.user_attrs[ERROR_ATTR]).split())
        console.print(shown(f"last error (trial #{failed.number}): {text[:300]}"), soft_wrap=True)
    if len(study.directions) > 1:
        _print_front(console, st, study, spec, trials, top)
        return
    if best is None:
        console.print("no completed trial yet")
        return
    console.print(f"best: trial #{best.number}, {_metric(spec)} = {fmt(best.value)}")
    if TEST_SCORE_ATTR in study.user_attrs:
        console.print(f"test score of the best configuration: {fmt(study.user_attrs[TEST_SCORE_ATTR])}")
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)]
    infeasible = [t for t in done if not is_feasible(t)]
    if infeasible:  # kept (export lists them, with their constraint values), never ranked
        console.print(f"{len(infeasible)} completed trials break a constraint: kept, but not ranked below")
        done = [t for t in done if is_feasible(t)]
    reverse = study.direction.name == "MAXIMIZE"
    done.sort(key=lambda t: float(t.value or 0.0), reverse=reverse)  # every value here is finite
    names = list(spec.space) if spec is not None else param_names(trials, study.user_attrs)
    epochs = _has_epochs(done[:top])
    title = f"top {min(top, len(done))} trials"
    table = Table("#", "value", *map(shown, names), *(["epochs"] if epochs else []), "seconds", title=title)
    for t in done[:top]:
        table.add_row(
            str(t.number),
            fmt(t.value),
            *(shown(fmt(t.params.get(n))) for n in names),
            *([fmt(t.user_attrs.get(EPOCHS_RUN_ATTR, ""))] if epochs else []),
            _seconds(t),
        )
    if console.measure(table, options=console.options.update_width(10**4)).maximum > console.width:
        table = _narrow_table(done[:top], names, table.title)  # too wide: name=value, wrapped, never cut
    console.print(table)


def _control_lines(console: Console, st: optuna.storages.BaseStorage, study_id: int) -> None:
    """What ``hpsearch stop`` and ``hpsearch enqueue`` left on the study, if anything."""
    from hpsearch.search import stop_requested, waiting_configurations

    if stop_requested(st, study_id):
        console.print("stopped by 'hpsearch stop': run it again (run or worker) to resume")
    waiting = waiting_configurations(st, study_id)
    if waiting:
        console.print(f"{waiting} enqueued configurations wait to run first")


@click.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@storage_option
def delete(name: str, yes: bool, storage: str | None) -> None:
    """Remove a study, its trials and its slot claims.

    \b
    Examples:
      hpsearch delete digits
      hpsearch delete digits --yes
    """
    import optuna

    from hpsearch.storage import checkpoint, delete_claims, delete_queue, engine_of, find_study_id, missing_storage

    url, st = open_existing(storage, read_only=False)
    if st is None:
        raise missing_storage(url, name)
    study_id = find_study_id(st, name)
    n = len(st.get_all_trials(study_id, deepcopy=False))
    if not yes and not click.confirm(
        f"delete study {name!r} and its {n} trials from {display_url(url)}?", default=False
    ):
        click.echo("not deleted")
        return
    optuna.delete_study(study_name=name, storage=st)
    delete_claims(engine_of(st), study_id)
    delete_queue(engine_of(st), study_id)
    checkpoint(st)  # a SQLite file holds the deletion itself, not its WAL
    click.echo(f"deleted study {name!r} ({n} trials)")


@click.command("best")
@click.argument("name")
@click.option(
    "--evaluate",
    is_flag=True,
    help="Retrain the best configuration on train+validation and score it on the test split.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the best trial as one JSON object (number, state, value, seconds, params; with --evaluate: test).",
)
@click.option(
    "--pick",
    "pick",
    default=None,
    metavar="CLAUSES",
    help='Several objectives: choose one trial of the front, e.g. "accuracy>=0.97,min train_seconds".',
)
@storage_option
def best(name: str, evaluate: bool, storage: str | None, as_json: bool = False, pick: str | None = None) -> None:
    """The best configuration; with --evaluate, its score on the held-out test split.

    The test split is never used during the search. --evaluate stores the
    result with the study (user attrs test_score and test_metrics), so reports
    can show it.

    A study with several objectives has no single best: this lists its Pareto
    front (feasible trials only), and --pick chooses one configuration of it:
    conditions (metric>=x, <=, >, <, =) and one goal (min metric or max metric),
    separated by commas. --evaluate needs --pick there.

    \b
    Examples:
      hpsearch best digits
      hpsearch best digits --evaluate
      hpsearch best digits --json
      hpsearch best digits-tradeoff --pick "accuracy>=0.95,min train_seconds"
    """
    from hpsearch.errors import UserError
    from hpsearch.export import best_record, to_json
    from hpsearch.records import best_trial

    _, st, study, spec = load_named_study(storage, name, read_only=not evaluate)  # --evaluate stores its scores
    if len(study.directions) > 1:
        top = _best_of_front(st, study, name, pick, as_json, evaluate)
        if top is None:
            return
    elif pick is not None:
        raise UserError(
            f"--pick: expected a study with several objectives (it chooses from a Pareto front), "
            f"got study {name!r} with one objective: its best trial is `hpsearch best {name}`"
        )
    else:
        top = best_trial(study.get_trials(deepcopy=False), study.directions)
    if top is None:
        raise UserError(f"study {name!r} has no completed trial yet; run it first")
    if evaluate and spec is None:
        raise UserError(
            f"study {name!r} has no stored hpsearch spec (made by other Optuna code), so there is "
            "no objective and data split to retrain with; --evaluate needs a study hpsearch ran"
        )
    console = Console(file=sys.stderr) if as_json else Console()  # --json: stdout holds the JSON only
    if len(study.directions) > 1:
        record = _picked_record(st, study, name, top)
        if not as_json:
            console.print(shown(f"picked trial #{top.number}: {_values_text(st, study, top)} (validation)"))
            for k, v in top.params.items():
                console.print(shown(f"  {k} = {fmt(v)}"))
    elif as_json:
        record = {**(best_record(st, name) or {}), "metric": _metric(spec)}
    else:
        console.print(f"best trial #{top.number}: {_metric(spec)} = {fmt(top.value)} (validation)")
        for k, v in top.params.items():
            console.print(shown(f"  {k} = {fmt(v)}"))
    if not evaluate:
        if as_json:
            click.echo(to_json(record), nl=False)
        return
    from hpsearch.evaluate import evaluate_and_store

    metrics = evaluate_and_store(st, study, spec, top)
    if as_json:
        click.echo(to_json({**record, "test": metrics}), nl=False)
        return
    for k, v in metrics.items():
        console.print(f"{k} = {fmt(v)}")


def _names(st, study) -> list[str]:
    """The value columns of a multi-objective study: its metric names (hpsearch.export.objective_columns)."""
    from hpsearch.export import objective_columns
    from hpsearch.storage import metric_names

    return objective_columns(len(study.directions), metric_names(st, study_id_of(study)))


def _values_text(st, study, t) -> str:
    return ", ".join(f"{n} = {fmt(v)}" for n, v in zip(_names(st, study), t.values or (), strict=False))


def _print_front(console, st, study, spec, trials, top: int) -> None:
    """``show`` of a multi-objective study: its Pareto front (feasible trials), by the first objective."""
    from hpsearch.export import param_names
    from hpsearch.records import is_feasible, pareto_front

    front = pareto_front(trials, study.directions)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    infeasible = sum(not is_feasible(t) for t in done)
    if not front:
        console.print("no feasible completed trial yet" + (f" ({infeasible} infeasible)" if infeasible else ""))
        return
    names = _names(st, study)
    directions = ", ".join(f"{n} ({d.name.lower()})" for n, d in zip(names, study.directions, strict=True))
    kept = f"; {infeasible} infeasible trials kept but never on it" if infeasible else ""
    console.print(shown(f"Pareto front: {len(front)} of {len(done)} completed trials, objectives {directions}{kept}"))
    reverse = study.directions[0].name == "MAXIMIZE"
    front.sort(key=lambda t: (float(t.values[0]), -t.number), reverse=reverse)
    params = list(spec.space) if spec is not None else param_names(trials, study.user_attrs)
    title = f"front (first {min(top, len(front))}, by {names[0]})"
    table = Table("#", *map(shown, names), *map(shown, params), title=title)
    for t in front[:top]:
        table.add_row(str(t.number), *(fmt(v) for v in t.values), *(shown(fmt(t.params.get(n))) for n in params))
    console.print(table)


def _best_of_front(st, study, name: str, pick: str | None, as_json: bool, evaluate: bool):
    """``best`` of a multi-objective study: the picked trial (``--pick``), or None once the front is printed."""
    from hpsearch.errors import UserError
    from hpsearch.export import front_records, to_json
    from hpsearch.pick import parse_pick, pick_trial
    from hpsearch.records import pareto_front

    chosen = parse_pick(pick) if pick is not None else None  # a malformed pick fails before any read
    trials = study.get_trials(deepcopy=False)
    front = pareto_front(trials, study.directions)
    if chosen is not None:
        return pick_trial(front, _names(st, study), chosen)
    if evaluate:
        raise UserError(
            f"--evaluate: expected one configuration; study {name!r} has several objectives, so choose one "
            'of its front with --pick (e.g. --pick "accuracy>=0.95,min train_seconds")'
        )
    if as_json:
        click.echo(to_json(front_records(st, name)), nl=False)
        return None
    if not front:
        raise UserError(f"study {name!r} has no feasible completed trial yet; run it first")
    console = Console()
    console.print(shown(f"study {name}: {len(front)} trials on the Pareto front (choose one with --pick)"))
    for t in front:
        console.print(shown(f"trial #{t.number}: {_values_text(st, study, t)}"))
        console.print(shown("  " + "  ".join(f"{k}={fmt(v)}" for k, v in t.params.items())))
    return None


def _picked_record(st, study, name: str, t) -> dict:
    """The picked trial as ``best --json`` prints it: the front record of that trial."""
    from hpsearch.export import front_records

    return next(r for r in front_records(st, name) if r["number"] == t.number)


def _metric(spec) -> str:
    """What the value is called: the spec's metric, else "value" (also for plain Optuna studies)."""
    return (spec.study.metric if spec is not None else None) or "value"


def _narrow_table(trials, names: list[str], title) -> Table:
    """The top trials for a narrow terminal: parameters as one wrapped ``name=value`` cell."""
    epochs = _has_epochs(trials)
    table = Table("#", "value", *(["epochs"] if epochs else []), "seconds", "parameters", title=title)
    for column in table.columns:
        column.overflow = "fold"
    for t in trials:
        params = "  ".join(f"{n}={fmt(t.params.get(n))}" for n in names if n in t.params)
        table.add_row(
            str(t.number),
            fmt(t.value),
            *([fmt(t.user_attrs.get(EPOCHS_RUN_ATTR, ""))] if epochs else []),
            _seconds(t),
            shown(params),
        )
    return table


def _has_epochs(trials) -> bool:
    """Whether to show an epochs column: the MLP reports epochs; a command or a function may not."""
    return any(EPOCHS_RUN_ATTR in t.user_attrs for t in trials)


def _seconds(t) -> str:
    """Training seconds when the objective reports them, else the trial's wall-clock time."""
    value = t.user_attrs.get(TRAIN_SECONDS_ATTR)
    if value is None and t.duration is not None:
        value = t.duration.total_seconds()
    return "" if value is None else f"{float(value):.3g}"
