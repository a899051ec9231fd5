"""The training loop: stopping rules, divergence, callbacks, determinism, dtypes, real learning."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from hpsearch.nn import EpochRecord, Network, Step, clip_by_global_norm, train
from hpsearch.nn._training import EXPLOSION


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_va), y_tr, y_va


@pytest.fixture
def blobs(rng):
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    return X, y


def _net(d=6, hidden=(16,), out=2, **kw):
    kw.setdefault("random_state", 0)
    return Network(d, hidden, out, task="multiclass", **kw)


def test_learns_digits_quickly(digits):
    X_tr, X_va, y_tr, y_va = digits
    net = Network(64, (128,), 10, task="multiclass", random_state=0)
    t0 = time.perf_counter()
    result = train(
        net,
        X_tr,
        y_tr,
        X_val=X_va,
        y_val=y_va,
        batch_size=64,
        max_epochs=15,
        val_metric=lambda y, p: float((p.argmax(1) == y).mean()),
        random_state=0,
    )
    assert time.perf_counter() - t0 < 10
    accuracy = (net.predict(X_va).argmax(1) == y_va).mean()
    assert accuracy > 0.95
    assert result.history[-1].val_metric == pytest.approx(accuracy)
    assert result.stop_reason == "max_epochs" and result.epochs_run == 15 and not result.diverged


def test_history_records_every_epoch(blobs):
    X, y = blobs
    result = train(_net(), X[:200], y[:200], X_val=X[200:], y_val=y[200:], max_epochs=4, random_state=0)
    assert [r.epoch for r in result.history] == [1, 2, 3, 4]
    for r in result.history:
        assert isinstance(r, EpochRecord)
        assert r.train_loss > 0 and r.val_loss > 0 and r.val_metric == pytest.approx(-r.val_loss)
        assert r.seconds > 0 and r.learning_rate == 1e-3
    assert result.train_seconds >= sum(r.seconds for r in result.history)
    assert result.best_epoch == 1 + int(np.argmax([r.val_metric for r in result.history]))


def test_without_validation_data_there_is_no_val_record(blobs):
    X, y = blobs
    result = train(_net(), X, y, max_epochs=2, random_state=0)
    assert all(r.val_loss is None and r.val_metric is None for r in result.history)
    assert result.best_epoch is None


def test_early_stopping_restores_the_best_weights(digits):
    X_tr, X_va, y_tr, y_va = digits
    # A large learning rate makes validation loss bounce, so patience triggers after a peak.
    net = Network(64, (64,), 10, task="multiclass", random_state=0)
    snapshots = []
    result = train(
        net,
        X_tr[:300],
        y_tr[:300],
        X_val=X_va,
        y_val=y_va,
        optimizer="sgd",
        learning_rate=0.5,
        max_epochs=60,
        patience=3,
        random_state=0,
        callbacks=[lambda r: snapshots.append(net.get_weights()[0]) and False],
    )
    assert result.stop_reason == "early_stopping"
    metrics = [r.val_metric for r in result.history]
    best = int(np.argmax(metrics))
    assert result.best_epoch == best + 1 and result.epochs_run == best + 1 + 3
    assert result.best_val_metric == metrics[best]
    np.testing.assert_array_equal(net.params, snapshots[best])  # restored, not the last epoch's
    assert net.loss(X_va, y_va) == pytest.approx(-metrics[best], rel=1e-5)


def test_early_stopping_with_a_metric_to_minimise(blobs):
    X, y = blobs
    calls = []

    def error_rate(y_true, p):
        calls.append(p.shape)
        return float((p.argmax(1) != y_true).mean())

    result = train(
        _net(),
        X[:200],
        y[:200],
        X_val=X[200:],
        y_val=y[200:],
        val_metric=error_rate,
        greater_is_better=False,
        max_epochs=30,
        patience=2,
        learning_rate=0.05,
        random_state=0,
    )
    assert calls[0] == (100, 2)  # the metric sees probabilities
    metrics = [r.val_metric for r in result.history]
    assert result.best_val_metric == min(metrics)
    assert result.best_epoch == 1 + metrics.index(min(metrics))


def test_divergence_is_a_result_not_an_exception(rng):
    X = rng.normal(size=(100, 4))
    y = X @ rng.normal(size=(4, 1)) * 100
    net = Network(4, (16,), 1, task="regression", random_state=0)
    # 1e10: the loss turns NaN within the first epoch (at 1e3 it explodes while finite: the test below)
    result = train(net, X, y, optimizer="sgd", learning_rate=1e10, max_epochs=50, random_state=0)
    assert result.diverged and result.stop_reason == "diverged"
    assert result.epochs_run < 50
    assert not np.isfinite(result.history[-1].train_loss)


def test_callback_can_stop_training(blobs):
    X, y = blobs
    seen = []
    result = train(
        _net(), X, y, max_epochs=20, callbacks=[lambda r: seen.append(r.epoch) or r.epoch == 3], random_state=0
    )
    assert result.stop_reason == "callback" and result.epochs_run == 3 and seen == [1, 2, 3]


def test_callback_exceptions_propagate(blobs):
    # Optuna pruning raises TrialPruned from a callback; train must not swallow it.
    class Pruned(Exception):
        pass

    def prune(record):
        raise Pruned

    with pytest.raises(Pruned):
        train(_net(), *blobs, max_epochs=5, callbacks=[prune], random_state=0)


def test_target_loss_stops_training(blobs):
    X, y = blobs
    result = train(_net(), X, y, max_epochs=200, learning_rate=0.01, target_loss=0.3, random_state=0)
    assert result.stop_reason == "target_loss"
    assert result.history[-1].train_loss <= 0.3 < result.history[-2].train_loss


def test_time_budget_stops_training(digits):
    X_tr, _, y_tr, _ = digits
    t0 = time.perf_counter()
    result = train(
        Network(64, (256, 256), 10, task="multiclass", random_state=0),
        X_tr,
        y_tr,
        max_epochs=10_000,
        batch_size=16,
        time_budget=0.3,
        random_state=0,
    )
    elapsed = time.perf_counter() - t0
    assert result.stop_reason == "time_budget" and result.epochs_run < 10_000
    assert elapsed < 1.5


def test_same_random_state_gives_identical_results(blobs):
    X, y = blobs
    runs = []
    for _ in range(2):
        net = _net(hidden=(16, 8), dropout=0.2, batch_norm=True, random_state=7)
        result = train(net, X, y, max_epochs=3, batch_size=32, random_state=11)
        runs.append((net.params.copy(), net.state.copy(), [r.train_loss for r in result.history]))
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    other = _net(hidden=(16, 8), dropout=0.2, batch_norm=True, random_state=7)
    train(other, X, y, max_epochs=3, batch_size=32, random_state=12)
    assert not np.array_equal(other.params, runs[0][0])  # the seed does drive shuffling / dropout


def test_float64_on_request(blobs):
    X, y = blobs
    net64 = _net(dtype=np.float64)
    net32 = _net()
    assert net64.params.dtype == np.float64 and net32.params.dtype == np.float32
    np.testing.assert_allclose(net32.params, net64.params, rtol=1e-6)  # same seed, same start
    train(net64, X, y, max_epochs=2, random_state=0)
    train(net32, X, y, max_epochs=2, random_state=0)
    assert net64.predict(X).dtype == np.float64 and net32.predict(X).dtype == np.float32
    np.testing.assert_allclose(net32.predict(X), net64.predict(X), atol=1e-3)


def test_clip_by_global_norm():
    g = np.array([3.0, 4.0])
    assert clip_by_global_norm(g, 10.0) == 5.0
    np.testing.assert_array_equal(g, [3.0, 4.0])
    assert clip_by_global_norm(g, 1.0) == 5.0
    np.testing.assert_allclose(g, [0.6, 0.8])


def test_clipping_bounds_every_step(blobs):
    X, y = blobs
    net = _net(dtype=np.float64)
    start = net.params.copy()
    train(
        net, X, y, optimizer="sgd", learning_rate=1.0, clip_norm=1e-3, batch_size=len(X), max_epochs=1, random_state=0
    )
    assert np.linalg.norm(net.params - start) <= 1e-3 + 1e-12


def test_weight_decay_and_l1_shrink_weights_but_not_biases(blobs):
    X, y = blobs
    norms = {}
    for key, kw in {
        "none": {},
        "l2": {"weight_decay": 0.1},
        "l1": {"l1": 0.01},
        "adamw": {"weight_decay": 0.5},
    }.items():
        net = _net(dtype=np.float64)
        train(
            net,
            X,
            y,
            optimizer="adamw" if key == "adamw" else "adam",
            max_epochs=10,
            learning_rate=0.01,
            random_state=0,
            **kw,
        )
        norms[key] = np.abs(net.params[: net.n_decayed]).sum()
    assert norms["l2"] < norms["none"] and norms["l1"] < norms["none"] and norms["adamw"] < norms["none"]


def test_schedule_sets_the_learning_rate(blobs):
    X, y = blobs
    result = train(_net(), X, y, max_epochs=5, schedule=Step(0.01, 2, 0.5), random_state=0)
    assert [r.learning_rate for r in result.history] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])
    result = train(_net(), X, y, max_epochs=4, learning_rate=0.1, schedule="cosine", random_state=0)
    assert result.history[0].learning_rate == 0.1 and result.history[-1].learning_rate < 0.02


def test_one_epoch_equals_hand_written_mini_batch_sgd(rng):
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 2, 10)
    net, ref = _net(d=3, dtype=np.float64), _net(d=3, dtype=np.float64)
    result = train(net, X, y, batch_size=4, max_epochs=1, optimizer="sgd", learning_rate=0.1, random_state=5)
    perm = np.random.default_rng(5).permutation(10)  # train shuffles with its random_state
    Xs, ys = X[perm], y[perm]
    losses = []
    for start in (0, 4, 8):  # batches of 4, 4 and the short last one of 2
        buf = np.empty((min(4, 10 - start), 2))
        losses.append(ref.loss_grad(Xs[start : start + 4], ys[start : start + 4], buf) * len(buf))
        ref.params -= 0.1 * ref.grads
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-12)
    assert result.history[0].train_loss == pytest.approx(sum(losses) / 10)


def test_batch_bounds_cover_every_row_once():
    from hpsearch.nn._training import batch_bounds

    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4, batch_norm=True) == [(0, 4), (4, 9)]  # a 1-row tail joins the batch before
    assert batch_bounds(10, 4, batch_norm=True) == [(0, 4), (4, 8), (8, 10)]  # 2 rows: half a batch stays
    assert batch_bounds(3, 64, batch_norm=True) == [(0, 3)]  # one short batch stays
    assert batch_bounds(1347, 64, batch_norm=True)[-1] == (1280, 1347)
    for n, bs, bn in [(1347, 64, True), (1347, 64, False), (100, 7, True), (5, 5, True)]:
        bounds = batch_bounds(n, bs, bn)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))


def test_batch_norm_never_steps_on_a_tiny_tail_batch():
    """Every batch the network trains on holds at least half a batch of rows (with batch norm)."""
    X = np.random.default_rng(0).normal(size=(67, 5))
    y = (X[:, 0] > 0).astype(int)
    sizes = []
    net = Network(5, (8,), 2, task="multiclass", batch_norm=True, random_state=0)
    forward = net.forward

    def spy(X, **kw):
        if kw.get("training"):
            sizes.append(X.shape[0])
        return forward(X, **kw)

    net.forward = spy
    train(net, X, y, batch_size=16, max_epochs=2, random_state=0)
    assert sizes == [16, 16, 16, 19] * 2


def test_sgd_sigmoid_batch_norm_learns_digits_with_a_three_row_tail():
    """Issue 14's case: digits, (64, 64), sigmoid, batch norm, plain SGD at 0.5, batch 64, 25 epochs.

    scikit-learn's default 75/25 split leaves 1347 training rows, a 3-row last
    batch. Normalising by 3 rows' statistics made that step's gradient ~16x a
    full batch's (median, relative to the weights) and, at lr 0.5, it set the
    network back every epoch: 0.676 test accuracy at this seed (0.68-0.97 over
    seeds 0-7); with the tail merged 0.967-0.976.
    """
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=5)
    net = Network(64, (64, 64), 10, task="multiclass", activation="sigmoid", batch_norm=True, random_state=2)
    train(net, X_tr, y_tr, optimizer="sgd", learning_rate=0.5, batch_size=64, max_epochs=25, random_state=2)
    assert len(X_tr) % 64 == 3
    assert np.mean(net.predict(X_te).argmax(axis=1) == y_te) >= 0.93  # before the fix: 0.676


def test_an_exploding_finite_loss_is_divergence_too(digits):
    """sgd at learning_rate=10 on standardized digits: the loss reaches ~1e32 in one epoch, still finite."""
    X_tr, _, y_tr, _ = digits
    net = Network(64, (64,), 10, task="multiclass", random_state=0)
    result = train(net, X_tr, y_tr, optimizer="sgd", learning_rate=10.0, max_epochs=10, random_state=0)
    assert result.diverged and result.stop_reason == "diverged"
    assert np.isfinite(result.history[-1].train_loss)  # caught by size, not by NaN
    assert result.history[-1].train_loss > EXPLOSION * np.log(10)


def test_a_warm_start_near_zero_loss_is_not_an_explosion(digits):
    """The constant predictor's loss bounds the scale from below: a trained network may wobble."""
    X_tr, _, y_tr, _ = digits
    net = Network(64, (64,), 10, task="multiclass", random_state=0)
    first = train(net, X_tr, y_tr, optimizer="adam", learning_rate=1e-2, max_epochs=30, random_state=0)
    assert not first.diverged and first.history[-1].train_loss < 0.05
    again = train(net, X_tr, y_tr, optimizer="adam", learning_rate=3e-2, max_epochs=5, random_state=1)
    assert not again.diverged and again.stop_reason == "max_epochs"
