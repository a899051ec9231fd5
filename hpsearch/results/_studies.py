"""Read studies from storage into plain data the figures and tables can use.

Reports must work for ANY Optuna study, so every hpsearch attribute
(``sampler``, ``seed``, ``train_seconds``, ``learning_curve``, ...) is optional
here: a missing attribute becomes ``None`` / NaN and the report leaves that part
out. Trials are reduced to what a report needs, in trial-number order.

Which trials count is hpsearch.records' rule: COMPLETE, PRUNED, diverged and
objective-error FAIL trials are "finished" (they used budget); crashes (re-run
by hpsearch) and RUNNING/WAITING trials are listed but not on the budget axes.
A multi-objective study has no single value per trial (records' policy): each
trial's ``value`` is NaN, its ``values`` hold every objective's value (with
``feasible`` from Optuna's constraints), and the study carries a note saying why.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from hpsearch.records import (
    COMPARISON_ATTR,
    EPOCHS_RUN_ATTR,
    LEARNING_CURVE_ATTR,
    SEED_ATTR,
    SLOT_ATTR,
    SPEC_ATTR,
    STATE_NAMES,
    TEST_FRONT_ATTR,
    TEST_SCORES_ATTR,
    TEST_TRIAL_ATTR,
    TRAIN_SECONDS_ATTR,
    VERDICT_ATTR,
    Direction,
    best_trial,
    direction_name,
    is_diverged,
    is_finished,
    multi_objective_reason,
    sampler_of,
    state_name,
    stored_budget,
    value_of,
)
from hpsearch.samplers import display_key
from hpsearch.storage import read_trials


@dataclass
class TrialData:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING | WAITING
    value: float  # NaN unless COMPLETE, single-objective, with a finite value (hpsearch.records.value_of)
    params: dict[str, Any]
    seconds: float  # trial duration (train_seconds, else wall clock), NaN if unknown
    epochs: float  # epochs trained (also by pruned trials), NaN if unknown
    curve: list[float]  # learning curve (user attr, else intermediate values)
    diverged: bool  # hpsearch.records.is_diverged
    finished: bool  # hpsearch.records.is_finished: counts toward the budget
    user_attrs: dict[str, Any]
    outcome: str = ""  # hpsearch.records.state_name: complete, pruned, diverged, failed, crashed, ...
    values: tuple[float, ...] = ()  # every objective's value if COMPLETE (non-finite as NaN), else ()
    feasible: bool = True  # every constraint value <= 0 (Optuna's constraint API); True without constraints


@dataclass
class StudyData:
    name: str
    direction: Direction  # "maximize" | "minimize"
    attrs: dict[str, Any]
    trials: list[TrialData]
    distributions: dict[str, optuna.distributions.BaseDistribution] = field(default_factory=dict)
    frozen: list[optuna.trial.FrozenTrial] = field(default_factory=list, repr=False)
    directions: list[optuna.study.StudyDirection] = field(default_factory=list)
    note: str = ""  # why a study has no single value per trial (hpsearch.records.multi_objective_reason)
    metric_names: list[str] = field(default_factory=list)  # one per objective (Optuna's metric_names, else made up)

    @property
    def multi_objective(self) -> bool:
        return len(self.directions) > 1

    @property
    def metric(self) -> str:
        """What a single objective's value is called on axes and in captions: Optuna's metric name
        when the study stored one, else the spec's metric (e.g. "accuracy"), else "value"."""
        if self.metric_names and self.metric_names[0] != "value":
            return self.metric_names[0]
        spec = self.attrs.get(SPEC_ATTR)
        section = spec.get("study") if isinstance(spec, dict) else None
        named = section.get("metric") if isinstance(section, dict) else None
        return named if isinstance(named, str) and named else "value"

    def objective_values(self) -> tuple[list[TrialData], np.ndarray]:
        """(the COMPLETE trials with every objective finite, their values as an (n, objectives) array),
        in trial-number order: the points a Pareto front is made of."""
        done = [
            t
            for t in self.trials
            if t.state == "COMPLETE" and len(t.values) == len(self.directions) and all(map(math.isfinite, t.values))
        ]
        return done, np.array([t.values for t in done], dtype=float).reshape(len(done), len(self.directions))

    @property
    def sampler(self) -> str:
        return sampler_of(self.attrs)

    @property
    def seed(self) -> Any:
        return self.attrs.get(SEED_ATTR)

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
        """Trials by hpsearch.records.state_name (every name present, 0 when none)."""
        out = dict.fromkeys(STATE_NAMES, 0)
        for t in self.trials:
            out[t.outcome] = out.get(t.outcome, 0) + 1
        return out

    def seconds(self) -> float:
        """Total training seconds of the study's trials (user attr train_seconds, else wall clock)."""
        return float(sum(t.seconds for t in self.trials if math.isfinite(t.seconds)))

    def finished_by_slot(self) -> list[TrialData]:
        """Finished trials in the order of their budget slots (a re-run crash's slot keeps its place)."""
        slots = {t.number: t.system_attrs.get(SLOT_ATTR) for t in self.frozen}

        def slot(t: TrialData) -> int:
            s = slots.get(t.number)
            return s if isinstance(s, int) and not isinstance(s, bool) else t.number

        return sorted(self.finished, key=lambda t: (slot(t), t.number))

    def best_within(self, budget: int | None) -> TrialData | None:
        """The best trial (hpsearch.records.best_trial) among the first ``budget`` finished trials by slot:
        the pick of a repeat compared at that budget (None: all of them)."""
        kept = {t.number for t in (self.finished_by_slot() if budget is None else self.finished_by_slot()[:budget])}
        top = best_trial([t for t in self.frozen if t.number in kept], self.directions)
        return None if top is None else next(t for t in self.trials if t.number == top.number)

    def best(self) -> TrialData | None:
        """The best trial by hpsearch.records.best_trial (None for a multi-objective study)."""
        top = best_trial(self.frozen, self.directions)
        return None if top is None else next(t for t in self.trials if t.number == top.number)


