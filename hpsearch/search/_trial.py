"""Ask/tell with slot claims: the one way trials start and finish, for CLI workers and the HTTP API.

``ask_trial`` claims a slot of the study's budget (hpsearch.storage claims
table) before it creates the Optuna trial, so the budget is never overshot and
no grid point runs twice; ``tell_trial`` finishes a trial by number with the
rules of docs/architecture.md (NaN = diverged = a real result; a plain FAIL is
a crash, and its slot runs again).
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.errors import UserError
from hpsearch.records import (
    ASK_KEY_ATTR,
    CLAIM_TOKEN_ATTR,
    DIVERGED_ATTR,
    ERROR_ATTR,
    HOST_ATTR,
    LEASE_ATTR,
    PID_ATTR,
    SLOT_ATTR,
    budget,
)
from hpsearch.search._recovery import (
    fail_expired_leases,
    fail_orphans,
    fail_trial,
    recover_study,
)
from hpsearch.search._samplers import SlotGridSampler, make_sampler
from hpsearch.storage import (
    Claim,
    SlotStatus,
    attach_trial,
    batched_params,
    drop_trials_cache,
    engine_of,
    fast_path,
    own_trial,
    running_trial_with_attr,
    storage_of,
    study_id_of,
    trial_id_of,
    trial_store,
    write_constraints,
)


class StudyComplete(UserError):
    """Every slot of the study's budget holds a finished trial."""


class SlotsBusy(StudyComplete):
    """No slot is free, but some are still running (one may free up if its worker dies)."""


class TrialNotFound(UserError):
    """No trial with that number in the study (HTTP 404)."""


class TrialAlreadyFinished(UserError):
    """The trial was told already (HTTP 409)."""


def ask_trial(
    study: optuna.Study,
    spec: Any,
    *,
    heartbeat: bool = False,
    record_pid: bool = True,
    lease: float | None = None,
    key: str | None = None,
) -> tuple[optuna.Trial, dict]:
    """Claim a slot, start its trial and suggest its parameters: (trial, params).

    Raises StudyComplete when all slots are done, SlotsBusy when the rest are running.
    Expired leases are failed before any slot is claimed (one small query), so
    a vanished client's slot is re-run before fresh ones. Only when no slot is
    free are the trials of dead workers looked for (and failed, which frees
    their slots): that scan costs a third of an ask's SQL, and a dead worker's
    slot is re-run just as well after the free ones.
    ``heartbeat=True`` (workers that then keep a Heartbeat running) records the
    first heartbeat at once, so a worker killed even before its first beat
    leaves a trial that other hosts can see go stale.
    ``record_pid=False`` (the HTTP API, whose trials remote clients run) leaves
    out this process's pid, by which crash recovery fails a trial at once when
    that process is gone: a restarted server must not fail its clients' trials.
    ``lease`` (seconds; the HTTP API with ``--trial-timeout``) gives the trial a
    lease, renewed by ``renew_lease``: once it runs out, crash recovery fails the
    trial and its slot runs again.
    ``key`` (the HTTP API's Idempotency-Key): while a trial asked with the same
    key is still running, that trial is returned again (its lease renewed)
    instead of a new one, so a client whose answer was lost, or whose server
    was restarted, gets the same trial and parameters by asking again.

    An ask that fails after its trial was created (e.g. a space that cannot be
    sampled) fails that trial, so its slot is free again and nothing stays RUNNING.
    """
    _ensure_slot_sampler(study, spec)
    if key is not None:
        trial_id = _trial_of_key(study, key, lease)
        if trial_id is not None:
            return _suggest(study, spec, trial_id)
    n_slots = budget(spec)
    store = trial_store(study)
    fail_expired_leases(study)
    for _ in range(5):  # a lost race for a slot means another worker was faster: retry
        claim = store.claim(n_slots)
        if claim is SlotStatus.DONE:
            fail_orphans(study, n_slots)  # every slot finished with another trial: nothing may stay RUNNING
            raise StudyComplete(f"study {study.study_name!r} is complete ({n_slots} trials finished)")
        if claim is SlotStatus.BUSY and recover_study(study):
            continue  # dead workers' slots are free again
        if claim is SlotStatus.BUSY:
            raise SlotsBusy(f"study {study.study_name!r}: all remaining trials are running")
        frozen = store.start(claim, _template(study, claim, record_pid, lease, key), heartbeat=heartbeat)  # type: ignore[arg-type]
        if frozen is not None:
            break
    else:
        raise SlotsBusy(f"study {study.study_name!r}: could not claim a slot, try again")
    return _suggest(study, spec, frozen)


