"""What a running study shows: a rich progress bar with the best value, then a summary.

The display reads the database rather than listening to workers, so it shows
the same thing for one in-process worker, J processes, or workers on other
machines.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import optuna
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hpsearch.search._outcomes import ERROR_ATTR, best_trial, is_finished, last_error, state_counts
from hpsearch.storage import storage_of, study_id_of


class StudyProgress:
    """One progress bar per study: finished / budget, best value so far."""

    def __init__(
        self, studies: Sequence[optuna.Study], budgets: Sequence[int], *, enabled: bool, console: Console | None = None
    ) -> None:
        self._studies = list(studies)
        self._budgets = list(budgets)
        self._enabled = enabled
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self._tasks: list = []
        self._last = 0.0

    def __enter__(self) -> StudyProgress:
        if self._enabled:
            self._progress.start()
            self._tasks = [
                self._progress.add_task(s.study_name, total=n, best="-")
                for s, n in zip(self._studies, self._budgets, strict=True)
            ]
            self.refresh(force=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._enabled:
            self.refresh(force=True)
            self._progress.stop()

    def refresh(self, force: bool = False) -> None:
        """Re-read the database (at most twice a second unless forced)."""
        if not self._enabled or (not force and time.monotonic() - self._last < 0.5):
            return
        self._last = time.monotonic()
        for study, task in zip(self._studies, self._tasks, strict=True):
            trials = storage_of(study).get_all_trials(study_id_of(study), deepcopy=False)
            best = best_trial(trials, study.direction)
            self._progress.update(
                task, completed=sum(map(is_finished, trials)), best="-" if best is None else f"{best.value:.4g}"
            )


def print_summary(console: Console, studies: Sequence[optuna.Study], seconds: float) -> None:
    """Best trial (value, params), counts by state and wall time, per study."""
    for study in studies:
        trials = storage_of(study).get_all_trials(study_id_of(study), deepcopy=False)
        counts = state_counts(trials)
        best = best_trial(trials, study.direction)
        table = Table(title=f"study {study.study_name}", show_header=False, title_justify="left")
        table.add_column("key", style="bold")
        table.add_column("value")
        table.add_row("finished", str(sum(map(is_finished, trials))))
        table.add_row("by state", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-")
        failed = last_error(trials)
        if failed is not None:  # "failed": the objective raised; each such trial keeps its error
            text = " ".join(str(failed.user_attrs[ERROR_ATTR]).split())
            table.add_row("last error", escape(f"#{failed.number}: {text[:200]}"))
        if best is not None:
            table.add_row("best trial", f"#{best.number}: {best.value:.6g}")
            for k, v in best.params.items():
                table.add_row(f"  {k}", f"{v:.4g}" if isinstance(v, float) else str(v))
        else:
            table.add_row("best trial", "none completed")
        table.add_row("time", f"{seconds:.1f} s")
        console.print(table)
