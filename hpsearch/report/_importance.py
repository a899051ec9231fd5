"""Hyperparameter importance via optuna.importance, never fatal.

Importance needs an Optuna Study; we build an in-memory one from the finished
trials we already read (no second trip to the database). Evaluators refuse small
or degenerate studies (one trial, a parameter with one value); the report then
shows the reason instead of the plot.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import optuna
from optuna.trial import TrialState

METHODS = {
    "ped-anova": ("PED-ANOVA (Optuna's default; top-10% vs all)", optuna.importance.PedAnovaImportanceEvaluator),
    "fanova": ("fANOVA (random forest; meant for random-search trials)", optuna.importance.FanovaImportanceEvaluator),
}


def importances(
    trials: Sequence[optuna.trial.FrozenTrial], direction: str, method: str = "ped-anova", seed: int = 0
) -> tuple[dict[str, float], str]:
    """(param -> importance, description or the reason it is unavailable)."""
    label, cls = METHODS[method]
    done = [
        t for t in trials
        if t.state == TrialState.COMPLETE and t.values and math.isfinite(t.values[0]) and len(t.values) == 1
    ]
    if len(done) < 3:
        return {}, f"not computed: needs at least 3 complete trials, has {len(done)}"
    study = optuna.create_study(direction=direction)
    try:
        study.add_trials(done)
        evaluator = cls(seed=seed) if method == "fanova" else cls()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except Exception as exc:  # evaluators raise many kinds of errors on degenerate input
        return {}, f"not computed: {type(exc).__name__}: {exc}"
    return dict(imp), f"{label}, on {len(done)} complete trials"
