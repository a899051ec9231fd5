"""Validation and test metrics, computed from what ``Network.predict`` returns.

Directions come from :data:`hpsearch.spec.catalog.METRICS`, the same table the
spec validator uses, so a metric's direction is defined exactly once.
Multiclass f1 is macro-averaged (every class counts the same); roc_auc is for
binary tasks only. Non-finite outputs (a diverged network) score NaN rather
than raising, so the caller can record divergence.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm

from hpsearch.spec.catalog import METRICS

__all__ = ["METRICS", "direction", "greater_is_better", "score", "task_metrics"]


def direction(metric: str) -> str:
    """'maximize' or 'minimize'."""
    return METRICS[metric][0]


def greater_is_better(metric: str) -> bool:
    return METRICS[metric][0] == "maximize"


def task_metrics(task: str) -> list[str]:
    """Metrics that apply to a network task (multiclass | binary | regression)."""
    kind = "regression" if task == "regression" else "classification"
    return [m for m, (_, t) in METRICS.items() if t == kind and (task == "binary" or m != "roc_auc")]


def score(metric: str, y_true: np.ndarray, outputs: np.ndarray, task: str) -> float:
    """``metric`` of network ``outputs`` against ``y_true`` for a task.

    outputs: multiclass (n, K) probabilities; binary P(y=1) (n,) or (n, 1);
    regression (n,) or (n, 1) values in the target's own units.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if not np.all(np.isfinite(outputs)):
        return math.nan
    if task == "regression":
        y, pred = np.asarray(y_true, float).reshape(-1), outputs.reshape(-1)
        if metric == "r2":
            return float(skm.r2_score(y, pred))
        if metric == "rmse":
            return float(np.sqrt(skm.mean_squared_error(y, pred)))
        if metric == "mae":
            return float(skm.mean_absolute_error(y, pred))
        raise ValueError(f"metric {metric!r} does not apply to regression")
    y = np.asarray(y_true).reshape(-1).astype(int)
    if task == "binary":
        p1 = outputs.reshape(-1)
        proba = np.column_stack([1 - p1, p1])
    else:
        proba = outputs
    labels = np.arange(proba.shape[1])
    pred = proba.argmax(axis=1)
    if metric == "accuracy":
        return float(skm.accuracy_score(y, pred))
    if metric == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(y, pred))
    if metric == "f1":
        average = "binary" if task == "binary" else "macro"
        return float(skm.f1_score(y, pred, average=average, labels=labels if average == "macro" else None,
                                  zero_division=0.0))
    if metric == "log_loss":
        clipped = np.clip(proba, 1e-15, 1.0)
        return float(skm.log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=labels))
    if metric == "roc_auc":
        if task != "binary":
            raise ValueError("roc_auc needs a binary task")
        if len(np.unique(y)) < 2:
            return math.nan
        return float(skm.roc_auc_score(y, proba[:, 1]))
    raise ValueError(f"metric {metric!r} does not apply to classification")