def _to_float(x: Any) -> float:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return math.nan
    return f


def _trial(t: optuna.trial.FrozenTrial) -> TrialData:
    attrs = dict(t.user_attrs)
    seconds = _to_float(attrs.get(TRAIN_SECONDS_ATTR))
    if not math.isfinite(seconds) and t.datetime_start and t.datetime_complete:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    epochs = _to_float(attrs.get(EPOCHS_RUN_ATTR, attrs.get("epochs_trained")))
    curve = attrs.get(LEARNING_CURVE_ATTR)
    if isinstance(curve, list):
        curve = [_to_float(v) for v in curve]
    else:
        curve = [_to_float(t.intermediate_values[k]) for k in sorted(t.intermediate_values)]
    if not math.isfinite(epochs) and t.intermediate_values:
        epochs = float(len(t.intermediate_values))
    return TrialData(
        number=t.number,
        state=t.state.name,
        value=value_of(t),
        params=dict(t.params),
        seconds=seconds,
        epochs=epochs,
        curve=curve,
        diverged=is_diverged(t),
        finished=is_finished(t),
        user_attrs=attrs,
        outcome=state_name(t),
        values=tuple(_to_float(v) for v in t.values) if t.state.name == "COMPLETE" and t.values else (),
        feasible=all(_to_float(c) <= 0 for c in t.constraints.values()),
    )


def metric_names(storage: optuna.storages.BaseStorage, name: str, n_objectives: int) -> list[str]:
    """The objectives' names as every listing spells them (hpsearch.export.objective_columns): Optuna's
    ``study.metric_names`` where the study set them, else ``value_0``, ``value_1``, ... (one: ``value``)."""
    from hpsearch.export import objective_columns
    from hpsearch.storage import metric_names as stored_names

    try:
        names = stored_names(storage, storage.get_study_id_from_name(name))
    except KeyError:
        names = None
    return objective_columns(n_objectives, names)


