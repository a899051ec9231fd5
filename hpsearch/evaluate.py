"""``best --evaluate``: score a study's best configuration on held-out data and store the result with it.

The test split is never used during the search; this is the one step that
touches it for a single study (a comparison re-scores every repeat's best in
hpsearch.comparison._retrain). The result is stored as study user attrs
(hpsearch.records: test_score, test_metrics, test_trial), which is all a report reads.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hpsearch.records import TEST_METRICS_ATTR, TEST_SCORE_ATTR, TEST_TRIAL_ATTR

if TYPE_CHECKING:
    import optuna

    from hpsearch.spec import Spec


def evaluate_and_store(
    storage: Any, study: optuna.Study, spec: Spec, trial: optuna.trial.FrozenTrial
) -> dict[str, float]:
    """Retrain ``trial``'s configuration on train+validation, score it on test, store and return the metrics.

    Refuses (UserError) a study created over the HTTP API whose spec names user code (hpsearch.trust).
    """
    from hpsearch.trust import check_may_run
    from objectives import evaluate_best

    check_may_run(storage, study, spec)  # no user code from a study created over the HTTP API
    metrics = evaluate_best(spec, trial.params)
    first = next(iter(metrics))
    study.set_user_attr(TEST_METRICS_ATTR, {k: (None if math.isnan(v) else v) for k, v in metrics.items()})
    study.set_user_attr(TEST_SCORE_ATTR, None if math.isnan(metrics[first]) else metrics[first])
    study.set_user_attr(TEST_TRIAL_ATTR, trial.number)
    return metrics