def _suggest(study: optuna.Study, spec: Any, trial: int | FrozenTrial) -> tuple[optuna.Trial, dict]:
    """The trial's parameters: suggested now, or (a trial asked before) the stored ones.

    Optuna's suggest_* returns a parameter already stored with the trial, so
    calling this again for a trial whose first ask was cut short completes its
    parameters without changing those it has. ``trial``: the id of a stored
    trial, or the frozen copy of one just created here (not read back). The
    parameters are written in one transaction. If suggesting fails, the trial
    is failed (its slot is free again) and a UserError says why.
    """
    from hpsearch.space import suggest

    trial_id = trial if isinstance(trial, int) else trial_id_of(trial)
    drop_trials_cache(study)  # the samplers read the trials afresh for this ask, once (as Study.ask)
    try:
        live = optuna.Trial(study, trial_id) if isinstance(trial, int) else own_trial(study, trial)
        with batched_params(live):
            params = suggest(live, spec.space)
        return live, params
    except Exception as exc:
        try:
            fail_trial(storage_of(study), trial_id, f"could not suggest parameters: {exc}"[:500])
        except Exception:  # the database is gone too: the trial's lease or recovery will fail it
            pass
        if isinstance(exc, (ValueError, ArithmeticError)):
            raise UserError(f"study {study.study_name!r}: could not suggest parameters from its space: {exc}") from exc
        raise


def _trial_of_key(study: optuna.Study, key: str, lease: float | None) -> int | None:
    """The running trial an earlier ask with ``key`` created, if it still holds its slot (else None).

    A server killed between creating the trial and recording it in the claims
    table leaves the claim unattached: it is attached now (by the claim's token,
    kept with the trial), unless another ask took the slot over meanwhile, in
    which case the trial is failed and a fresh one is asked.
    """
    storage = storage_of(study)
    engine = engine_of(storage)
    trial_id = running_trial_with_attr(engine, study_id_of(study), ASK_KEY_ATTR, key)
    if trial_id is None:
        return None
    # Optuna's trial cache (the server's, or a study's) knows only the trials it saw
    # created or read; this one may come from another process: read it in first.
    storage.get_all_trials(study_id_of(study), deepcopy=False, states=(TrialState.RUNNING,))
    attrs = storage.get_trial_system_attrs(trial_id)
    slot, token = attrs.get(SLOT_ATTR), attrs.get(CLAIM_TOKEN_ATTR)
    if (
        slot is not None
        and token is not None
        and not attach_trial(engine, Claim(study_id_of(study), int(slot), token), trial_id)
    ):
        fail_trial(storage, trial_id, "its slot was taken over after a crash")
        return None
    if lease is not None:
        try:
            storage.set_trial_system_attr(trial_id, LEASE_ATTR, time.time() + lease)
        except optuna.exceptions.UpdateFinishedTrialError:
            return None  # told or failed a moment ago
    return trial_id


