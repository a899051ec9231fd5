"""What a trial's outcome means for the budget, in one place (docs/architecture.md).

COMPLETE has a value; PRUNED was stopped early; FAIL with user attr
``diverged`` is a real result (the learning rate was too high); FAIL with user
attr ``error`` is an objective that raised (or a command that failed) on that
configuration: a result too, kept with its error text and never re-run. These
four are "finished" and fill a slot of the budget. Any other FAIL is a crash
(the worker process died, was interrupted, or its heartbeat or lease ran out),
whose slot runs again.

The CLI, the server, the reports and the run loop all count with these rules;
the claims table (hpsearch.storage) applies the same rule in SQL, and
tests/search/test_trial.py checks that the two agree.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

DIVERGED_ATTR = "diverged"  # user attr: True when training diverged (a NaN value)
ERROR_ATTR = "error"  # user attr: the objective's error text, when it raised on this trial


def is_diverged(t: FrozenTrial) -> bool:
    """FAIL with user attr diverged: a result, not a crash."""
    return t.state == TrialState.FAIL and bool(t.user_attrs.get(DIVERGED_ATTR))


def is_error(t: FrozenTrial) -> bool:
    """FAIL with user attr error: the objective raised on this configuration (a result, not a crash)."""
    return t.state == TrialState.FAIL and not is_diverged(t) and t.user_attrs.get(ERROR_ATTR) is not None


def is_crashed(t: FrozenTrial) -> bool:
    """FAIL that is neither diverged nor an objective error: its slot runs again."""
    return t.state == TrialState.FAIL and not is_diverged(t) and not is_error(t)


def is_finished(t: FrozenTrial) -> bool:
    """COMPLETE, PRUNED, diverged, or failed by an objective error: the trials the budget counts."""
    return t.state in (TrialState.COMPLETE, TrialState.PRUNED) or is_diverged(t) or is_error(t)


def state_name(t: FrozenTrial) -> str:
    """The trial's state in hpsearch's words: complete, pruned, diverged, failed, crashed, running, waiting."""
    if t.state == TrialState.FAIL:
        return "diverged" if is_diverged(t) else "failed" if is_error(t) else "crashed"
    return t.state.name.lower()


def state_counts(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    """Counts by state_name: FAILs split into diverged, failed (objective error) and crashed."""
    return dict(Counter(state_name(t) for t in trials))


def last_error(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The latest trial that failed by an objective error (None if there is none)."""
    errors = [t for t in trials if is_error(t)]
    return max(errors, key=lambda t: t.number) if errors else None


def best_trial(trials: Sequence[FrozenTrial], direction: optuna.study.StudyDirection) -> FrozenTrial | None:
    """The best COMPLETE trial with a finite value (None if there is none)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)]
    if not done:
        return None
    pick = max if direction == optuna.study.StudyDirection.MAXIMIZE else min
    return pick(done, key=lambda t: t.value)
