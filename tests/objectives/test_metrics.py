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


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("accuracy", "maximize"),
        ("balanced_accuracy", "maximize"),
        ("f1", "maximize"),
        ("roc_auc", "maximize"),
        ("log_loss", "minimize"),
        ("r2", "maximize"),
        ("rmse", "minimize"),
        ("mae", "minimize"),
    ],
)
def test_directions(metric, expected):
    assert direction(metric) == expected


def test_metrics_per_task():
    assert "roc_auc" in task_metrics("binary") and "roc_auc" not in task_metrics("multiclass")
    assert task_metrics("regression") == ["r2", "rmse", "mae"]


def _random_case(rng, task, n):
    """(y, outputs) as the objective produces them, including confident and degenerate outputs."""
    if task == "regression":
        y = rng.standard_normal(n) * rng.choice([1e-3, 1.0, 1e3])
        return y, (y + rng.standard_normal(n) * rng.choice([0.0, 0.1, 10.0])).reshape(-1, 1)
    k = 2 if task == "binary" else int(rng.integers(3, 8))
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.full(k, rng.choice([0.05, 1.0, 20.0])), n)
    proba[rng.random(n) < 0.1] = np.eye(k)[rng.integers(0, k)]  # exact 0 and 1 probabilities
    return y, proba[:, 1] if task == "binary" else proba


@pytest.mark.parametrize(
    "task, metrics",
    [
        ("multiclass", ["accuracy", "log_loss"]),
        ("binary", ["accuracy", "log_loss"]),
        ("regression", ["r2", "rmse", "mae"]),
    ],
)
def test_numpy_metrics_equal_scikit_learns(task, metrics):
    """score() computes these without scikit-learn (per-epoch speed); they must stay its numbers."""
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 60))
        y, out = _random_case(rng, task, n)
        for metric in metrics:
            if task == "regression":
                pred = out.reshape(-1)
                expected = {
                    "r2": skm.r2_score(y, pred),
                    "mae": skm.mean_absolute_error(y, pred),
                    "rmse": np.sqrt(skm.mean_squared_error(y, pred)),
                }[metric]
            else:
                proba = np.column_stack([1 - out, out]) if task == "binary" else out
                clipped = np.clip(proba, 1e-15, 1.0)
                expected = {
                    "accuracy": skm.accuracy_score(y, proba.argmax(axis=1)),
                    "log_loss": skm.log_loss(
                        y, clipped / clipped.sum(axis=1, keepdims=True), labels=np.arange(proba.shape[1])
                    ),
                }[metric]
            assert score(metric, y, out, task) == pytest.approx(expected, rel=1e-9, abs=1e-12), (metric, n)


def test_r2_edge_cases_follow_scikit_learn():
    from sklearn.metrics import r2_score

    const = np.array([2.0, 2.0, 2.0])
    for pred in (const, const + [0.0, 0.0, 1.0]):
        assert score("r2", const, pred.reshape(-1, 1), "regression") == r2_score(const, pred)  # 1.0, then 0.0
    assert math.isnan(score("r2", np.array([1.0]), np.array([[1.5]]), "regression"))
