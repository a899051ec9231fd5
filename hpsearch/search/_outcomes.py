"""What a trial's outcome means for the budget, in one place (docs/architecture.md).

COMPLETE has a value; PRUNED was stopped early; FAIL with user attr
``diverged`` is a real result (the learning rate was too high) and is never
re-run; any other FAIL is a crash, whose slot runs again. The CLI, the
server and the run loop all count with these rules.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState


def is_diverged(t: FrozenTrial) -> bool:
    """FAIL with user attr diverged: a result, not a crash."""
    return t.state == TrialState.FAIL and bool(t.user_attrs.get("diverged"))


def is_finished(t: FrozenTrial) -> bool:
    """COMPLETE, PRUNED, or diverged: the trials the budget counts."""
    return t.state in (TrialState.COMPLETE, TrialState.PRUNED) or is_diverged(t)


def state_counts(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    """Counts by state, with diverged FAILs apart from crashed ones."""
    c: Counter[str] = Counter()
    for t in trials:
        if t.state == TrialState.FAIL:
            c["diverged" if is_diverged(t) else "crashed"] += 1
        else:
            c[t.state.name.lower()] += 1
    return dict(c)


def best_trial(trials: Sequence[FrozenTrial], direction: optuna.study.StudyDirection) -> FrozenTrial | None:
    """The best COMPLETE trial with a finite value (None if there is none)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None
            and math.isfinite(t.value)]
    if not done:
        return None
    pick = max if direction == optuna.study.StudyDirection.MAXIMIZE else min
    return pick(done, key=lambda t: t.value)
