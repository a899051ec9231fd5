"""Optimizers: hand-computed first steps, convergence on a small problem, state hygiene."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import OPTIMIZERS, Network, make_optimizer, train

G = np.array([0.5, -2.0, 0.0, 1e-3])
P0 = np.array([1.0, 1.0, 1.0, 1.0])
LR = 0.1


def _first_step(name, **kw):
    opt = make_optimizer(name, G.size, np.float64, **kw)
    p = P0.copy()
    opt.step(p, G.copy(), LR)
    return p


def test_sgd_first_step():
    np.testing.assert_allclose(_first_step("sgd"), P0 - LR * G)


def test_momentum_steps():
    opt = make_optimizer("momentum", G.size, np.float64, momentum=0.8)
    p = P0.copy()
    opt.step(p, G, LR)
    np.testing.assert_allclose(p, P0 - LR * G)  # v1 = g
    opt.step(p, G, LR)
    np.testing.assert_allclose(p, P0 - LR * G - LR * (0.8 * G + G))  # v2 = 0.8 g + g


def test_nesterov_first_step():
    # v1 = g; step lr (g + mu v1)
    np.testing.assert_allclose(_first_step("nesterov", momentum=0.8), P0 - LR * (G + 0.8 * G))


def test_rmsprop_first_step():
    s = 0.1 * G**2
    np.testing.assert_allclose(_first_step("rmsprop"), P0 - LR * G / (np.sqrt(s) + 1e-8))


def _textbook_adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, decay=0.0, n_decayed=0):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        p[:n_decayed] -= lr * decay * p[:n_decayed]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def test_adam_first_step_is_lr_times_sign():
    p = _first_step("adam")
    np.testing.assert_allclose(p, _textbook_adam(P0.copy(), [G], LR))
    np.testing.assert_allclose(p[:2], P0[:2] - LR * np.sign(G[:2]), rtol=1e-7)
    assert p[2] == 1.0  # zero gradient: no move


def test_adam_matches_the_textbook_over_several_steps(rng):
    grads = [rng.normal(size=G.size) for _ in range(5)]
    opt = make_optimizer("adam", G.size, np.float64)
    p = P0.copy()
    for g in grads:
        opt.step(p, g, LR)
    np.testing.assert_allclose(p, _textbook_adam(P0.copy(), grads, LR), rtol=1e-10)


def test_adamw_decays_only_the_weights(rng):
    grads = [rng.normal(size=G.size) for _ in range(3)]
    opt = make_optimizer("adamw", G.size, np.float64, weight_decay=0.5, n_decayed=2)
    p = P0.copy()
    for g in grads:
        opt.step(p, g, LR)
    np.testing.assert_allclose(p, _textbook_adam(P0.copy(), grads, LR, decay=0.5, n_decayed=2), rtol=1e-10)
    plain = _textbook_adam(P0.copy(), grads, LR)
    np.testing.assert_allclose(p[2:], plain[2:], rtol=1e-10)
    assert np.all(np.abs(p[:2]) < np.abs(plain[:2]))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_decreases_the_loss(name, rng):
    X = rng.normal(size=(200, 5))
    y = (X @ rng.normal(size=5) > 0).astype(int)
    net = Network(5, (8,), 1, task="binary", random_state=0, dtype=np.float64)
    before = net.loss(X, y)
    lr = 0.05 if name in ("sgd", "momentum", "nesterov") else 0.01
    result = train(net, X, y, optimizer=name, learning_rate=lr, max_epochs=15, batch_size=20, random_state=0)
    assert not result.diverged
    assert net.loss(X, y) < 0.6 * before
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_denormal_state_is_flushed():
    opt = make_optimizer("adam", 3, np.float32)
    p = np.ones(3, np.float32)
    opt.step(p, np.ones(3, np.float32), 1e-3)
    zero = np.zeros(3, np.float32)
    for _ in range(opt.FLUSH_EVERY - 2):  # m decays by 0.9 per step: 0.9^126 ~ 1.8e-6, still normal
        opt.step(p, zero, 1e-3)
    opt.m[0] = np.float32(1e-40)  # a denormal float32
    assert opt.m[0] != 0
    opt.step(p, zero, 1e-3)  # step FLUSH_EVERY sweeps the state
    assert opt.m[0] == 0 and opt.m[1] > 0


def test_unknown_optimizer_lists_the_allowed_values():
    with pytest.raises(ValueError, match="optimizer: expected one of sgd, momentum, nesterov, rmsprop, adam, adamw"):
        make_optimizer("adagrad", 3, np.float32)
    with pytest.raises(ValueError, match=r"momentum: expected a number in \[0.0, 1.0\)"):
        make_optimizer("momentum", 3, np.float32, momentum=1.5)
