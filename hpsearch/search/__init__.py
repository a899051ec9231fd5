"""Running studies: samplers, pruners, ask/tell with slot claims, the run loop, workers, recovery."""

from __future__ import annotations

from hpsearch.records import (
    ERROR_ATTR,
    best_trial,
    budget,
    is_crashed,
    is_diverged,
    is_error,
    is_finished,
    last_error,
    state_counts,
    state_name,
)
from hpsearch.search._control import Enqueued, clear_stop, enqueue, request_stop, stop_requested
from hpsearch.search._load import load_study, stored_spec
from hpsearch.search._pruners import PRUNERS, make_pruner
from hpsearch.search._recovery import Heartbeat, recover_study
from hpsearch.search._runner import (
    BudgetNotLowered,
    finished_count,
    is_complete,
    join_study,
    new_study,
    prepare_study,
    run_studies,
    run_study,
    with_overrides,
)
from hpsearch.search._samplers import SAMPLERS, SlotGridSampler, make_sampler
from hpsearch.search._trial import (
    SlotsBusy,
    StudyComplete,
    TrialAlreadyFinished,
    TrialNotFound,
    ask_trial,
    renew_lease,
    report_value,
    running_trial,
    tell_trial,
)
from hpsearch.search._workers import (
    MAX_FAILURES,
    ObjectiveFailing,
    Terminated,
    WorkerFailed,
    quiet_pool_resets,
    work,
)

__all__ = [
    "Enqueued",
    "clear_stop",
    "enqueue",
    "request_stop",
    "stop_requested",
    "BudgetNotLowered",
    "ERROR_ATTR",
    "MAX_FAILURES",
    "ObjectiveFailing",
    "finished_count",
    "is_crashed",
    "is_error",
    "last_error",
    "Heartbeat",
    "PRUNERS",
    "SAMPLERS",
    "SlotGridSampler",
    "SlotsBusy",
    "StudyComplete",
    "Terminated",
    "TrialAlreadyFinished",
    "TrialNotFound",
    "WorkerFailed",
    "ask_trial",
    "best_trial",
    "budget",
    "is_complete",
    "is_diverged",
    "is_finished",
    "join_study",
    "load_study",
    "make_pruner",
    "make_sampler",
    "new_study",
    "prepare_study",
    "recover_study",
    "quiet_pool_resets",
    "renew_lease",
    "report_value",
    "running_trial",
    "run_studies",
    "run_study",
    "state_counts",
    "state_name",
    "stored_spec",
    "tell_trial",
    "with_overrides",
    "work",
]
