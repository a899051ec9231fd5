"""Loading an existing study the way hpsearch runs it: its stored spec, that spec's sampler and pruner.

Every reader and writer of a study (CLI commands, ``run`` resuming, workers,
the HTTP API) must build the same sampler and pruner from the spec stored with
the study, or trials of one study would be drawn by different rules. This is
the one place that does it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import optuna

from hpsearch.search._pruners import make_pruner
from hpsearch.search._samplers import make_sampler
from hpsearch.storage import SPEC_ATTR, find_study_id, load_study_spec

if TYPE_CHECKING:
    from hpsearch.spec import Spec


def stored_spec(storage: optuna.storages.BaseStorage, name: str, *, wait: float = 0.0) -> Spec:
    """The spec stored with study ``name`` (StudyNotFound / UserError when missing).

    ``wait`` > 0 polls up to that many seconds for the spec to appear: a study
    another process created a moment ago exists before its spec is written.
    """
    end = time.monotonic() + wait
    while wait > 0:
        if SPEC_ATTR in storage.get_study_user_attrs(find_study_id(storage, name)) or time.monotonic() > end:
            break
        time.sleep(0.1)
    return load_study_spec(storage, name)


def load_study(
    storage: optuna.storages.BaseStorage, name: str, *, spec: Spec | None = None, worker: int = 0
) -> tuple[optuna.Study, Spec]:
    """(study, spec): study ``name`` with the sampler and pruner of its spec.

    ``spec`` defaults to the stored one; pass it when the caller already has it
    (or has just changed its budget). ``worker`` offsets the sampler's seed
    (see make_sampler): parallel workers on one study must not draw alike.
    """
    if spec is None:
        spec = stored_spec(storage, name)
    sampler, _ = make_sampler(spec, worker=worker)
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=make_pruner(spec))
    return study, spec
