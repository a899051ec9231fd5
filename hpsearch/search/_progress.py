"""What a run tells whoever shows it: the library's one progress callback.

The library prints nothing. A run (``run_study``, ``run_studies``,
``join_study``) and a comparison (hpsearch.comparison) call these methods, and
a shell decides what to show: the CLI draws a progress bar and a closing
summary (``hpsearch.cli._progress``); the Python API shows nothing unless
asked; a test can record the calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class RunProgress(Protocol):
    """Callbacks of a run, in order: ``started``, ``tick`` (many), ``finished``; ``note`` at any time."""

    def started(self, storage: Any, names: Sequence[str], budgets: Sequence[int]) -> None:
        """The studies ``names`` (with these budgets of finished trials) start running."""

    def tick(self) -> None:
        """A trial finished, or the worker pool was polled: a display may re-read the database."""

    def finished(self, storage: Any, names: Sequence[str], seconds: float, *, ok: bool) -> None:
        """The run of ``names`` ended after ``seconds``: ``ok`` when it ran to its end (budget or
        timeout), False when an error or an interruption stopped it (the error follows)."""

    def note(self, message: str) -> None:
        """One line for the user (e.g. a study is already complete, a comparison starts retraining)."""


def checked(progress: Any) -> RunProgress | None:
    """``progress`` as a RunProgress, or None for no display (None and False both mean none)."""
    if progress is None or progress is False:
        return None
    if not all(callable(getattr(progress, m, None)) for m in ("started", "tick", "finished", "note")):
        raise TypeError(f"progress: expected a RunProgress (started, tick, finished, note), got {progress!r}")
    return progress
