"""Output heads: values against textbook formulas, gradients, and stability on huge logits."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import (
    MeanSquaredError,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    numerical_gradient,
    relative_error,
)


def _check_grad(head, z, y):
    dz = np.empty_like(z)
    loss = head.loss_grad(z.copy(), y, dz)
    assert loss == pytest.approx(head.loss(z, y), rel=1e-12)
    numeric = numerical_gradient(lambda: head.loss(z, y), z)
    return relative_error(dz.ravel(), numeric)


def test_softmax_cross_entropy_value_and_gradient(rng):
    z, y = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert SoftmaxCrossEntropy().loss(z, y) == pytest.approx(-np.mean(np.log(p[np.arange(6), y])))
    np.testing.assert_allclose(SoftmaxCrossEntropy().output(z), p)
    assert _check_grad(SoftmaxCrossEntropy(), z, y) < 1e-6


def test_binary_cross_entropy_value_and_gradient(rng):
    z, y = rng.normal(size=(7, 1)), rng.integers(0, 2, 7).astype(float)
    p = 1 / (1 + np.exp(-z[:, 0]))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert SigmoidBinaryCrossEntropy().loss(z, y) == pytest.approx(expected)
    np.testing.assert_allclose(SigmoidBinaryCrossEntropy().output(z), p)
    assert _check_grad(SigmoidBinaryCrossEntropy(), z, y) < 1e-6


def test_mean_squared_error_value_and_gradient(rng):
    z, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    assert MeanSquaredError().loss(z, y) == pytest.approx(np.mean((z - y) ** 2))
    assert _check_grad(MeanSquaredError(), z, y) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_on_huge_logits(dtype):
    z = np.array([[1e4, 0.0, -1e4], [-3e4, 3e4, 0.0]], dtype=dtype)
    y = np.array([0, 0])
    dz = np.empty_like(z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss = SoftmaxCrossEntropy().loss_grad(z.copy(), y, dz)
        p = SoftmaxCrossEntropy().output(z)
    # row 0 is certain and right (loss 0); row 1 puts the true class 6e4 below the winner
    assert loss == pytest.approx(6e4 / 2, rel=1e-6)
    np.testing.assert_allclose(p, [[1, 0, 0], [0, 1, 0]], atol=1e-7)
    np.testing.assert_allclose(dz, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_is_stable_on_huge_logits(dtype):
    z = np.array([[1e4], [-1e4], [1e4]], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0], dtype=dtype)
    dz = np.empty_like(z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = SigmoidBinaryCrossEntropy().loss_grad(z.copy(), y, dz)
    assert loss == pytest.approx(1e4 / 3, rel=1e-6)
    np.testing.assert_allclose(dz[:, 0], [0, 0, 1 / 3], atol=1e-7)


def test_softmax_gradient_is_written_into_the_callers_buffer(rng):
    # loss_grad writes through a flat view of dz, so a strided dz is refused, not silently copied
    z, y = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    dz = np.full((5, 3), np.nan)
    SoftmaxCrossEntropy().loss_grad(z.copy(), y, dz)
    p = SoftmaxCrossEntropy().output(z)
    np.testing.assert_allclose(dz, (p - np.eye(3)[y]) / 5, rtol=1e-12)
    strided = np.empty((5, 6))[:, ::2]
    with pytest.raises(ValueError, match="dz: expected a C-contiguous"):
        SoftmaxCrossEntropy().loss_grad(z.copy(), y, strided)
