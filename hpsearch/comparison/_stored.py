"""A comparison's arm studies as stored: the little the verdict needs, read without the report.

Any object with these attributes works for the verdict (the report passes its
own StudyData), so reports and the engine read storage their own way but
compute one verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.samplers import sampler_of
from hpsearch.storage import study_id_of


class ArmLike(Protocol):
    """What the verdict reads of one arm study (one sampler, one repeat)."""

    name: str
    direction: str
    attrs: dict[str, Any]
    frozen: list[FrozenTrial]

    @property
    def sampler(self) -> str: ...

    @property
    def seed(self) -> Any: ...


@dataclass
class StoredArm:
    name: str
    direction: str  # "maximize" | "minimize"
    attrs: dict[str, Any]
    frozen: list[FrozenTrial] = field(default_factory=list, repr=False)

    @property
    def sampler(self) -> str:
        return sampler_of(self.attrs)

    @property
    def seed(self) -> Any:
        return self.attrs.get("seed")


def arm_studies(storage: optuna.storages.BaseStorage, name: str) -> list[StoredArm]:
    """Studies tagged ``comparison=<name>``, sorted by (sampler, seed)."""
    out = []
    for fs in storage.get_all_studies():
        if fs.user_attrs.get("comparison") != name:
            continue
        trials = sorted(storage.get_all_trials(study_id_of(fs), deepcopy=False), key=lambda t: t.number)
        direction = "minimize" if fs.directions[0] == optuna.study.StudyDirection.MINIMIZE else "maximize"
        out.append(StoredArm(fs.study_name, direction, dict(fs.user_attrs), trials))
    out.sort(key=lambda s: (s.sampler, str(s.seed), s.name))
    return out


def value_of(t: FrozenTrial) -> float:
    """The trial's (first) value if COMPLETE and finite, else NaN."""
    if t.state != TrialState.COMPLETE or not t.values:
        return math.nan
    v = float(t.values[0])
    return v if math.isfinite(v) else math.nan


def best_trial(arm: ArmLike) -> FrozenTrial | None:
    """The study's best finite COMPLETE trial (earliest on ties), or None."""
    sign = 1.0 if arm.direction == "maximize" else -1.0
    done = [t for t in arm.frozen if math.isfinite(value_of(t))]
    if not done:
        return None
    return max(done, key=lambda t: (sign * value_of(t), -t.number))


def seconds_of(arm: ArmLike) -> float:
    """Total training seconds of the study's trials (user attr train_seconds, else wall clock)."""
    total = 0.0
    for t in arm.frozen:
        s = t.user_attrs.get("train_seconds")
        if isinstance(s, (int, float)) and math.isfinite(s):
            total += float(s)
        elif t.datetime_start and t.datetime_complete:
            total += (t.datetime_complete - t.datetime_start).total_seconds()
    return total