def study_data(storage: optuna.storages.BaseStorage, frozen_study: Any) -> StudyData:
    """One study (a FrozenStudy from ``storage.get_all_studies()``) as plain data."""
    sid = storage.get_study_id_from_name(frozen_study.study_name)
    trials = read_trials(storage, sid)  # = get_all_trials in number order, ~4x faster on RDB storages
    directions = frozen_study.directions
    note = multi_objective_reason(directions) or ""
    direction = direction_name(directions[0])
    dists: dict[str, Any] = {}
    for t in trials:
        for k, d in t.distributions.items():
            dists.setdefault(k, d)
    return StudyData(
        name=frozen_study.study_name,
        direction=direction,
        attrs=dict(frozen_study.user_attrs),
        trials=[_trial(t) for t in trials],
        distributions=dists,
        frozen=list(trials),
        directions=list(directions),
        note=note,
        metric_names=metric_names(storage, frozen_study.study_name, len(directions)),
    )


def find_studies(storage: optuna.storages.BaseStorage, name: str) -> tuple[StudyData | None, list[StudyData]]:
    """(the study called ``name`` or None, the arms of comparison ``name``)."""
    single, arms = None, []
    for fs in storage.get_all_studies():
        if fs.study_name == name:
            single = study_data(storage, fs)
        elif fs.user_attrs.get(COMPARISON_ATTR) == name:
            arms.append(study_data(storage, fs))
    arms.sort(key=lambda s: (s.sampler, str(s.seed), s.name))
    return single, arms


def arm_studies(storage: optuna.storages.BaseStorage, name: str) -> list[StudyData]:
    """The arm studies of comparison ``name`` (user attr comparison), sorted by (sampler, seed, name)."""
    return find_studies(storage, name)[1]


def with_stored_attrs(storage: optuna.storages.BaseStorage, studies: Sequence[StudyData]) -> list[StudyData]:
    """``studies`` with their study user attrs read again from ``storage`` (trials as they were).

    A comparison reads its arm studies' trials once (90 studies of 72 trials take
    seconds) and then only writes study user attrs (held-out scores, the verdict):
    this reads those back in one query, so every later step sees what is stored.
    """
    attrs = {fs.study_name: fs.user_attrs for fs in storage.get_all_studies()}
    return [dataclasses.replace(s, attrs=dict(attrs.get(s.name, s.attrs))) for s in studies]


def compared_budget(studies: Sequence[StudyData]) -> int:
    """The number of finished trials every arm of a comparison is compared at: the smallest budget of
    any arm study (a grid smaller than n_trials caps its arm), else its finished trials (a study
    hpsearch did not make; one with none yet is left out). Best-of-N grows with N: arms must be
    compared at the same N."""
    budgets = [b if (b := stored_budget(s.attrs)) is not None else len(s.finished) for s in studies]
    return min((b for b in budgets if b > 0), default=0)  # an arm with nothing yet does not drag it to 0


def group_by_sampler(studies: Sequence[StudyData]) -> dict[str, list[StudyData]]:
    """Studies grouped by sampler in the registry's order (grid, random, qmc, tpe, others), repeats by seed."""
    arms: dict[str, list[StudyData]] = {}
    for s in studies:
        arms.setdefault(s.sampler, []).append(s)
    return {n: sorted(arms[n], key=lambda s: (str(s.seed), s.name)) for n in sorted(arms, key=display_key)}


def verdict_fingerprint(studies: Sequence[StudyData]) -> dict[str, list[Any]]:
    """What a comparison's verdict was computed from: per arm study, its finished trials and the
    held-out scores it carries. A stored verdict whose fingerprint differs is stale."""
    out: dict[str, list[Any]] = {}
    for s in sorted(studies, key=lambda s: s.name):
        out[s.name] = [len(s.finished), s.attrs.get(TEST_TRIAL_ATTR), len(s.attrs.get(TEST_SCORES_ATTR) or [])]
        front = s.attrs.get(TEST_FRONT_ATTR)
        if isinstance(front, dict):  # several objectives: the held-out front's trials
            out[s.name].append(sorted(map(str, front.get("trials") or [])))
    return out


def stored_verdict(studies: Sequence[StudyData]) -> dict[str, Any] | None:
    """The verdict compare stored with these arm studies, if it is still theirs (else None)."""
    want = verdict_fingerprint(studies)
    for s in studies:
        record = s.attrs.get(VERDICT_ATTR)
        if isinstance(record, dict) and record.get("fingerprint") == want and isinstance(record.get("verdict"), dict):
            return dict(record["verdict"])
    return None
