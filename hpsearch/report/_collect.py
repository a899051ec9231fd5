"""Read studies from storage into plain data the figures and tables can use.

Reports must work for ANY Optuna study, so every hpsearch attribute
(``sampler``, ``seed``, ``train_seconds``, ``learning_curve``, ...) is optional
here: a missing attribute becomes ``None`` / NaN and the report leaves that part
out. Trials are reduced to what a report needs, in trial-number order.

Which trials count: COMPLETE, PRUNED and diverged FAIL trials are "finished"
(they used budget); other FAIL trials (crashes, re-run by hpsearch) and
RUNNING/WAITING trials are listed in the table but not on the budget axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from hpsearch.samplers import sampler_of
from hpsearch.search import is_diverged, is_finished
from hpsearch.storage import read_trials


@dataclass
class TrialData:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING | WAITING
    value: float  # NaN unless COMPLETE with a finite value
    params: dict[str, Any]
    seconds: float  # trial duration (train_seconds, else wall clock), NaN if unknown
    epochs: float  # epochs trained (also by pruned trials), NaN if unknown
    curve: list[float]  # learning curve (user attr, else intermediate values)
    diverged: bool  # hpsearch.search.is_diverged
    finished: bool  # hpsearch.search.is_finished: counts toward the budget
    user_attrs: dict[str, Any]


@dataclass
class StudyData:
    name: str
    direction: str  # "maximize" | "minimize"
    attrs: dict[str, Any]
    trials: list[TrialData]
    distributions: dict[str, optuna.distributions.BaseDistribution] = field(default_factory=dict)
    frozen: list[optuna.trial.FrozenTrial] = field(default_factory=list, repr=False)
    note: str = ""  # e.g. "multi-objective: objective 0 shown"

    @property
    def sampler(self) -> str:
        return sampler_of(self.attrs)

    @property
    def seed(self) -> Any:
        return self.attrs.get("seed")

    @property
    def finished(self) -> list[TrialData]:
        return [t for t in self.trials if t.finished]

    def values(self) -> np.ndarray:
        """Values of finished trials in order (NaN for pruned / diverged)."""
        return np.array([t.value for t in self.finished], dtype=float)

    def cumulative(self, what: str) -> np.ndarray:
        """Cumulative seconds or epochs over finished trials (unknown counted as 0)."""
        x = np.array([getattr(t, what) for t in self.finished], dtype=float)
        return np.cumsum(np.nan_to_num(x, nan=0.0))

    def has(self, what: str) -> bool:
        return any(math.isfinite(getattr(t, what)) for t in self.finished)

    def counts(self) -> dict[str, int]:
        out = {"COMPLETE": 0, "PRUNED": 0, "DIVERGED": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0}
        for t in self.trials:
            key = "DIVERGED" if (t.state == "FAIL" and t.diverged) else t.state
            out[key] = out.get(key, 0) + 1
        return out

    def best(self) -> TrialData | None:
        done = [t for t in self.trials if math.isfinite(t.value)]
        if not done:
            return None
        sign = 1 if self.direction == "maximize" else -1
        return max(done, key=lambda t: (sign * t.value, -t.number))


def _to_float(x: Any) -> float:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return math.nan
    return f


def _trial(t: optuna.trial.FrozenTrial, obj: int) -> TrialData:
    attrs = dict(t.user_attrs)
    value = math.nan
    if t.state == TrialState.COMPLETE and t.values:
        value = _to_float(t.values[obj])
    seconds = _to_float(attrs.get("train_seconds"))
    if not math.isfinite(seconds) and t.datetime_start and t.datetime_complete:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    epochs = _to_float(attrs.get("epochs_run", attrs.get("epochs_trained")))
    curve = attrs.get("learning_curve")
    if isinstance(curve, list):
        curve = [_to_float(v) for v in curve]
    else:
        curve = [_to_float(t.intermediate_values[k]) for k in sorted(t.intermediate_values)]
    if not math.isfinite(epochs) and t.intermediate_values:
        epochs = float(len(t.intermediate_values))
    return TrialData(
        number=t.number,
        state=t.state.name,
        value=value,
        params=dict(t.params),
        seconds=seconds,
        epochs=epochs,
        curve=curve,
        diverged=is_diverged(t),
        finished=is_finished(t),
        user_attrs=attrs,
    )


def study_data(storage: optuna.storages.BaseStorage, frozen_study: Any) -> StudyData:
    """One study (a FrozenStudy from ``storage.get_all_studies()``) as plain data."""
    sid = storage.get_study_id_from_name(frozen_study.study_name)
    trials = read_trials(storage, sid)  # = get_all_trials in number order, ~4x faster on RDB storages
    directions = frozen_study.directions
    note = "multi-objective study: the first objective is shown" if len(directions) > 1 else ""
    direction = "minimize" if directions[0] == optuna.study.StudyDirection.MINIMIZE else "maximize"
    dists: dict[str, Any] = {}
    for t in trials:
        for k, d in t.distributions.items():
            dists.setdefault(k, d)
    return StudyData(
        name=frozen_study.study_name,
        direction=direction,
        attrs=dict(frozen_study.user_attrs),
        trials=[_trial(t, 0) for t in trials],
        distributions=dists,
        frozen=list(trials),
        note=note,
    )


def find_studies(storage: optuna.storages.BaseStorage, name: str) -> tuple[StudyData | None, list[StudyData]]:
    """(the study called ``name`` or None, the arms of comparison ``name``)."""
    single, arms = None, []
    for fs in storage.get_all_studies():
        if fs.study_name == name:
            single = study_data(storage, fs)
        elif fs.user_attrs.get("comparison") == name:
            arms.append(study_data(storage, fs))
    arms.sort(key=lambda s: (s.sampler, str(s.seed), s.name))
    return single, arms
