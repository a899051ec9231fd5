"""What the CLI shows of a run: one overall progress bar with the best so far and an ETA, then a summary.

The library prints nothing; it calls a RunProgress (hpsearch.search._progress)
and :class:`ConsoleProgress` is the command line's: the bar while trials run,
notes as plain lines, the closing summary after a run that reached its end.

The display reads the database rather than listening to workers, so it shows
the same thing for one in-process worker, J processes, or workers on other
machines. Each refresh asks only for aggregate summaries (counts by state and
the best trial per study, ``hpsearch.storage.study_overviews``), never for every
trial, so refreshing costs the same on a study of 10 trials or 10,000.

There is ONE bar for the whole run: finished trials over the budgets of every
study (compare's arms included), so studies waiting their turn add nothing
that ticks. The ETA is :func:`eta_seconds`, a pure function of (done, total,
elapsed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.table import Column
from rich.text import Text

from hpsearch._format import fmt_number
from hpsearch.records import COMPARISON_ATTR, STATE_NAMES, error_text, finished_count, sampler_of, stored_budget
from hpsearch.storage import StudyOverview, is_storage_error, sql_engine, study_overviews


def eta_seconds(done: int, total: int, elapsed: float, done_at_start: int = 0) -> float | None:
    """Seconds left at the pace so far: the trials still to run times elapsed per trial finished.

    ``done_at_start``: trials already finished when the clock started (a resumed
    study), which took none of ``elapsed``. 0.0 when nothing is left; None
    while no trial has finished yet (no pace to go by).
    """
    if done >= total:
        return 0.0
    ran = done - done_at_start
    if ran <= 0 or elapsed <= 0:
        return None
    return (total - done) * elapsed / ran


def fmt_duration(seconds: float | None) -> str:
    """``1:02:03`` / ``4:05`` (minutes:seconds under an hour); ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TimeColumn(ProgressColumn):
    """``0:12 ETA 4:05``: elapsed, then the time left from the task's completed / total / elapsed
    (see eta_seconds). One narrow column, so the bar and the best per arm fit 80 columns."""

    def render(self, task: Any) -> Text:
        elapsed = task.elapsed
        if elapsed is None:
            eta = None
        else:
            done_at_start = int(task.fields.get("done_at_start", 0))
            eta = eta_seconds(int(task.completed), int(task.total or 0), elapsed, done_at_start)
        text = Text(fmt_duration(elapsed or 0.0), style="progress.elapsed")
        text.append(f" ETA {fmt_duration(eta)}", style="progress.remaining")
        return text


def finished(overview: StudyOverview) -> int:
    """How many finished trials (COMPLETE, PRUNED, diverged, failed by an error) the study holds."""
    return finished_count(overview.states)


def _better(a: float, b: float, direction: optuna.study.StudyDirection) -> bool:
    return a > b if direction == optuna.study.StudyDirection.MAXIMIZE else a < b


def _comparison_of(overviews: Sequence[StudyOverview]) -> str | None:
    names = {o.user_attrs.get(COMPARISON_ATTR) for o in overviews}
    if len(names) == 1:
        (name,) = names
        return name if isinstance(name, str) else None
    return None


def best_text(overviews: Sequence[StudyOverview], *, digits: int = 4) -> str:
    """The best value so far: one number for a study, ``grid 0.961 · random 0.968`` per arm of a comparison.

    Per arm: the best over its repeats; ``-`` for an arm (or a study) with no completed trial yet, and
    ``- (several objectives)`` for studies with several objectives, which have no best value.
    Studies that are not one comparison's arms (e.g. ``run``'s one study): the best over all of them.
    """
    if not overviews:
        return "-"
    if all(len(o.directions) > 1 for o in overviews):  # no best value: the summary gives the front at the end
        return "- (several objectives)"
    if _comparison_of(overviews) is None:
        groups = {"": list(overviews)}
    else:
        groups = {}
        for o in overviews:
            groups.setdefault(sampler_of(o.user_attrs), []).append(o)
        digits = min(digits, 3)
    parts = []
    for label, group in groups.items():
        best = None
        for o in group:
            if o.best is None or o.best.value is None:
                continue
            if best is None or _better(o.best.value, best, o.directions[0]):
                best = o.best.value
        value = "-" if best is None else fmt_number(float(best), digits)
        parts.append(f"{label} {value}" if label else value)
    return " · ".join(parts)


@dataclass(frozen=True)
class Overall:
    """What the bar shows: finished trials over all budgets, and the best so far."""

    done: int
    total: int
    best: str


