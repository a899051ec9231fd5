"""Shared helpers for the hpsearch.nn tests: standalone layers and input-gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import numerical_gradient, relative_error


def bind_standalone(layer, rng, dtype=np.float64):
    """Give a layer its own random parameters (non-zero biases avoid relu kinks) and state."""
    params, grads, state = {}, {}, {}
    for name, (shape, _, _) in layer.params.items():
        params[name] = rng.normal(size=shape).astype(dtype)
        grads[name] = np.zeros(shape, dtype)
    for name, (shape, value) in layer.state.items():
        state[name] = np.full(shape, value, dtype)
    layer.bind(params, grads, state)
    return layer


def layer_gradient_errors(layer, x, seed=0):
    """Relative errors of dL/dx and every dL/dparam for L = sum(w * layer(x)), w random."""
    w = np.random.default_rng(seed + 1).normal(size=layer.forward(x.copy(), True, np.random.default_rng(seed)).shape)

    def loss():
        return float(np.sum(w * layer.forward(x.copy(), True, np.random.default_rng(seed))))

    layer.forward(x.copy(), True, np.random.default_rng(seed))
    dx = layer.backward(w.copy(), need_dx=True).copy()
    analytic = {name: g.copy() for name, g in layer.g.items()}
    xs = x.copy()

    def loss_x():
        return float(np.sum(w * layer.forward(xs.copy(), True, np.random.default_rng(seed))))

    errors = {"x": relative_error(dx.ravel(), numerical_gradient(loss_x, xs))}
    for name, p in layer.p.items():
        errors[name] = relative_error(analytic[name].ravel(), numerical_gradient(loss, p))
    return errors


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
