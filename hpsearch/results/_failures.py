"""Failed trials as a reader shows them: the cause, the detail, and where the full log is.

A trial failed by an objective error keeps its error text (cause first, then
detail such as the tail of a command's stderr; hpsearch.records.error_text)
and, for command objectives, the path of its full stderr log. The report and
the dashboard list the newest few so that a user sees *why* trials failed
without opening a shell; ``hpsearch logs NAME N`` prints the whole log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial

from hpsearch.records import STDERR_LOG_ATTR, error_cause, error_text, is_error

SHOWN = 20  # failed trials listed, newest first: enough to see a pattern, few enough to read


@dataclass(frozen=True)
class Failure:
    number: int
    cause: str  # the error's first line
    detail: str  # the whole stored error text (the cause, then e.g. the stderr tail)
    stderr_log: str | None  # the full stderr file of a command trial, when kept


def failures(trials: Sequence[FrozenTrial], limit: int = SHOWN) -> list[Failure]:
    """The newest ``limit`` trials of ``trials`` failed by an objective error, newest first."""
    failed = sorted((t for t in trials if is_error(t)), key=lambda t: t.number, reverse=True)[:limit]
    out = []
    for t in failed:
        text = error_text(t) or ""
        log = t.user_attrs.get(STDERR_LOG_ATTR)
        out.append(Failure(t.number, error_cause(text), text, log if isinstance(log, str) else None))
    return out