def tell_trial(
    study: optuna.Study,
    trial_number: int | optuna.Trial,
    value: float | Sequence[float] | None = None,
    state: str | TrialState | None = None,
    error: str | None = None,
    *,
    constraints: Mapping[str, float] | None = None,
    spec: Any = None,
) -> FrozenTrial:
    """Finish trial ``trial_number`` with a value (one per objective), or with state "fail" / "pruned".

    ``error`` (with state "fail") records that the objective failed on this
    configuration: user attr ``error``, a result that counts toward the budget
    and is not re-run (hpsearch.records). A "fail" without it is a
    crash, and the slot runs again.

    A worker passes its ``optuna.Trial`` instead of the number: finding a trial
    by number scans the study's trials (no index on it), twice per tell, which
    cost ~10 ms per trial at 1,500 trials.

    A study with several objectives takes a sequence of as many values (a
    UserError otherwise). A non-finite value (any of them) records the trial as
    diverged (FAIL with user attr ``diverged=True``), a real outcome that is
    not re-run. Whether the trial is still running is left to the write of its
    outcome (``finish_trial`` for a trial object on an RDB storage, which reads
    nothing back; else ``study.tell``); only when that (or the input) fails do
    we read it to say it is already finished.

    ``constraints`` (Optuna's convention: <= 0 is feasible) and the bounds of
    ``spec``'s [constraints], evaluated on the values (by objective name) and
    the trial's user attrs (hpsearch.records.constraint_values), are stored
    with a completed trial before its outcome, so the samplers see them.

    Telling a finished trial the outcome it already has (a client repeating a
    tell whose answer it lost) returns the trial as it is; any other outcome
    raises TrialAlreadyFinished.
    """
    storage = storage_of(study)
    if isinstance(trial_number, optuna.Trial):
        trial, trial_id = trial_number, trial_id_of(trial_number)
        trial_number = trial.number
    else:
        trial = int(trial_number)  # type: ignore[assignment]
        try:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id_of(study), trial)  # type: ignore[arg-type]
        except KeyError:
            raise TrialNotFound(f"study {study.study_name!r} has no trial {trial_number}") from None
    try:
        state, values = _parse_outcome(state, value, len(study.directions))
    except UserError:
        _check_unfinished(storage, trial_id, trial_number)  # "already finished" comes first
        raise
    try:
        if state == TrialState.FAIL and error is not None:
            storage.set_trial_user_attr(trial_id, ERROR_ATTR, error)
        if state == TrialState.COMPLETE and not all(math.isfinite(v) for v in values):  # type: ignore[union-attr]
            storage.set_trial_user_attr(trial_id, DIVERGED_ATTR, True)
            values, state = None, TrialState.FAIL
        if state == TrialState.COMPLETE:
            _record_constraints(storage, trial, trial_id, values, constraints, spec)  # type: ignore[arg-type]
        told = None if values is None else values[0] if len(values) == 1 else values
        if isinstance(trial, optuna.Trial) and fast_path(storage):
            return trial_store(study).finish(trial, state, told)
        return study.tell(trial, told, state=state)
    except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
        frozen = storage.get_trial(trial_id)
        if frozen.state.is_finished() and _same_outcome(frozen, state, value):
            return frozen
        _check_unfinished(storage, trial_id, trial_number)
        raise


def _record_constraints(
    storage: optuna.storages.BaseStorage,
    trial: int | optuna.Trial,
    trial_id: int,
    values: list[float],
    given: Mapping[str, float] | None,
    spec: Any,
) -> None:
    """Store the trial's constraint values: those given, then those of the spec's [constraints]."""
    from hpsearch.records import constraint_values, trial_metrics

    out = {str(k): float(v) for k, v in (given or {}).items()}
    bounds = getattr(spec, "constraints", None)
    if bounds:
        attrs = trial.user_attrs if isinstance(trial, optuna.Trial) else storage.get_trial_user_attrs(trial_id)
        out.update(constraint_values(bounds, trial_metrics(attrs, spec.objective_names, values)))
    if any(math.isnan(v) for v in out.values()):
        raise UserError("constraints: expected numbers (<= 0 is feasible), got NaN")
    if out:
        write_constraints(storage, trial_id, out, trial if isinstance(trial, optuna.Trial) else None)


def _same_outcome(frozen: FrozenTrial, state: TrialState, value: Any) -> bool:
    """Whether a finished trial already holds the outcome being told."""
    diverged = frozen.user_attrs.get(DIVERGED_ATTR) is True
    told = _as_list(value) if value is not None else None
    if state == TrialState.COMPLETE and told is not None and not all(math.isfinite(v) for v in told):
        return frozen.state == TrialState.FAIL and diverged
    if state == TrialState.COMPLETE:
        return frozen.state == TrialState.COMPLETE and frozen.values == told
    if state == TrialState.FAIL:
        return frozen.state == TrialState.FAIL and not diverged
    return frozen.state == state


def _check_unfinished(storage: optuna.storages.BaseStorage, trial_id: int, trial_number: int) -> None:
    frozen = storage.get_trial(trial_id)
    if frozen.state.is_finished():
        raise TrialAlreadyFinished(f"trial {trial_number} is already finished ({frozen.state.name.lower()})") from None


def _as_list(value: Any) -> list[float]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    return [float(v) for v in items]


