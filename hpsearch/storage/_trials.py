"""A worker's trial in as few transactions as the database allows: start, parameters, finish.

Optuna's public path for one of our trials cost about 16 ms of a worker's time
on SQLite, more than its training in short searches (benchmarks/README.md):
creating the trial (an ORM query and insert per system attribute), attaching it
to its claim and recording its first heartbeat (a transaction each), reading
it back three times (``optuna.Trial`` on construction, ``Study.tell`` twice) and
one transaction per parameter. Each also takes SQLite's one write lock, which
parallel workers queue for. Here, for a trial this process creates and runs:

* ``start_trial``: the trial row, its system attributes (with an enqueued
  configuration bound to its slot, see ``_queue``), its first heartbeat and
  its claim's attachment in one transaction. A claim taken over meanwhile
  rolls it all back, so no trial is left to fail. Numbered as Optuna numbers
  (the study's earlier trials, counted under the study row's lock);
* ``own_trial``: the ``optuna.Trial`` built from what was just written, not read back;
* ``batched_params``: the parameters suggested inside it, written in one
  transaction at its end, after Optuna's checks (the trial still running, the
  distribution compatible with the study's);
* ``finish_trial``: ``Study.tell`` for a trial object this process holds (its
  copy is up to date: Optuna's Trial keeps it so), without reading it back:
  the sampler's ``after_trial``, then state, values and end time in one
  transaction that fails with ``UpdateFinishedTrialError`` if someone else
  finished the trial first.

The rows are those Optuna writes (tests compare them with Optuna's own), and
Optuna's cache layer learns of the new trial as it does from its own create.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import optuna
import sqlalchemy as sa
from optuna import distributions, pruners
from optuna.storages._cached_storage import _CachedStorage, _StudyInfo
from optuna.storages._rdb import models
from optuna.study._tell import _check_values_are_feasible
from optuna.trial import FrozenTrial, TrialState

from hpsearch.storage._claims import Claim, attach_in
from hpsearch.storage._optuna import CONSTRAINT_PREFIX, backend_of, storage_of, study_id_of
from hpsearch.storage._queue import FIXED_PARAMS_KEY, bind_in

_trials = models.TrialModel.__table__
_system_attrs = models.TrialSystemAttributeModel.__table__
_params = models.TrialParamModel.__table__
_values = models.TrialValueModel.__table__
_heartbeats = models.TrialHeartbeatModel.__table__
_studies = models.StudyModel.__table__


class _ClaimLost(Exception):
    """The claim was taken over before its trial was attached: roll the trial back."""


def start_trial(study: optuna.Study, claim: Claim, template: FrozenTrial, *, heartbeat: bool) -> FrozenTrial | None:
    """Create the trial of ``claim`` (``template``'s start time and system attrs); None if the claim was lost.

    ``heartbeat``: record its first heartbeat in the same transaction (a worker
    killed before its first beat then still leaves a trial that goes stale).
    """
    storage = storage_of(study)
    engine = _engine(storage)
    study_id = study_id_of(study)
    start = template.datetime_start or datetime.now()
    lock_study, count_before, set_number = _start_queries()
    try:
        with engine.begin() as con:
            # PostgreSQL: numbering is serialised on the study row, as Optuna does; SQLite takes its
            # one write lock at the INSERT below, before the count (BEGIN IMMEDIATE).
            con.execute(lock_study, {"study_id_": study_id})
            inserted = con.execute(
                _trials.insert(),
                {"study_id": study_id, "number": None, "state": TrialState.RUNNING, "datetime_start": _utc(start)},
            )
            trial_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            number = con.execute(count_before, {"study_id_": study_id, "trial_id_": trial_id}).scalar_one()
            con.execute(set_number, {"trial_id_": trial_id, "number_": number})
            fixed = bind_in(con, study_id, claim.slot)  # an enqueued configuration, bound under the same lock
            if fixed is not None:
                template = copy.deepcopy(template)
                template.system_attrs[FIXED_PARAMS_KEY] = fixed
            if template.system_attrs:
                con.execute(
                    _system_attrs.insert(),
                    [
                        {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                        for key, value in template.system_attrs.items()
                    ],
                )
            if heartbeat and storage.get_heartbeat_interval():  # type: ignore[attr-defined]
                con.execute(_heartbeats.insert(), {"trial_id": trial_id})
            if not attach_in(con, claim, trial_id):
                raise _ClaimLost
    except _ClaimLost:
        return None
    frozen = copy.deepcopy(template)
    frozen.number, frozen.datetime_start, frozen.state = number, start, TrialState.RUNNING
    frozen._trial_id = trial_id
    if isinstance(storage, _CachedStorage):  # as its create_new_trial does
        with storage._lock:
            storage._studies.setdefault(study_id, _StudyInfo())
            storage._add_trials_to_cache(study_id, [copy.deepcopy(frozen)])
    return frozen


@functools.cache
def _start_queries() -> tuple[sa.Select, sa.Select, sa.Update]:
    """start_trial's statements, built once (a cheap trial's ask spent a fifth of its time building them)."""
    study_id, trial_id = sa.bindparam("study_id_", type_=sa.Integer), sa.bindparam("trial_id_", type_=sa.Integer)
    lock_study = sa.select(_studies.c.study_id).where(_studies.c.study_id == study_id).with_for_update()
    count_before = (
        sa.select(sa.func.count())
        .select_from(_trials)
        .where(_trials.c.study_id == study_id)
        .where(_trials.c.trial_id < trial_id)
    )
    set_number = (
        _trials.update().where(_trials.c.trial_id == trial_id).values(number=sa.bindparam("number_", type_=sa.Integer))
    )
    return lock_study, count_before, set_number


def own_trial(study: optuna.Study, frozen: FrozenTrial) -> optuna.Trial:
    """``optuna.Trial(study, trial_id)`` for a trial just created here, from its frozen copy instead of a read.

    What ``optuna.Trial.__init__`` does after its read (the sampler's
    before_trial included); a test holds the two objects equal.
    """
    trial = optuna.Trial.__new__(optuna.Trial)
    trial.study = study
    trial._trial_id = frozen._trial_id
    trial.storage = storage_of(study)
    trial._cached_frozen_trial = frozen
    study.sampler.before_trial(pruners._filter_study(study, frozen), frozen)
    trial.relative_search_space = None
    trial._relative_params = None
    trial._fixed_params = frozen.system_attrs.get("fixed_params", {})
    return trial


class _ParamBuffer:
    """The trial's storage, except that parameters are kept instead of written."""

    def __init__(self, storage: optuna.storages.BaseStorage) -> None:
        self._storage = storage
        self.pending: list[tuple[str, float, distributions.BaseDistribution]] = []

    def set_trial_param(
        self, trial_id: int, name: str, value: float, distribution: distributions.BaseDistribution
    ) -> None:
        self.pending.append((name, value, distribution))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


