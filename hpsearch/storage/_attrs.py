"""A trial's user attributes in one write, and the slot a trial runs.

Optuna's ``Trial.set_user_attr`` is one transaction (and on SQLite one
write-lock round) per key; an MLP trial records seven. ``set_user_attrs``
writes them all in one transaction of the RDB storage (on SQLite and
PostgreSQL one multi-row upsert, the statement Optuna runs per key; elsewhere
Optuna's own per-key code), with the same checks (on SQLite and PostgreSQL
inside the transaction, after the upsert took the write lock), and keeps the
trial object's copy in step. Any other trial or storage (a FixedTrial, an
in-memory study) gets plain ``set_user_attr`` calls.

``trial_slot`` is the budget slot a trial runs (system attr ``SLOT_ATTR``,
see hpsearch.storage's claims table), read from the trial's cached copy: what
a trial's random seeds must be keyed by, since its number depends on how many
workers created trials before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import optuna
import sqlalchemy as sa

from hpsearch.records import SLOT_ATTR
from hpsearch.storage._faults import call_with_retries, policy_of
from hpsearch.storage._optuna import backend_of, trial_id_of


def set_user_attrs(trial: optuna.trial.BaseTrial, attrs: Mapping[str, Any]) -> None:
    """``trial.set_user_attr(k, v)`` for every item, in one transaction when the storage allows."""
    backend = _rdb_backend(trial)
    if backend is None or len(attrs) < 2:
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return
    from optuna.storages._rdb.models import TrialModel, TrialUserAttributeModel
    from optuna.storages._rdb.storage import _create_scoped_session

    def write() -> None:
        trial_id = trial_id_of(trial)
        dialect = backend.engine.name
        if dialect in ("sqlite", "postgresql"):
            # One multi-row upsert (what Optuna runs per key on these two), then Optuna's check that the
            # trial still runs, inside the transaction: on SQLite the upsert took the write lock, so
            # nobody can finish the trial in between; if it was finished, the upsert is rolled back.
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
            table, trials = TrialUserAttributeModel.__table__, TrialModel.__table__
            stmt = insert(table).values(
                [{"trial_id": trial_id, "key": key, "value_json": json.dumps(value)} for key, value in attrs.items()]
            )
            upsert = stmt.on_conflict_do_update(
                index_elements=[table.c.trial_id, table.c.key], set_={"value_json": stmt.excluded.value_json}
            )
            with backend.engine.begin() as con:
                con.execute(upsert)
                state = con.execute(sa.select(trials.c.state).where(trials.c.trial_id == trial_id)).scalar_one_or_none()
                if state is None:
                    raise KeyError(f"No trial with trial_id {trial_id} exists.")
                backend.check_trial_is_updatable(trial_id, state)
        else:
            with _create_scoped_session(backend.scoped_session, True) as session:
                backend.check_trial_is_updatable(trial_id, TrialModel.find_or_raise_by_id(trial_id, session).state)
                for key, value in attrs.items():
                    backend._set_trial_attr_without_commit(session, TrialUserAttributeModel, trial_id, key, value)

    # A running trial's storage may carry a retry policy (hpsearch's workers): the upsert is
    # safe to repeat, so a dropped connection costs a retry, not the trial.
    call_with_retries(write, policy_of(getattr(trial, "storage", None)))
    trial._cached_frozen_trial.user_attrs.update(attrs)  # type: ignore[attr-defined]  # as set_user_attr does


def trial_slot(trial: optuna.trial.BaseTrial) -> int:
    """The slot ``trial`` runs (hpsearch's ask), else its number (plain Optuna code, a FixedTrial)."""
    cached = getattr(trial, "_cached_frozen_trial", None)
    slot = None if cached is None else cached.system_attrs.get(SLOT_ATTR)
    return int(slot) if slot is not None else int(trial.number)


def _rdb_backend(trial: optuna.trial.BaseTrial) -> optuna.storages.RDBStorage | None:
    if type(trial) is not optuna.Trial:
        return None
    storage = getattr(trial, "storage", None)
    backend = backend_of(storage)  # type: ignore[arg-type]
    needed = ("scoped_session", "_set_trial_attr_without_commit")
    if isinstance(backend, optuna.storages.RDBStorage) and all(hasattr(backend, n) for n in needed):
        return backend
    return None
