"""Bad input to train / predict: a ValueError naming the parameter and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import Network, train


@pytest.fixture
def data(rng):
    return rng.normal(size=(20, 4)), rng.integers(0, 3, 20)


@pytest.fixture
def net():
    return Network(4, (5,), 3, task="multiclass", random_state=0)


def _nan(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


def _inf(X):
    X = X.copy()
    X[0, 0] = np.inf
    return X


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda X, y: (_nan(X), y), "X: contains NaN or infinity"),
        (lambda X, y: (_inf(X), y), "X: contains NaN or infinity"),
        (lambda X, y: (X, np.where(np.arange(20) == 2, np.nan, y)), "y: contains NaN or infinity"),
        (lambda X, y: (X[:, :3], y), "X: expected 4 features"),
        (lambda X, y: (X[0], y), r"X: expected a 2-D array"),
        (lambda X, y: (X, y[:19]), "y: expected 20 targets"),
        (lambda X, y: (X, y + 3), r"y: expected integer class labels in 0..2"),
        (lambda X, y: (X, y + 0.5), r"y: expected integer class labels in 0..2"),
        (lambda X, y: (X, y.reshape(-1, 1)), "y: expected a 1-D array of class labels"),
        (lambda X, y: (X[:0], y[:0]), "X: expected at least one sample"),
        (lambda X, y: (np.full(X.shape, "abc"), y), "X: expected a numeric 2-D array"),
    ],
)
def test_bad_data(net, data, make, message):
    X, y = make(*data)
    with pytest.raises(ValueError, match=message):
        train(net, X, y, max_epochs=1)


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(optimizer="adagrad"), "optimizer: expected one of sgd, momentum, nesterov, rmsprop, adam, adamw"),
        (dict(schedule="linear"), "schedule: expected one of constant, step, cosine, plateau"),
        (dict(batch_size=0), "batch_size: expected an integer >= 1; got 0"),
        (dict(batch_size=-5), "batch_size: expected an integer >= 1"),
        (dict(batch_size=2.5), "batch_size: expected an integer >= 1"),
        (dict(max_epochs=0), "max_epochs: expected an integer >= 1"),
        (dict(learning_rate=0.0), r"learning_rate: expected a number in \(0.0, inf\)"),
        (dict(learning_rate=float("inf")), r"learning_rate: expected a number in \(0.0, inf\)"),
        (dict(learning_rate=float("nan")), "learning_rate: expected a number"),
        (dict(weight_decay=-1.0), r"weight_decay: expected a number in \[0.0, inf\)"),
        (dict(weight_decay=float("inf")), r"weight_decay: expected a number in \[0.0, inf\)"),
        (dict(target_loss=-1.0), r"target_loss: expected a number in \[0.0, inf\)"),
        (dict(l1=-0.1), "l1: expected a number"),
        (dict(clip_norm=0.0), "clip_norm: expected a number"),
        (dict(time_budget=-1.0), "time_budget: expected a number"),
        (dict(patience=0), "patience: expected an integer >= 1"),
        (dict(patience=3), "patience: early stopping needs validation data"),
        (dict(momentum=1.0, optimizer="momentum"), r"momentum: expected a number in \[0.0, 1.0\)"),
        (dict(callbacks=[42]), "callbacks: expected callables"),
        (dict(val_metric="accuracy"), "val_metric: expected a callable"),
        (dict(random_state=1.5), "random_state: expected None, an int seed or a numpy Generator"),
    ],
)
def test_bad_training_arguments(net, data, kw, message):
    with pytest.raises(ValueError, match=message):
        train(net, *data, max_epochs=kw.pop("max_epochs", 1), **kw)


def test_validation_data_is_checked_too(net, data):
    X, y = data
    with pytest.raises(ValueError, match="X_val, y_val: expected both"):
        train(net, X, y, X_val=X)
    with pytest.raises(ValueError, match="X_val: contains NaN or infinity"):
        train(net, X, y, X_val=_nan(X), y_val=y)
    with pytest.raises(ValueError, match="y_val: expected 19 targets"):
        train(net, X, y, X_val=X[:19], y_val=y)


def test_predict_checks_its_input(net, data):
    X, _ = data
    with pytest.raises(ValueError, match="X: contains NaN or infinity"):
        net.predict(_nan(X))
    with pytest.raises(ValueError, match="X: expected 4 features"):
        net.predict(X[:, :2])


def test_regression_and_binary_targets(rng):
    X = rng.normal(size=(10, 4))
    reg = Network(4, (), 2, task="regression")
    with pytest.raises(ValueError, match=r"y: expected shape \(10, 2\) for regression"):
        train(reg, X, rng.normal(size=10), max_epochs=1)
    binary = Network(4, (), 1, task="binary")
    with pytest.raises(ValueError, match=r"y: expected integer class labels in 0..1 for task='binary'"):
        train(binary, X, np.arange(10), max_epochs=1)
    train(binary, X, np.arange(10) % 2 == 0, max_epochs=1)  # booleans are 0/1 labels
    train(Network(4, (), 1, task="regression"), X, rng.normal(size=10), max_epochs=1)  # 1-D y for one output


def test_literal_messages_write_allowed_values_as_python_literals():
    """The scikit-learn estimators' form of the same checks: quoted choices, short bounds, None when allowed."""
    from hpsearch.nn._validation import check_choice, check_dtype, check_float

    with pytest.raises(ValueError, match=r"^init: expected one of 'auto', 'he'; got 'x'$"):
        check_choice("init", "x", ("auto", "he"), literal=True)
    with pytest.raises(ValueError, match=r"^dtype: expected one of 'float32', 'float64'; got 'int32'$"):
        check_dtype("int32", literal=True)
    with pytest.raises(ValueError, match=r"^clip_norm: expected a number in \(0, inf\) or None; got 0.0$"):
        check_float("clip_norm", 0.0, low_open=True, high_open=True, allow_none=True, literal=True)
    with pytest.raises(ValueError, match=r"^dropout: expected a number in \[0, 1\); got 1.0$"):
        check_float("dropout", 1.0, high=1.0, high_open=True, literal=True)
    # the default form is the core's (unchanged) one
    with pytest.raises(ValueError, match=r"^dropout: expected a number in \[0.0, 1.0\); got 1.0$"):
        check_float("dropout", 1.0, high=1.0, high_open=True)


