"""Study control from outside a run: enqueue known configurations, ask the workers to stop.

Both act through the database alone, so they reach every worker of a study,
on this machine or another (``run --jobs N``, ``hpsearch worker``, the HTTP
API's asks), without knowing where they run.

* **enqueue** appends configurations, checked against the study's stored
  space (hpsearch.configurations), to the study's queue
  (hpsearch.storage's queue table, which says why Optuna's
  ``enqueue_trial`` does not fit the slot model). The next slots started
  run them, first, and they count toward the budget.
* **stop** sets the study's stop mark (system attr STOP_ATTR). A worker
  looks at it before each trial it would start: once set, it starts none of
  that study, finishes the trial it runs, and exits normally. The mark
  stays until a later ``run`` or ``worker`` of the study clears it, which
  is how a stopped study is resumed (the same command again).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from hpsearch.configurations import check_configuration, read_csv_configurations
from hpsearch.errors import UserError
from hpsearch.records import STOP_ATTR, budget
from hpsearch.search._load import stored_spec
from hpsearch.storage import (
    SlotStatus,
    engine_of,
    enqueue_params,
    find_study_id,
    missing_storage,
    open_storage,
    queued,
    slot_statuses,
    storage_exists,
)


@dataclass(frozen=True)
class Enqueued:
    """What ``enqueue`` stored: the queue positions, and how many slots of the budget are still free."""

    positions: list[int]
    waiting: int  # enqueued configurations not yet started (these included)
    free_slots: int  # slots of the budget not yet finished nor running


def enqueue(
    storage_url: str, name: str, configurations: Sequence[Mapping[str, Any]] = (), *, csv: str | Path | None = None
) -> Enqueued:
    """Check every configuration against study ``name``'s space, then store them all (or none).

    ``configurations``: dicts of parameter values ("configuration 1", ... in
    messages); ``csv``: a file of more, one per row after a header of parameter
    names. A configuration that does not fit (an unknown or missing parameter,
    a value out of range or not a choice, a parameter whose ``when`` does not
    hold) raises UserError naming it and the key, before anything is written.
    """
    if not configurations and csv is None:
        raise UserError("enqueue: no configurations given")
    if not storage_exists(storage_url):
        raise missing_storage(storage_url, name)
    storage = open_storage(storage_url)
    spec = stored_spec(storage, name)
    checked = [
        check_configuration(spec.space, c, where=f"configuration {i}") for i, c in enumerate(configurations, start=1)
    ]
    if csv is not None:
        checked += read_csv_configurations(csv, spec.space)
    study_id = find_study_id(storage, name)
    engine = engine_of(storage)
    positions = enqueue_params(engine, study_id, checked)
    waiting = sum(slot is None for _, _, slot in queued(engine, study_id))
    free = sum(s is SlotStatus.FREE for s in slot_statuses(engine, study_id, budget(spec)))
    return Enqueued(positions, waiting, free)


def request_stop(storage_url: str, name: str) -> None:
    """Mark study ``name`` stopped: its workers finish their running trials and start no more."""
    if not storage_exists(storage_url):
        raise missing_storage(storage_url, name)
    storage = open_storage(storage_url)
    mark: dict[str, Any] = {"at": time.time(), "host": socket.gethostname()}
    storage.set_study_system_attr(find_study_id(storage, name), STOP_ATTR, mark)


def stop_requested(storage: optuna.storages.BaseStorage, study_id: int) -> bool:
    """Whether ``hpsearch stop`` marked the study (one small read: workers ask before each trial)."""
    return bool(storage.get_study_system_attrs(study_id).get(STOP_ATTR))


def clear_stop(storage: optuna.storages.BaseStorage, study_id: int) -> bool:
    """Clear the study's stop mark (a new run or worker resumes it); True if there was one."""
    if not stop_requested(storage, study_id):
        return False
    storage.set_study_system_attr(study_id, STOP_ATTR, None)
    return True


def waiting_configurations(storage: optuna.storages.BaseStorage, study_id: int) -> int:
    """How many enqueued configurations of the study no trial has started yet (``show`` says so)."""
    return sum(slot is None for _, _, slot in queued(engine_of(storage), study_id))