@contextmanager
def batched_params(trial: optuna.trial.BaseTrial) -> Iterator[None]:
    """Write the parameters suggested inside this block in one transaction, at its end.

    Any trial other than an ``optuna.Trial`` on an RDB storage writes them as it
    always does. If the block raises, nothing of it is written.
    """
    storage = getattr(trial, "storage", None)
    if type(trial) is not optuna.Trial or not isinstance(backend_of(storage), optuna.storages.RDBStorage):  # type: ignore[arg-type]
        yield
        return
    buffer = _ParamBuffer(storage)  # type: ignore[arg-type]
    trial.storage = buffer  # type: ignore[assignment]
    try:
        yield
    finally:
        trial.storage = storage  # type: ignore[assignment]
    if buffer.pending:
        _write_params(storage, trial._trial_id, buffer.pending)  # type: ignore[arg-type]


def _write_params(
    storage: optuna.storages.BaseStorage,
    trial_id: int,
    pending: Sequence[tuple[str, float, distributions.BaseDistribution]],
) -> None:
    engine = _engine(storage)
    cache = storage._studies if isinstance(storage, _CachedStorage) else {}
    with engine.begin() as con:
        con.execute(
            _params.insert(),
            [
                {
                    "trial_id": trial_id,
                    "param_name": name,
                    "param_value": value,
                    "distribution_json": distributions.distribution_to_json(dist),
                }
                for name, value, dist in pending
            ],
        )
        # Inside the transaction (SQLite's write lock is held since the INSERT): the trial is
        # still running, and each distribution fits the one the study already has for the name.
        row = con.execute(_trial_state_query(), {"trial_id_": trial_id}).one()
        backend_of(storage).check_trial_is_updatable(trial_id, row.state)
        known = cache[row.study_id].param_distribution if row.study_id in cache else {}
        for name, _value, dist in pending:
            previous = known.get(name) or _study_distribution(con, row.study_id, name, trial_id)
            if previous is not None:
                distributions.check_distribution_compatibility(previous, dist)
    for name, _value, dist in pending:
        known.setdefault(name, dist)


@functools.cache
def _trial_state_query() -> sa.Select:
    return sa.select(_trials.c.state, _trials.c.study_id).where(
        _trials.c.trial_id == sa.bindparam("trial_id_", type_=sa.Integer)
    )


def _study_distribution(con: sa.Connection, study_id: int, name: str, trial_id: int) -> Any:
    """The distribution of parameter ``name`` in another trial of the study (Optuna's check), or None."""
    found = con.execute(
        sa.select(_params.c.distribution_json)
        .select_from(_params.join(_trials, _trials.c.trial_id == _params.c.trial_id))
        .where(_trials.c.study_id == study_id)
        .where(_params.c.param_name == name)
        .where(_params.c.trial_id != trial_id)
        .limit(1)
    ).scalar()
    return None if found is None else distributions.json_to_distribution(found)


