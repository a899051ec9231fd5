"""Every private Optuna attribute hpsearch reads, each behind one small named function.

Optuna exposes no public accessor for a study's storage, its database id, a trial's database id
or the stale-trial query under its cache layer. hpsearch needs all four (claims, leases,
heartbeats, direct SQL). They live here so that an Optuna upgrade breaks one file, and the
import-boundary test (tests/test_boundaries.py) keeps them here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import optuna

if TYPE_CHECKING:
    from optuna.study._frozen import FrozenStudy  # what get_all_studies returns; not re-exported


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a study reads and writes (Optuna wraps an RDBStorage in a cache layer)."""
    return study._storage


def study_id_of(study: optuna.Study | FrozenStudy) -> int:
    """The study's id in its storage (a live Study or a FrozenStudy from get_all_studies)."""
    return study._study_id


def trial_id_of(trial: optuna.trial.BaseTrial | optuna.trial.FrozenTrial) -> int:
    """The trial's id in its storage (unique across studies, unlike its number)."""
    return trial._trial_id  # type: ignore[union-attr]


def backend_of(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """The storage under Optuna's cache layer (the storage itself when it has none)."""
    return getattr(storage, "_backend", storage)


def stale_trial_ids(storage: optuna.storages.BaseStorage, study_id: int) -> list[int] | None:
    """Ids of RUNNING trials whose heartbeat expired, or None when the storage cannot tell
    (no heartbeat configured, or a backend without Optuna's stale-trial query)."""
    backend: Any = backend_of(storage)
    if not getattr(storage, "get_heartbeat_interval", lambda: None)() or not hasattr(backend, "_get_stale_trial_ids"):
        return None
    return list(backend._get_stale_trial_ids(study_id))
