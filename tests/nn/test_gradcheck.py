"""Backprop against central differences for every activation, head, batch norm and dropout."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import ACTIVATIONS, Network, gradient_check, numerical_gradient, relative_error

TOL = 1e-6


def _problem(task, n_outputs, rng, n=11, d=5):
    X = rng.normal(size=(n, d))
    if task == "multiclass":
        y = rng.integers(0, n_outputs, n)
    elif task == "binary":
        y = rng.integers(0, 2, n)
    else:
        y = rng.normal(size=(n, n_outputs))
    return X, y


def _randomised(net, rng):
    # Random non-zero biases / BN scales: zero biases put pre-activations of a
    # fully dropped row exactly on relu's kink, where no derivative exists.
    net.params[:] = rng.normal(scale=0.6, size=net.params.size)
    return net


HEADS = [("multiclass", 3), ("binary", 1), ("regression", 2)]


@pytest.mark.parametrize("task,n_outputs", HEADS)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("batch_norm,dropout", [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.3)])
def test_network_gradients_match_central_differences(task, n_outputs, activation, batch_norm, dropout, rng):
    net = Network(
        5, (7, 6), n_outputs, task=task, activation=activation, batch_norm=batch_norm, dropout=dropout, random_state=1
    )
    X, y = _problem(task, n_outputs, rng)
    assert gradient_check(_randomised(net, rng), X, y) < TOL


@pytest.mark.parametrize("weight_decay,l1", [(0.3, 0.0), (0.0, 0.05), (0.1, 0.02)])
def test_penalty_gradients(weight_decay, l1, rng):
    net = _randomised(Network(4, (6,), 3, task="multiclass", activation="tanh", random_state=0), rng)
    X, y = _problem("multiclass", 3, rng, d=4)
    assert gradient_check(net, X, y, weight_decay=weight_decay, l1=l1) < TOL


@pytest.mark.parametrize("task,n_outputs", HEADS)
def test_depth_zero_heads(task, n_outputs, rng):
    # hidden=() with the binary head is logistic regression
    net = _randomised(Network(5, (), n_outputs, task=task, random_state=0), rng)
    X, y = _problem(task, n_outputs, rng)
    assert gradient_check(net, X, y) < TOL


def test_gradient_check_works_on_a_float32_network_without_touching_it(rng):
    net = Network(5, (8,), 3, task="multiclass", random_state=0)
    before = net.params.copy()
    X, y = _problem("multiclass", 3, rng)
    assert gradient_check(_randomised(net, rng), X, y, max_checks=20) < TOL
    assert net.params.dtype == np.float32
    assert not np.array_equal(net.params, before)  # randomised above, not by the check
    snapshot = net.params.copy()
    gradient_check(net, X, y, max_checks=5)
    np.testing.assert_array_equal(net.params, snapshot)


def test_gradient_check_catches_a_wrong_backward(rng, monkeypatch):
    net = _randomised(Network(5, (6,), 3, task="multiclass", activation="tanh", random_state=0), rng)
    X, y = _problem("multiclass", 3, rng)
    from hpsearch.nn import _activations

    wrong_back = lambda da, z, a, tmp: np.multiply(da, 1 - a, out=da)  # noqa: E731 - forgot the square
    monkeypatch.setitem(_activations.ACTIVATIONS, "tanh", (_activations.ACTIVATIONS["tanh"][0], wrong_back))
    broken = Network(5, (6,), 3, task="multiclass", activation="tanh", random_state=0)
    broken.set_weights(net.get_weights())
    assert gradient_check(broken, X, y) > 1e-2


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * np.array([1.0, -2.0, 0.5]) ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert relative_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)
    assert relative_error(np.array([1.0, 1.0]), np.array([1.0, 1.1])) == pytest.approx(
        0.1 / (np.sqrt(2) + np.sqrt(2.21))
    )


def test_every_required_activation_is_covered():
    # the parametrisation above runs over ACTIVATIONS, so it must hold exactly these
    assert set(ACTIVATIONS) == {"relu", "leaky_relu", "tanh", "sigmoid", "gelu"}
