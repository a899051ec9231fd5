"""Caches of finished trials, kept across requests, per study: Optuna's (for asks) and the dashboard's.

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
from typing import Any

import optuna

from hpsearch.storage import find_study_id, study_identity, trial_cache


class TrialCaches:
    """One ``_CachedStorage`` per study name, validated against the database on each use."""

    def __init__(self, storage: optuna.storages.RDBStorage) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._caches: dict[str, tuple[tuple, Any]] = {}

    def for_study(self, name: str) -> Any:
        """The cache to load study ``name`` with (StudyNotFound if there is no such study)."""
        identity = self._identity(name)
        with self._lock:
            known = self._caches.get(name)
            if known is None or known[0] != identity:
                known = (identity, trial_cache(self._storage))
                self._caches[name] = known
            return known[1]

    def _identity(self, name: str) -> tuple:
        return _identity(self._storage, name)


class PointCaches:
    """The dashboard's history rows (hpsearch.storage.TrialPoint) per study, finished ones kept.

    A finished trial never changes, so each request reads only trials newer
    than the newest one seen and those that were unfinished last time: on a
    10,000-trial study the first page view reads 10,000 narrow rows, the next
    ones a handful. Identity as in TrialCaches (a study deleted and created
    again starts afresh).
    """

    def __init__(self, storage: optuna.storages.RDBStorage) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._known: dict[str, tuple[tuple, dict[int, Any], set[int], int]] = {}

    def points(self, name: str) -> list[Any]:
        """Every trial of study ``name`` as a TrialPoint, in number order (StudyNotFound if unknown)."""
        from hpsearch.storage import history_points

        identity = _identity(self._storage, name)
        study_id = identity[0]
        with self._lock:
            known = self._known.get(name)
        by_id: dict[int, Any]
        pending: set[int]
        if known is None or known[0] != identity:
            by_id, pending, newest = {}, set(), -1
            fresh = history_points(self._storage.engine, study_id)
        else:
            _, by_id, pending, newest = known
            by_id = dict(by_id)
            fresh = history_points(self._storage.engine, study_id, after_id=newest, also_ids=sorted(pending))
        pending = set()
        for p in fresh:
            by_id[p.trial_id] = p
        for trial_id, p in by_id.items():
            if p.state.name in ("RUNNING", "WAITING"):  # every other state is final
                pending.add(trial_id)
        newest = max([newest, *by_id]) if by_id else newest
        with self._lock:
            self._known[name] = (identity, by_id, pending, newest)
        return sorted(by_id.values(), key=lambda p: p.number)


def _identity(storage: optuna.storages.RDBStorage, name: str) -> tuple:
    """(study id, id and start of its first trial): changes when the study is deleted and created again."""
    return study_identity(storage.engine, find_study_id(storage, name))
