"""Where studies live: Optuna's RDB storage, the spec stored with each study, the claims table."""

from __future__ import annotations

from hpsearch.storage._claims import (
    Claim,
    SlotStatus,
    attach_trial,
    claim_slot,
    delete_claims,
    pid_alive,
    running_attr_values,
    running_trial_with_attr,
    slot_statuses,
    slot_trial_ids,
)
from hpsearch.storage._rdb import (
    DEFAULT_STORAGE,
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    engine_of,
    open_storage,
    resolve_storage_url,
    sqlite_path,
    storage_exists,
)
from hpsearch.storage._spec_attrs import (
    SPEC_ATTR,
    find_study_id,
    load_study_spec,
    missing_storage,
    not_found,
    save_spec,
    study_names,
)

__all__ = [
    "Claim",
    "DEFAULT_STORAGE",
    "GRACE_PERIOD",
    "HEARTBEAT_INTERVAL",
    "SPEC_ATTR",
    "SlotStatus",
    "attach_trial",
    "claim_slot",
    "delete_claims",
    "engine_of",
    "find_study_id",
    "load_study_spec",
    "missing_storage",
    "not_found",
    "open_storage",
    "pid_alive",
    "resolve_storage_url",
    "running_attr_values",
    "running_trial_with_attr",
    "save_spec",
    "slot_statuses",
    "slot_trial_ids",
    "sqlite_path",
    "storage_exists",
    "study_names",
]
