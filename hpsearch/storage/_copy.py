"""``hpsearch copy``: a study, whole, into a new name in the same or another database.

Optuna's ``copy_study`` copies the study's attributes and trials, but not
hpsearch's own tables: without the claims a copied study's slots would all
look free, and a resumed run would run its whole budget again beside the
copied trials; without the queue its enqueued configurations would be lost.
So the copy is made here: the study (spec renamed to the new name, the stop
mark left behind), every trial through Optuna's ``create_new_trial`` (state,
values, parameters, intermediate values, attributes, times, in trial-number
order so numbers match), then a claim per slot naming the copy of its latest
trial, and the queue. A trial still running in the source is copied as
crashed (FAIL without a result, fail_reason "copied while running"): its slot
runs again when the copy is resumed, as after a kill.

If the copy fails midway, the partial new study is deleted again; the source
is only read.
"""

from __future__ import annotations

import copy as copying
import os
import socket
import time
import uuid
from datetime import datetime

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.errors import UserError
from hpsearch.records import FAIL_REASON_ATTR, SLOT_ATTR, SPEC_ATTR, STOP_ATTR
from hpsearch.storage._claims import claims_table, delete_claims
from hpsearch.storage._queue import copy_queue, delete_queue
from hpsearch.storage._rdb import checkpoint, engine_of, open_storage, storage_exists
from hpsearch.storage._spec_attrs import find_study_id, missing_storage
from hpsearch.storage._urls import display_url

COPIED_RUNNING = "copied while running: its slot runs again when the copy is resumed"


def copy_study(source_url: str, name: str, target_url: str, new: str) -> int:
    """Copy study ``name`` of ``source_url`` as ``new`` into ``target_url``; returns the number of trials.

    UserError (exit 2) when the source or its study is missing, or ``new``
    already exists in the target, before anything is written.
    """
    if not storage_exists(source_url):
        raise missing_storage(source_url, name)
    same = target_url == source_url
    source = open_storage(source_url, read_only=not same)  # another database is only read
    source_id = find_study_id(source, name)
    target = source if same else open_storage(target_url)
    try:
        target.get_study_id_from_name(new)
    except KeyError:
        pass
    else:
        raise UserError(
            f"study {new!r} already exists in {display_url(target_url)}; choose another name, "
            f"or delete it first (hpsearch delete {new})"
        )
    try:
        target_id = target.create_new_study(source.get_study_directions(source_id), new)
    except optuna.exceptions.DuplicatedStudyError:
        raise UserError(f"study {new!r} already exists in {display_url(target_url)}; choose another name") from None
    try:
        n = _fill(source, source_id, target, target_id, new)
    except BaseException:
        _remove(target, target_id)
        raise
    checkpoint(target)
    return n


def _fill(source, source_id: int, target, target_id: int, new: str) -> int:
    for key, value in source.get_study_system_attrs(source_id).items():
        if key != STOP_ATTR:
            target.set_study_system_attr(target_id, key, value)
    attrs = source.get_study_user_attrs(source_id)
    for key, value in attrs.items():
        if key != SPEC_ATTR:
            target.set_study_user_attr(target_id, key, value)
    if SPEC_ATTR in attrs:  # last, as new_study does: a worker that sees the spec sees the rest
        spec = copying.deepcopy(attrs[SPEC_ATTR])
        if isinstance(spec, dict) and isinstance(spec.get("study"), dict):
            spec["study"]["name"] = new
        target.set_study_user_attr(target_id, SPEC_ATTR, spec)
    trials = sorted(source.get_all_trials(source_id, deepcopy=False), key=lambda t: t.number)
    latest: dict[int, int] = {}  # slot -> the copy of its latest trial
    for trial in trials:
        trial_id = target.create_new_trial(target_id, template_trial=_finished(trial))
        slot = trial.system_attrs.get(SLOT_ATTR)
        if slot is not None:
            latest[int(slot)] = trial_id
    if latest:
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        with engine_of(target).begin() as con:
            con.execute(
                claims_table.insert(),
                [
                    {
                        "study_id": target_id,
                        "slot": slot,
                        "token": str(uuid.uuid4()),
                        "trial_id": trial_id,
                        "host": host,
                        "pid": pid,
                        "claimed_at": now,
                    }
                    for slot, trial_id in sorted(latest.items())
                ],
            )
    copy_queue(engine_of(source), source_id, engine_of(target), target_id)
    return len(trials)


def _finished(trial: FrozenTrial) -> FrozenTrial:
    """The trial as the copy stores it: a running (or waiting) one becomes a crash."""
    if trial.state.is_finished():
        return trial
    system_attrs = {**trial.system_attrs, FAIL_REASON_ATTR: COPIED_RUNNING}
    return FrozenTrial(
        number=trial.number,
        state=TrialState.FAIL,
        value=None,
        datetime_start=trial.datetime_start,
        datetime_complete=datetime.now(),
        params=trial.params,
        distributions=trial.distributions,
        user_attrs=trial.user_attrs,
        system_attrs=system_attrs,
        intermediate_values=trial.intermediate_values,
        trial_id=-1,
    )


def _remove(target, target_id: int) -> None:
    """Undo a partial copy (best effort: the error that stopped it is the one to report)."""
    try:
        target.delete_study(target_id)
        delete_claims(engine_of(target), target_id)
        delete_queue(engine_of(target), target_id)
    except Exception:
        pass
