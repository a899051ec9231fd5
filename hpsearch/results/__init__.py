"""The read layer: stored studies as plain data, for every reader that analyses results.

Both the comparison (its verdict) and the report (figures and tables) read
stored trials through this package (storage itself only opens the database,
finds study names and reads a stored spec), so they see the same trials
counted the same way (the rules are hpsearch.records'), and neither
needs the other: the comparison computes a verdict from these studies, the
report draws them and renders a verdict it is handed.

* ``_studies``: a study (or a comparison's arm studies) as ``StudyData`` /
  ``TrialData``, every hpsearch attribute optional (reports work on any Optuna study);
* ``_failures``: the newest trials failed by an objective error, with cause
  and stderr log;
* ``_importance``: hyperparameter importance on stored trials (per study, and
  its spread across studies), never fatal.

Reads only: nothing here runs, trains or writes a study.
"""

from __future__ import annotations

from typing import Any

from hpsearch.results._failures import Failure, failures
from hpsearch.results._studies import (
    StudyData,
    TrialData,
    arm_studies,
    compared_budget,
    find_studies,
    group_by_sampler,
    metric_names,
    stored_verdict,
    study_data,
    verdict_fingerprint,
    with_stored_attrs,
)

__all__ = [
    "Failure",
    "StudyData",
    "TrialData",
    "arm_studies",
    "compared_budget",
    "failures",
    "find_studies",
    "group_by_sampler",
    "importance_spread",
    "metric_names",
    "precompute_importance",
    "stored_verdict",
    "study_data",
    "verdict_fingerprint",
    "with_stored_attrs",
]


def importance_spread(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """See hpsearch.results._importance.importance_spread (imported when used: it needs Optuna's importance)."""
    from hpsearch.results._importance import importance_spread as _spread

    return _spread(*args, **kwargs)


def precompute_importance(*args: Any, **kwargs: Any) -> int:
    """See hpsearch.results._importance.precompute (imported when used: it needs Optuna's importance)."""
    from hpsearch.results._importance import precompute

    return precompute(*args, **kwargs)
