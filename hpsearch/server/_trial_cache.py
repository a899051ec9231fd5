"""Optuna's cache of finished trials, kept across API requests, per study.

Why: ``optuna.load_study`` wraps the storage in a fresh ``_CachedStorage``
each time, so every ask would reload the study's whole history (crash recovery
and TPE read all trials): the cost of an ask grows with the study. A
long-running Optuna worker keeps one such cache; so does the server. It holds
only *finished* trials (which never change) and re-reads every unfinished one
from the database on each access, so writes by CLI workers and other servers
are seen; the database remains the only source of truth.

One hazard: SQLite reuses the ids of deleted rows, so a study deleted and
created again under the same name can come back with the same study id and
trial ids. Each cache therefore remembers the identity of the study's first
trial (id and start time, one indexed query per request) and is dropped when
it changes.
"""

from __future__ import annotations

import threading

import optuna
import sqlalchemy as sa
from optuna.storages._cached_storage import _CachedStorage
from optuna.storages._rdb import models

from hpsearch.storage import find_study_id


class TrialCaches:
    """One ``_CachedStorage`` per study name, validated against the database on each use."""

    def __init__(self, storage: optuna.storages.RDBStorage) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._caches: dict[str, tuple[tuple, _CachedStorage]] = {}

    def for_study(self, name: str) -> _CachedStorage:
        """The cache to load study ``name`` with (StudyNotFound if there is no such study)."""
        identity = self._identity(name)
        with self._lock:
            known = self._caches.get(name)
            if known is None or known[0] != identity:
                known = (identity, _CachedStorage(self._storage))
                self._caches[name] = known
            return known[1]

    def _identity(self, name: str) -> tuple:
        study_id = find_study_id(self._storage, name)
        trials = models.TrialModel.__table__
        query = (sa.select(trials.c.trial_id, trials.c.datetime_start)
                 .where(trials.c.study_id == study_id).order_by(trials.c.trial_id).limit(1))
        with self._storage.engine.connect() as con:
            first = con.execute(query).first()
        return (study_id, *(tuple(first) if first is not None else (None, None)))
