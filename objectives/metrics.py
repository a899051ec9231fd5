"""Validation and test metrics, computed from what ``Network.predict`` returns.

Directions come from :data:`hpsearch.spec.catalog.METRICS`, the same table the
spec validator uses, so a metric's direction is defined exactly once.
Multiclass f1 is macro-averaged (every class counts the same); roc_auc is for
binary tasks only. Non-finite outputs (a diverged network) score NaN rather
than raising, so the caller can record divergence.

Accuracy, log loss, r2, rmse and mae are a line of NumPy each here, not
scikit-learn calls: ``score`` runs once per epoch of every trial, and
scikit-learn's versions spend 0.3-1.2 ms per call re-checking their inputs
(``type_of_target``, ``check_array``); measured, that was 6 % of a 60-epoch
digits trial with accuracy and about 20 % with log loss. The labels are
checked once, when the data is loaded. tests/objectives/test_metrics.py holds
each formula equal to scikit-learn's on random and edge-case inputs; the
metrics with more rules to them (balanced accuracy, f1, roc_auc) call
scikit-learn, imported on first use (importing it costs a worker over a second).
"""

from __future__ import annotations

import math

import numpy as np

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
            return _r2(y, pred)
        if metric == "rmse":
            return float(np.sqrt(np.mean((y - pred) ** 2)))
        if metric == "mae":
            return float(np.mean(np.abs(y - pred)))
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
        return float(np.mean(pred == y))
    if metric == "balanced_accuracy":
        from sklearn import metrics as skm

        return float(skm.balanced_accuracy_score(y, pred))
    if metric == "f1":
        from sklearn import metrics as skm

        average = "binary" if task == "binary" else "macro"
        return float(
            skm.f1_score(y, pred, average=average, labels=labels if average == "macro" else None, zero_division=0.0)
        )
    if metric == "log_loss":
        clipped = np.clip(proba, 1e-15, 1.0)
        p_true = (clipped / clipped.sum(axis=1, keepdims=True))[np.arange(len(y)), y]
        eps = np.finfo(np.float64).eps  # scikit-learn clips to [eps, 1 - eps] too
        return float(-np.mean(np.log(np.clip(p_true, eps, 1 - eps))))
    if metric == "roc_auc":
        if task != "binary":
            raise ValueError("roc_auc needs a binary task")
        if len(np.unique(y)) < 2:
            return math.nan
        from sklearn import metrics as skm

        return float(skm.roc_auc_score(y, proba[:, 1]))
    raise ValueError(f"metric {metric!r} does not apply to classification")


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination, with scikit-learn's rules for a constant target
    (1.0 if predicted exactly, else 0.0) and for fewer than two samples (NaN)."""
    if len(y) < 2:
        return math.nan
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    if ss_res == 0.0:
        return 1.0
    return 0.0 if ss_tot == 0.0 else 1.0 - ss_res / ss_tot
