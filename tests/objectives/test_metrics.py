"""Metrics: values on hand-made outputs, directions, and which metrics fit which task."""

from __future__ import annotations

import math

import numpy as np
import pytest

from objectives.metrics import direction, score, task_metrics


def test_classification_metrics_from_probabilities():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.5, 0.3, 0.2]])
    assert score("accuracy", y, proba, "multiclass") == 0.75
    assert score("balanced_accuracy", y, proba, "multiclass") == pytest.approx((1 + 1 + 0.5) / 3)
    expected_ll = -np.mean(np.log([0.8, 0.7, 0.8, 0.2]))
    assert score("log_loss", y, proba, "multiclass") == pytest.approx(expected_ll, rel=1e-6)
    # macro f1: class 0 (p=0.5, r=1), class 1 (1, 1), class 2 (1, 0.5)
    assert score("f1", y, proba, "multiclass") == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)


def test_binary_metrics_from_p1():
    y = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.6, 0.4, 0.9])
    assert score("accuracy", y, p1, "binary") == 0.5
    assert score("roc_auc", y, p1, "binary") == 0.75
    assert score("f1", y, p1, "binary") == 0.5


def test_regression_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([[1.0], [2.0], [3.0], [6.0]])
    assert score("rmse", y, pred, "regression") == pytest.approx(1.0)
    assert score("mae", y, pred, "regression") == pytest.approx(0.5)
    assert score("r2", y, pred, "regression") == pytest.approx(1 - 4 / 5)


def test_non_finite_outputs_score_nan():
    assert math.isnan(score("accuracy", np.array([0, 1]), np.array([np.nan, 0.5]), "binary"))


@pytest.mark.parametrize("metric, expected", [
    ("accuracy", "maximize"), ("balanced_accuracy", "maximize"), ("f1", "maximize"), ("roc_auc", "maximize"),
    ("log_loss", "minimize"), ("r2", "maximize"), ("rmse", "minimize"), ("mae", "minimize"),
])
def test_directions(metric, expected):
    assert direction(metric) == expected


def test_metrics_per_task():
    assert "roc_auc" in task_metrics("binary") and "roc_auc" not in task_metrics("multiclass")
    assert task_metrics("regression") == ["r2", "rmse", "mae"]