def finish_trial(
    study: optuna.Study, trial: optuna.Trial, state: TrialState, value: float | Sequence[float] | None = None
) -> FrozenTrial:
    """``study.tell(trial, value, state=state)`` for a trial this process holds, without reading it back.

    ``state`` is COMPLETE (with a finite ``value``, or one per objective), PRUNED or FAIL. As Optuna
    does: a pruned trial takes its last feasible intermediate value, the
    sampler's ``after_trial`` runs first and the state is written even if it
    raises. Raises ``UpdateFinishedTrialError`` when the trial was finished
    by someone else (nothing is written then).
    """
    if state == TrialState.COMPLETE and value is None:
        raise ValueError("No values were told. Values are required when state is TrialState.COMPLETE.")
    frozen: FrozenTrial = trial._cached_frozen_trial
    values: list[float] | None = None
    if state == TrialState.COMPLETE and value is not None:
        values = [float(v) for v in value] if isinstance(value, Sequence) else [float(value)]
    if state == TrialState.PRUNED and frozen.last_step is not None:
        last = frozen.intermediate_values[frozen.last_step]
        if _check_values_are_feasible(study, [last]) is None:
            values = [float(last)]
    study._thread_local.cached_all_trials = None  # Optuna's tell drops this cache too
    try:
        study.sampler.after_trial(pruners._filter_study(study, frozen), frozen, state, values)
    finally:
        complete = _write_outcome(storage_of(study), trial._trial_id, state, values)
    done = copy.deepcopy(frozen)
    done.state, done.values, done.datetime_complete = state, values, complete
    return done


def _write_outcome(
    storage: optuna.storages.BaseStorage, trial_id: int, state: TrialState, values: list[float] | None
) -> datetime:
    complete = datetime.now()
    finish, drop_values = _outcome_queries()
    with _engine(storage).begin() as con:
        updated = con.execute(finish, {"trial_id_": trial_id, "state_": state, "complete_": _utc(complete)})
        if updated.rowcount != 1:
            raise optuna.exceptions.UpdateFinishedTrialError(
                f"Trial#{trial_id} has already finished and can not be updated."
            )
        if values is not None:
            con.execute(drop_values, {"trial_id_": trial_id})
            rows = []
            for objective, v in enumerate(values):
                stored, kind = models.TrialValueModel.value_to_stored_repr(v)
                rows.append({"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind})
            con.execute(_values.insert(), rows)
    return complete


def write_constraints(
    storage: optuna.storages.BaseStorage, trial_id: int, constraints: Mapping[str, float], trial: Any = None
) -> None:
    """Record a running trial's constraint values as Optuna's ``trial.set_constraint`` does (system
    attrs ``constraints:<key>``; <= 0 is feasible), for a trial known by its id only (the HTTP API's).

    ``trial``: the live ``optuna.Trial`` this process holds, whose cached copy is updated too, so
    the sampler's ``after_trial`` (finish_trial) sees the values. Optuna samplers read them from
    the stored trials (TPE and NSGA-II prefer feasible trials).
    """
    for key, value in constraints.items():
        storage.set_trial_system_attr(trial_id, CONSTRAINT_PREFIX + key, float(value))
        if trial is not None:
            trial._cached_frozen_trial.system_attrs[CONSTRAINT_PREFIX + key] = float(value)


@functools.cache
def _outcome_queries() -> tuple[sa.Update, sa.Delete]:
    """_write_outcome's statements, built once."""
    trial_id = sa.bindparam("trial_id_", type_=sa.Integer)
    finish = (
        _trials.update()
        .where(_trials.c.trial_id == trial_id)
        .where(_trials.c.state == TrialState.RUNNING)
        .values(
            state=sa.bindparam("state_", type_=_trials.c.state.type),
            datetime_complete=sa.bindparam("complete_", type_=_trials.c.datetime_complete.type),
        )
    )
    return finish, _values.delete().where(_values.c.trial_id == trial_id)


def fast_path(storage: optuna.storages.BaseStorage) -> bool:
    """Whether this module's functions apply: an RDBStorage (behind Optuna's cache or not)."""
    return isinstance(backend_of(storage), optuna.storages.RDBStorage)


def _engine(storage: optuna.storages.BaseStorage) -> sa.Engine:
    return backend_of(storage).engine  # type: ignore[attr-defined]


def _utc(moment: datetime) -> datetime:
    """Naive local time -> naive UTC, as Optuna's TrialModel stores datetimes."""
    return moment.astimezone(UTC).replace(tzinfo=None)
