"""Choosing one configuration from a Pareto front: ``best NAME --pick "accuracy>=0.97,min train_seconds"``.

A multi-objective study has no single best trial (hpsearch.records), only a
front of trade-offs; the user says which trade-off they want. A pick is
comma-separated clauses:

* conditions ``metric >= x`` (also ``<=``, ``>``, ``<``, ``=``): a trial of the
  front qualifies only if it meets every one;
* exactly one goal, ``min metric`` or ``max metric``: among those that
  qualify, the trial with the lowest (highest) value wins, the earliest on ties.

A metric is one of the study's objectives (by name, see
:func:`hpsearch.export.objective_columns`) or a number the trial reports as a
user attr (``n_params``, ``predict_ms_per_1k``, ...). Any problem, a malformed
clause, an unknown metric, or no trial meeting the conditions, is a UserError
naming what was expected.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial

from hpsearch.errors import UserError
from hpsearch.records import trial_metrics

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
    "==": operator.eq,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(>=|<=|==|=|>|<)\s*(\S+)\s*$")
_GOAL = re.compile(r"^\s*(min|max)\s+([A-Za-z_][\w.\-]*)\s*$")
_EXPECTED = '--pick: expected clauses like "accuracy>=0.97,min train_seconds" (conditions, then one min/max goal)'


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    bound: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.bound)


@dataclass(frozen=True)
class Pick:
    """A parsed ``--pick``: conditions every chosen trial meets, and the one goal that chooses."""

    conditions: tuple[Condition, ...]
    goal: str  # "min" | "max"
    metric: str


def parse_pick(text: str) -> Pick:
    """``"accuracy>=0.97,min train_seconds"`` -> Pick; UserError (exit 2) for anything else."""
    conditions: list[Condition] = []
    goals: list[tuple[str, str]] = []
    clauses = text.split(",")
    if not text.strip():
        raise UserError(f"{_EXPECTED}, got an empty pick")
    for clause in clauses:
        goal = _GOAL.match(clause)
        if goal is not None:
            goals.append((goal.group(1), goal.group(2)))
            continue
        cond = _CONDITION.match(clause)
        if cond is None:
            raise UserError(f"{_EXPECTED}, got {clause.strip()!r}")
        try:
            bound = float(cond.group(3))
        except ValueError:
            raise UserError(f"--pick: expected a number after {cond.group(2)!r}, got {cond.group(3)!r}") from None
        if not math.isfinite(bound):
            raise UserError(f"--pick: expected a finite number after {cond.group(2)!r}, got {cond.group(3)!r}")
        conditions.append(Condition(cond.group(1), cond.group(2), bound))
    if len(goals) != 1:
        raise UserError(f"{_EXPECTED}; it has {len(goals)} min/max goals, expected exactly 1: {text!r}")
    return Pick(tuple(conditions), goals[0][0], goals[0][1])


def metrics_of(t: FrozenTrial, names: Sequence[str]) -> dict[str, float]:
    """The numbers a pick may name for trial ``t`` (hpsearch.records.trial_metrics)."""
    return trial_metrics(t.user_attrs, names, t.values)


def pick_trial(front: Sequence[FrozenTrial], names: Sequence[str], pick: Pick) -> FrozenTrial:
    """The trial of ``front`` that meets every condition and is best by the goal (earliest on ties)."""
    if not front:
        raise UserError("--pick: the study has no feasible completed trial yet, so no front to pick from")
    rows = [(t, metrics_of(t, names)) for t in sorted(front, key=lambda t: t.number)]
    known = set().union(*(m for _, m in rows))
    for metric in [c.metric for c in pick.conditions] + [pick.metric]:
        if metric not in known:
            raise UserError(
                f"--pick: expected a metric of the front's trials (objectives: {', '.join(names)}; "
                f"also {', '.join(sorted(known - set(names))) or 'nothing else'}), got {metric!r}"
            )
    ok = [(t, m) for t, m in rows if all(c.metric in m and c.holds(m[c.metric]) for c in pick.conditions)]
    ok = [(t, m) for t, m in ok if pick.metric in m]
    if not ok:
        said = ", ".join(f"{c.metric}{c.op}{c.bound:g}" for c in pick.conditions)
        raise UserError(f"--pick: no trial of the front ({len(front)} trials) meets {said}")
    sign = 1.0 if pick.goal == "min" else -1.0
    return min(ok, key=lambda tm: (sign * tm[1][pick.metric], tm[0].number))[0]