def _parse_outcome(
    state: str | TrialState | None, value: Any, n_objectives: int = 1
) -> tuple[TrialState, list[float] | None]:
    """(state, the values of a COMPLETE trial, one per objective); UserError on a malformed outcome."""
    if isinstance(state, str):
        names = {"complete": TrialState.COMPLETE, "fail": TrialState.FAIL, "pruned": TrialState.PRUNED}
        if state.lower() not in names:
            raise UserError(f"state: expected one of complete, fail, pruned; got {state!r}")
        state = names[state.lower()]
    if state is None:
        state = TrialState.COMPLETE
    if state not in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED):
        raise UserError(f"state: cannot tell a trial {state.name.lower()}")
    if state == TrialState.PRUNED and n_objectives > 1:
        raise UserError("state: a study with several objectives cannot prune a trial (Optuna prunes one objective)")
    if state != TrialState.COMPLETE:
        return state, None
    if n_objectives == 1:
        if value is None:
            raise UserError("value: a completed trial needs a number")
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if isinstance(value, (list, tuple)):
            raise UserError(f"value: expected a number, got {value!r}")
        try:
            return state, [float(value)]
        except (TypeError, ValueError):
            raise UserError(f"value: expected a number, got {value!r}") from None
    if not isinstance(value, (list, tuple)) or len(value) != n_objectives:
        got = f"{len(value)} values" if isinstance(value, (list, tuple)) else repr(value)
        raise UserError(f"values: expected {n_objectives} numbers (one per objective), got {got}")
    if any(isinstance(v, (bool, str)) for v in value):
        raise UserError(f"values: expected {n_objectives} numbers, got {list(value)!r}")
    try:
        return state, [float(v) for v in value]
    except (TypeError, ValueError):
        raise UserError(f"values: expected {n_objectives} numbers, got {list(value)!r}") from None


def renew_lease(storage: optuna.storages.BaseStorage, trial: FrozenTrial, lease: float) -> None:
    """Extend a leased running trial's lease to ``lease`` seconds from now (its client showed it is alive).

    Trials asked without a lease (CLI workers, a server without --trial-timeout) are left alone.
    """
    if LEASE_ATTR in trial.system_attrs:
        storage.set_trial_system_attr(trial_id_of(trial), LEASE_ATTR, time.time() + lease)


def running_trial(study: optuna.Study, number: int) -> FrozenTrial:
    """Trial ``number`` of the study, which must still be running (TrialNotFound / TrialAlreadyFinished)."""
    storage = storage_of(study)
    try:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id_of(study), number)
    except KeyError:
        raise TrialNotFound(f"study {study.study_name!r} has no trial {number}") from None
    frozen = storage.get_trial(trial_id)
    if frozen.state.is_finished():
        raise TrialAlreadyFinished(f"trial {number} is already finished ({frozen.state.name.lower()})")
    return frozen


def report_value(study: optuna.Study, number: int, step: int, value: float, *, lease: float | None = None) -> bool:
    """Record an intermediate value of running trial ``number``; True if the study's pruner says stop.

    ``optuna.Trial.report`` + ``should_prune`` for a client that holds only the
    trial's number (building a Trial would run the sampler): the first value
    reported for a step wins. A report shows the client is alive: with
    ``lease`` it renews a leased trial's lease.
    """
    storage = storage_of(study)
    frozen = running_trial(study, number)
    if lease is not None:
        renew_lease(storage, frozen, lease)
    if step not in frozen.intermediate_values:
        storage.set_trial_intermediate_value(trial_id_of(frozen), step, value)
        frozen = storage.get_trial(trial_id_of(frozen))
    return bool(study.pruner.prune(study, frozen))


def _template(
    study: optuna.Study, claim: Claim, record_pid: bool, lease: float | None, key: str | None = None
) -> FrozenTrial:
    attrs: dict[str, Any] = {SLOT_ATTR: claim.slot, HOST_ATTR: socket.gethostname(), CLAIM_TOKEN_ATTR: claim.token}
    if record_pid:
        attrs[PID_ATTR] = os.getpid()
    if lease is not None:
        attrs[LEASE_ATTR] = time.time() + lease
    if key is not None:
        attrs[ASK_KEY_ATTR] = key
    if isinstance(study.sampler, SlotGridSampler):
        attrs["grid_id"] = claim.slot  # the point itself follows from the slot; no grid is copied
    return FrozenTrial(
        number=-1,
        state=TrialState.RUNNING,
        value=None,
        datetime_start=datetime.now(),
        datetime_complete=None,
        params={},
        distributions={},
        user_attrs={},
        system_attrs=attrs,
        intermediate_values={},
        trial_id=-1,
    )


def _ensure_slot_sampler(study: optuna.Study, spec: Any) -> None:
    """Give the study our slot-keyed sampler if the caller loaded it with a plain one."""
    if getattr(study.sampler, "_hpsearch_kind", None) != spec.study.sampler:
        study.sampler, _ = make_sampler(spec)