def overall(storage: Any, names: Sequence[str], budgets: Sequence[int]) -> Overall:
    """Finished trials (each study counted up to its budget) and the best so far, from aggregate SQL."""
    by_name = {o.name: o for o in study_overviews(storage, names=names)}
    found = [by_name[n] for n in names if n in by_name]
    done = sum(min(finished(by_name[n]), b) for n, b in zip(names, budgets, strict=True) if n in by_name)
    return Overall(done, int(sum(budgets)), best_text(found))


#: The bar re-reads the database at most this often (seconds) ...
REFRESH_SECONDS = 0.5
#: ... and waits at least this many times as long as its last read took before reading again.
REFRESH_COST_RATIO = 20.0


class StudyProgress:
    """One progress bar for every study of a run: finished / budget, best value so far, elapsed, ETA."""

    def __init__(
        self,
        storage: Any,
        names: Sequence[str],
        budgets: Sequence[int],
        *,
        enabled: bool,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self._names = list(names)
        self._budgets = [int(b) for b in budgets]
        self._enabled = enabled
        self._clock = clock
        self._progress = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", max_width=24)),
            BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=4)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn("best {task.fields[best]}", table_column=Column(no_wrap=True)),
            TimeColumn(table_column=Column(no_wrap=True)),
            console=console,
            expand=True,
            transient=False,
            disable=not enabled,
            get_time=clock,
        )
        self._task: Any = None
        self._next = -math.inf  # the clock's time before which refresh() does not read again
        self.state: Overall | None = None

    def __enter__(self) -> StudyProgress:
        if self._enabled and self._names:
            first = overall(self.storage, self._names, self._budgets)
            self.state = first
            self._progress.start()
            self._task = self._progress.add_task(
                self.title(), total=first.total, completed=first.done, best=first.best, done_at_start=first.done
            )
            self._next = self._clock() + REFRESH_SECONDS
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._task is not None:
            self.refresh(force=True)
            self._progress.stop()

    def title(self) -> str:
        comparison = _comparison_of(study_overviews(self.storage, names=self._names))
        if comparison is not None and len(self._names) > 1:
            return comparison  # a comparison: its name
        return self._names[0] if len(self._names) == 1 else f"{len(self._names)} studies"

    def refresh(self, force: bool = False) -> None:
        """Re-read the database, unless forced at most every REFRESH_SECONDS and never more often than
        keeps the reads under 1/REFRESH_COST_RATIO of the time.

        A read costs more with every study the bar covers (a comparison of 30 repeats x 3 arms
        reads 90 studies' best trials), and it runs beside the workers on the same cores: the
        pause after a read grows with what that read cost, so the bar never slows the trials it shows.
        """
        if self._task is None or (not force and self._clock() < self._next):
            return
        began = self._clock()
        try:
            self.state = overall(self.storage, self._names, self._budgets)
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            return  # the database blinked: the workers ride it out; show the last state meanwhile
        finally:
            ended = self._clock()
            self._next = ended + max(REFRESH_SECONDS, REFRESH_COST_RATIO * (ended - began))
        self._progress.update(self._task, completed=self.state.done, best=self.state.best)


# --- the closing summary -------------------------------------------------------------------------


def _last_error_text(storage: Any, overview: StudyOverview) -> tuple[int, str] | None:
    """(number, error text) of the study's latest trial failed by an objective error, if any."""
    if not overview.states.get("failed"):
        return None
    from hpsearch.storage import recent_errors

    found = recent_errors(storage, overview.study_id, limit=1)
    if not found:
        return None
    return found[0].number, " ".join(str(error_text(found[0]) or "").split())


def summary_lines(storage: Any, name: str, seconds: float) -> list[str]:
    """The closing summary of one study: best trial (value, params), counts by state, wall time, next step."""
    found = study_overviews(storage, names=[name])
    if not found:
        return [f"study {name}: not found"]
    o = found[0]
    lines = [f"study {name}: {finished(o)} finished trials in {seconds:.1f} s"]
    order = STATE_NAMES
    counts = sorted(o.states.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))
    lines.append("  by state: " + (", ".join(f"{k} {v}" for k, v in counts) or "-"))
    error = _last_error_text(storage, o)
    if error is not None:
        lines.append(f"  last error: #{error[0]}: {error[1][:200]}")
    if len(o.directions) > 1:  # no single best: the size of the front, read once at the end
        from hpsearch.records import pareto_front

        front = pareto_front(storage.get_all_trials(o.study_id, deepcopy=False), o.directions)
        lines.append(f"  Pareto front: {len(front)} trials (hpsearch best {name} lists them; --pick chooses one)")
    elif o.best is None or o.best.value is None:
        lines.append("  best trial: none completed")
    else:
        lines.append(f"  best trial: #{o.best.number}: {fmt_number(float(o.best.value), 6)}")
        params = storage.get_trial(o.best.trial_id).params if o.best.trial_id >= 0 else {}
        for k, v in params.items():
            lines.append(f"    {k} = {fmt_number(v)}")
    return lines