def test_estimator_and_core_share_one_set_of_limits(data):
    """The estimators' checks are the core's (REAL_LIMITS): the same values pass and fail,
    the estimator writing its bounds as Python literals."""
    from hpsearch.nn import MLPClassifier

    X, y = data
    for kw, core, literal in [
        (dict(learning_rate=0.0), r"\(0.0, inf\)", r"\(0, inf\)"),
        (dict(momentum=1.0), r"\[0.0, 1.0\)", r"\[0, 1\)"),
        (dict(weight_decay=float("inf")), r"\[0.0, inf\)", r"\[0, inf\)"),
    ]:
        name = next(iter(kw))
        net = Network(4, (5,), 3, task="multiclass", random_state=0)
        with pytest.raises(ValueError, match=rf"^{name}: expected a number in {core}"):
            train(net, X, y, max_epochs=1, optimizer="momentum", **kw)
        with pytest.raises(ValueError, match=rf"^{name}: expected a number in {literal}"):
            MLPClassifier(hidden_layer_sizes=(5,), max_epochs=1, optimizer="momentum", **kw).fit(X, y)
    # a learning rate has no upper limit anywhere: too large a one diverges, a result
    net = Network(4, (5,), 3, task="multiclass", random_state=0)
    result = train(net, X * 1e3, y, optimizer="sgd", learning_rate=1e6, max_epochs=20, random_state=0)
    assert result.diverged
