"""The Network: construction, initialisation, outputs, parameter packing, and bad input."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from hpsearch.nn import BatchNorm, Dense, Dropout, Network, train


def test_n_parameters_counts_weights_biases_and_batchnorm():
    assert Network(10, (20, 5), 3, task="multiclass").n_parameters == 10 * 20 + 20 + 20 * 5 + 5 + 5 * 3 + 3
    # with batch norm the dense bias is dropped (beta replaces it) and gamma/beta are added
    assert Network(10, (20,), 3, task="multiclass", batch_norm=True).n_parameters == 10 * 20 + 2 * 20 + 20 * 3 + 3
    assert Network(4, (), 1, task="binary").n_parameters == 5  # logistic regression


def test_layer_stack():
    net = Network(4, (8, 6), 3, task="multiclass", batch_norm=True, dropout=0.1)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dense", "BatchNorm", "Activation", "Dropout"] * 2 + ["Dense"]
    assert isinstance(net.layers[-1], Dense) and isinstance(net.layers[1], BatchNorm)
    assert isinstance(net.layers[3], Dropout)


def test_weights_first_in_the_flat_vector():
    net = Network(3, (4,), 2, task="multiclass", random_state=0)
    assert net.n_decayed == 3 * 4 + 4 * 2
    w1, w2 = net.layers[0].p["W"], net.layers[2].p["W"]
    assert np.shares_memory(w1, net.params) and np.shares_memory(w2, net.params)
    np.testing.assert_array_equal(net.params[:12], w1.ravel())
    np.testing.assert_array_equal(net.params[20:], 0)  # biases start at zero


@pytest.mark.parametrize(
    "init,activation,scale", [("he", "relu", np.sqrt(2 / 400)), ("glorot", "tanh", np.sqrt(2 / 700))]
)
def test_initialisation_scale(init, activation, scale):
    net = Network(400, (300,), 2, task="multiclass", activation=activation, init=init, random_state=0, dtype=np.float64)
    w = net.layers[0].p["W"]
    assert w.std() == pytest.approx(scale, rel=0.02)
    assert abs(w.mean()) < 0.01 * scale * 10
    if init == "glorot":
        assert np.abs(w).max() <= np.sqrt(6 / 700)


def test_auto_init_is_glorot_uniform_for_every_activation():
    """The default is Glorot uniform (measured in benchmarks/bench_defaults.py); He stays selectable."""
    for activation in ("relu", "leaky_relu", "gelu", "tanh", "sigmoid"):
        auto = Network(400, (300,), 2, task="multiclass", activation=activation, random_state=0, dtype=np.float64)
        glorot = Network(
            400, (300,), 2, task="multiclass", activation=activation, init="glorot", random_state=0, dtype=np.float64
        )
        np.testing.assert_array_equal(auto.params, glorot.params)
    w = auto.layers[0].p["W"]
    limit = np.sqrt(6.0 / (400 + 300))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert np.std(w) == pytest.approx(limit / np.sqrt(3), rel=0.01)  # uniform(-l, l) has sd l / sqrt(3)
    he = Network(400, (300,), 2, task="multiclass", init="he", random_state=0, dtype=np.float64)
    assert np.std(he.layers[0].p["W"]) == pytest.approx(np.sqrt(2.0 / 400), rel=0.01)


def test_seeded_init_is_reproducible_and_breaks_symmetry():
    a = Network(5, (8,), 3, task="multiclass", random_state=3)
    b = Network(5, (8,), 3, task="multiclass", random_state=3)
    c = Network(5, (8,), 3, task="multiclass", random_state=4)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    w = a.layers[0].p["W"]
    assert len({tuple(col) for col in w.T}) == 8  # no two hidden units alike


def test_predict_shapes_and_ranges(rng):
    X = rng.normal(size=(7, 4))
    p = Network(4, (5,), 3, task="multiclass", random_state=0).predict(X)
    assert p.shape == (7, 3) and np.allclose(p.sum(axis=1), 1) and (p >= 0).all()
    p = Network(4, (5,), 1, task="binary", random_state=0).predict(X)
    assert p.shape == (7,) and ((p > 0) & (p < 1)).all()
    assert Network(4, (5,), 2, task="binary", random_state=0).predict(X).shape == (7,)
    assert Network(4, (5,), 2, task="regression", random_state=0).predict(X).shape == (7, 2)


def test_predict_in_chunks_matches_one_pass(rng, monkeypatch):
    from hpsearch.nn import _network

    X = rng.normal(size=(25, 4))
    net = Network(4, (5,), 3, task="multiclass", random_state=0, dtype=np.float64)
    whole = net.predict(X)
    monkeypatch.setattr(_network, "PREDICT_CHUNK", 7)
    np.testing.assert_allclose(net.predict(X), whole, rtol=1e-12)


def test_predict_is_deterministic_with_dropout(rng):
    X = rng.normal(size=(7, 4))
    net = Network(4, (50,), 3, task="multiclass", dropout=0.5, random_state=0)
    np.testing.assert_array_equal(net.predict(X), net.predict(X))


def test_logistic_regression_learns_a_linear_boundary(rng):
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] - 2 * X[:, 1] > 0).astype(int)
    net = Network(2, (), 1, task="binary", random_state=0)
    train(net, X, y, learning_rate=0.1, max_epochs=30, random_state=0)
    assert ((net.predict(X) > 0.5) == y).mean() > 0.97
    w = net.layers[0].p["W"][:, 0]
    assert w[0] > 0 > w[1] and w[1] / w[0] == pytest.approx(-2, rel=0.25)


def test_set_weights_round_trip():
    net = Network(3, (4,), 2, task="multiclass", batch_norm=True, random_state=0)
    saved = net.get_weights()
    net.params += 1
    net.state += 1
    net.set_weights(saved)
    np.testing.assert_array_equal(net.params, saved[0])
    np.testing.assert_array_equal(net.state, saved[1])


@pytest.mark.parametrize(
    "copy_net", [lambda n: pickle.loads(pickle.dumps(n)), copy.deepcopy], ids=["pickle", "deepcopy"]
)
def test_a_pickled_or_copied_network_still_trains(copy_net, rng):
    # pickle stores the layers' views as separate arrays: a loaded network must point them back into
    # its flat vectors, or training would update parameters (and batch-norm state) that no layer reads
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    net = copy_net(Network(4, (8,), 2, task="multiclass", batch_norm=True, random_state=0))
    for layer in net.layers:
        for view in (*layer.p.values(), *layer.g.values()):
            assert np.shares_memory(view, net.params) or np.shares_memory(view, net.grads)
        for view in layer.s.values():
            assert np.shares_memory(view, net.state)
    before = net.loss(X, y)
    train(net, X, y, max_epochs=20, learning_rate=1e-2, weight_decay=1e-3, l1=1e-4, random_state=0)
    assert net.loss(X, y) < 0.5 * before
    saved = net.get_weights()
    net.params[:] = 0
    net.set_weights(saved)  # through the flat vectors only
    assert net.loss(X, y) < 0.5 * before


def test_astype_copies_weights():
    net = Network(3, (4,), 2, task="multiclass", random_state=0)
    net64 = net.astype(np.float64)
    assert net64.params.dtype == np.float64 and net64 is not net
    np.testing.assert_allclose(net64.params, net.params)
    assert "n_parameters=" in repr(net)


BAD_NETWORKS = [
    (dict(task="classify"), "task: expected one of multiclass, binary, regression"),
    (dict(activation="swish"), "activation: expected one of relu, leaky_relu, tanh, sigmoid, gelu; got 'swish'"),
    (dict(dropout=1.0), r"dropout: expected a number in \[0.0, 1.0\)"),
    (dict(dropout=-0.1), r"dropout: expected a number in \[0.0, 1.0\)"),
    (dict(init="orthogonal"), "init: expected one of auto, he, glorot"),
    (dict(dtype=np.float16), "dtype: expected one of float32, float64"),
    (dict(batch_norm="yes"), "batch_norm: expected True or False"),
    (dict(hidden=(8, 0)), "hidden: expected an integer >= 1"),
    (dict(hidden=5), "hidden: expected a sequence"),
    (dict(n_inputs=0), "n_inputs: expected an integer >= 1"),
    (dict(n_outputs=1), "n_outputs: expected an integer >= 2"),
    (dict(random_state="seed"), "random_state: expected None, an int seed or a numpy Generator"),
]


@pytest.mark.parametrize("change,message", BAD_NETWORKS)
def test_bad_network_arguments(change, message):
    kw = dict(n_inputs=4, hidden=(8,), n_outputs=3, task="multiclass") | change
    with pytest.raises(ValueError, match=message):
        Network(kw.pop("n_inputs"), kw.pop("hidden"), kw.pop("n_outputs"), **kw)


def test_binary_takes_one_or_two_outputs():
    with pytest.raises(ValueError, match="n_outputs: expected 1 or 2 for task='binary'"):
        Network(4, (), 3, task="binary")