def _trial_seconds(storage: Any, study_id: int) -> float:
    """Seconds the study's trials ran, summed (one narrow query on RDB storages)."""
    engine = sql_engine(storage)
    if engine is not None:
        from hpsearch.storage import history_points

        return sum(p.duration or 0.0 for p in history_points(engine, study_id))
    trials = storage.get_all_trials(study_id, deepcopy=False)
    return sum(t.duration.total_seconds() for t in trials if t.duration is not None)


def comparison_rows(storage: Any, name: str) -> list[tuple[str, str, str, str]]:
    """One row per arm of comparison ``name``: (sampler, median best over repeats, repeats done / repeats,
    seconds its trials ran). A repeat is done when its study holds its budget of finished trials."""
    from statistics import median

    from hpsearch.samplers import display_key

    arms: dict[str, list[StudyOverview]] = {}
    for o in study_overviews(storage, comparison=name):
        arms.setdefault(sampler_of(o.user_attrs), []).append(o)
    rows = []
    for sampler in sorted(arms, key=display_key):
        group = arms[sampler]
        bests = [float(o.best.value) for o in group if o.best is not None and o.best.value is not None]
        done = sum(1 for o in group if (b := stored_budget(o.user_attrs)) is not None and finished(o) >= b)
        seconds = sum(_trial_seconds(storage, o.study_id) for o in group)
        rows.append((sampler, fmt_number(median(bests)) if bests else "-", f"{done}/{len(group)}", f"{seconds:.1f}"))
    return rows


def comparison_summary_lines(storage: Any, name: str, seconds: float) -> list[str]:
    """compare's one closing table: arm x (median best, repeats done, trial seconds), then the wall time."""
    rows = comparison_rows(storage, name)
    if not rows:
        return []
    if any(len(o.directions) > 1 for o in study_overviews(storage, comparison=name)):
        # several objectives have no best value: the verdict below compares the fronts' hypervolumes
        table: list[tuple[str, ...]] = [("arm", "repeats done", "seconds")]
        table += [(arm, done, secs) for arm, _, done, secs in rows]
        title = f"comparison {name}: several objectives, compared by the hypervolume of each repeat's front"
    else:
        table = [("arm", "median best", "repeats done", "seconds"), *rows]
        title = f"comparison {name}: best value per repeat, median over repeats"
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [title]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.append(f"  wall time {seconds:.1f} s (seconds: the arm's trials, summed)")
    return lines


def print_summary(console: Console, storage: Any, names: Sequence[str], seconds: float) -> None:
    """The closing summary of a run: per study for ``run`` and ``worker``; nothing for a comparison's
    arms (``compare`` prints one arm table, the verdict and the next step); else one line of totals."""
    if not names:
        return
    if len(names) > 1:
        overviews = study_overviews(storage, names=names)
        if _comparison_of(overviews) is not None:
            return
        done = sum(finished(o) for o in overviews)
        console.print(f"{len(names)} studies: {done} finished trials in {seconds:.1f} s", soft_wrap=True, markup=False)
        return
    for line in summary_lines(storage, names[0], seconds):
        console.print(line, soft_wrap=True, markup=False, highlight=False)


class ConsoleProgress:
    """The command line's RunProgress: the bar while trials run, notes as lines, then the summary.

    ``summary``: print the closing summary after a run that reached its end (``run``, ``worker``);
    ``bar``: draw the bar (``compare --quiet`` shows its notes only).
    """

    def __init__(
        self,
        console: Console,
        *,
        summary: bool = True,
        bar: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.console = console
        self._summary = summary
        self._show_bar = bar
        self._clock = clock
        self._bar: StudyProgress | None = None
        self.summarised: list[str] = []  # the studies whose closing summary was printed

    def started(self, storage: Any, names: Sequence[str], budgets: Sequence[int]) -> None:
        if not self._show_bar:
            return
        self._bar = StudyProgress(storage, names, budgets, enabled=True, console=self.console, clock=self._clock)
        self._bar.__enter__()

    def tick(self) -> None:
        if self._bar is not None:
            self._bar.refresh()

    def finished(self, storage: Any, names: Sequence[str], seconds: float, *, ok: bool) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        if ok and self._summary:
            print_summary(self.console, storage, names, seconds)
            self.summarised += list(names)

    def note(self, message: str) -> None:
        """A library note in the command line's words (``n_trials`` -> ``--n-trials``)."""
        from hpsearch.cli._common import cli_words

        self.console.print(cli_words(message), soft_wrap=True, markup=False, highlight=False)
