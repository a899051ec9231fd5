"""Each layer on its own: input and parameter gradients, and train/inference behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import ACTIVATIONS, Activation, BatchNorm, Dense, Dropout, Network

from .conftest import bind_standalone, layer_gradient_errors

TOL = 1e-6


def test_dense_gradients(rng):
    layer = bind_standalone(Dense(4, 3, np.zeros((4, 3))), rng)
    errors = layer_gradient_errors(layer, rng.normal(size=(6, 4)))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < TOL


def test_dense_forward_is_affine(rng):
    layer = bind_standalone(Dense(4, 3, np.zeros((4, 3))), rng)
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(layer.forward(x, False), x @ layer.p["W"] + layer.p["b"])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(name, rng):
    layer = Activation(name, 5)
    errors = layer_gradient_errors(layer, rng.normal(scale=2.0, size=(7, 5)))
    assert errors["x"] < TOL


@pytest.mark.parametrize(
    "name,expected",
    [
        ("relu", lambda z: np.maximum(z, 0)),
        ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
        ("tanh", np.tanh),
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
        ("gelu", lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))),
    ],
)
def test_activation_values(name, expected, rng):
    z = rng.normal(scale=3.0, size=(4, 6))
    np.testing.assert_allclose(Activation(name, 6).forward(z.copy(), False), expected(z), rtol=1e-12, atol=1e-15)


def test_sigmoid_does_not_overflow():
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=np.float32)
    with np.errstate(all="raise"):
        a = Activation("sigmoid", 5).forward(z.copy(), False)
    np.testing.assert_allclose(a, [[0, 0, 0.5, 1, 1]], atol=1e-7)


def test_dropout_gradient_with_a_fixed_mask(rng):
    errors = layer_gradient_errors(Dropout(0.4, 6), rng.normal(size=(8, 6)))
    assert errors["x"] < TOL


def test_dropout_is_inverted_and_off_at_inference(rng):
    layer = Dropout(0.25, 400)
    x = np.ones((500, 400))
    out = layer.forward(x, True, np.random.default_rng(0))
    kept = out != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(out[kept], 1 / 0.75)  # scaled so the expectation is unchanged
    assert layer.forward(x, False) is x


def test_batchnorm_gradients(rng):
    layer = bind_standalone(BatchNorm(4), rng)
    errors = layer_gradient_errors(layer, rng.normal(loc=3.0, scale=2.0, size=(9, 4)))
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < TOL


def test_batchnorm_uses_batch_statistics_in_training_and_running_ones_at_inference(rng):
    layer = BatchNorm(3, momentum=0.1)
    layer.bind(
        {"gamma": np.ones(3), "beta": np.zeros(3)},
        {"gamma": np.zeros(3), "beta": np.zeros(3)},
        {"mean": np.zeros(3), "var": np.ones(3)},
    )
    x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[1.0, 3.0, 0.5], size=(64, 3))
    y = layer.forward(x, True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), 1, rtol=1e-4)
    np.testing.assert_allclose(layer.s["mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(layer.s["var"], 0.9 + 0.1 * x.var(axis=0, ddof=1))
    for _ in range(200):
        layer.forward(x, True)
    one = layer.forward(x[:1], False)  # a single row: batch statistics would be meaningless
    expected = (x[:1] - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5)
    np.testing.assert_allclose(one, expected, rtol=1e-6)


def test_buffers_are_reused_across_batches(rng):
    net = Network(4, (8,), 3, task="multiclass", random_state=0)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    first = net.forward(x, training=True)
    second = net.forward(x + 1, training=True)
    assert first is second  # the same preallocated output buffer, overwritten
    assert net.forward(x, training=False) is not first  # inference allocates
