"""Optimizers: small objects that own their state and update one flat vector in place.

``step(params, grads, lr)`` applies one update. Everything is fused into a
handful of in-place NumPy calls over the whole parameter vector (the network
keeps all parameters in one array), using one scratch buffer, so a step costs
a few passes over memory and allocates nothing.

Conventions follow PyTorch: momentum keeps v = mu v + g and steps lr * v;
Adam/AdamW use bias-corrected moments; AdamW decays the weights (the first
``n_decayed`` entries) by lr * weight_decay, decoupled from the gradient.
"""

from __future__ import annotations

import math

import numpy as np

from hpsearch.nn._validation import check_choice, check_float


class Optimizer:
    def __init__(self, size: int, dtype) -> None:
        self.t = 0
        self._tmp = np.empty(size, dtype)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr g."""

    def step(self, params, grads, lr):
        self.t += 1
        np.multiply(grads, lr, out=self._tmp)
        params -= self._tmp


class Momentum(Optimizer):
    """Heavy ball: v = mu v + g; p -= lr v (Nesterov: p -= lr (g + mu v))."""

    def __init__(self, size, dtype, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__(size, dtype)
        self.momentum, self.nesterov = momentum, nesterov
        self.v = np.zeros(size, dtype)

    def step(self, params, grads, lr):
        self.t += 1
        v, tmp = self.v, self._tmp
        v *= self.momentum
        v += grads
        if self.nesterov:
            np.multiply(v, self.momentum, out=tmp)
            tmp += grads
            tmp *= lr
        else:
            np.multiply(v, lr, out=tmp)
        params -= tmp


class RMSprop(Optimizer):
    """s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)."""

    def __init__(self, size, dtype, rho: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(size, dtype)
        self.rho, self.eps = rho, eps
        self.s = np.zeros(size, dtype)

    def step(self, params, grads, lr):
        self.t += 1
        s, tmp = self.s, self._tmp
        np.multiply(grads, grads, out=tmp)
        tmp -= s
        tmp *= 1 - self.rho  # s += (1 - rho)(g^2 - s)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(grads, tmp, out=tmp)
        tmp *= lr
        params -= tmp


class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moments.

    With ``decoupled_decay`` > 0 it is AdamW (Loshchilov & Hutter): weights
    shrink by lr * decay each step, independently of the adaptive scaling.
    """

    def __init__(
        self, size, dtype, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
        decoupled_decay: float = 0.0, n_decayed: int = 0,
    ) -> None:
        super().__init__(size, dtype)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.decay, self.n_decayed = decoupled_decay, n_decayed
        self.m = np.zeros(size, dtype)
        self.v = np.zeros(size, dtype)

    def step(self, params, grads, lr):
        self.t += 1
        m, v, tmp = self.m, self.v, self._tmp
        if self.decay:
            params[: self.n_decayed] *= 1 - lr * self.decay
        np.subtract(grads, m, out=tmp)
        tmp *= 1 - self.beta1  # m += (1 - b1)(g - m)
        m += tmp
        np.multiply(grads, grads, out=tmp)
        tmp -= v
        tmp *= 1 - self.beta2  # v += (1 - b2)(g^2 - v)
        v += tmp
        # p -= lr_t m / (sqrt(v) + eps_t): the bias corrections folded into two scalars
        c1, c2 = 1 - self.beta1**self.t, math.sqrt(1 - self.beta2**self.t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * c2
        np.divide(m, tmp, out=tmp)
        tmp *= lr * c2 / c1
        params -= tmp


OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def make_optimizer(
    name: str, size: int, dtype, *, momentum: float = 0.9, weight_decay: float = 0.0, n_decayed: int = 0
) -> Optimizer:
    """Build the optimizer called ``name`` for a parameter vector of ``size`` entries."""
    check_choice("optimizer", name, OPTIMIZERS)
    if name in ("momentum", "nesterov"):
        momentum = check_float("momentum", momentum, low=0.0, high=1.0, high_open=True)
        return Momentum(size, dtype, momentum, nesterov=name == "nesterov")
    if name == "rmsprop":
        return RMSprop(size, dtype)
    if name == "adam":
        return Adam(size, dtype)
    if name == "adamw":
        return Adam(size, dtype, decoupled_decay=weight_decay, n_decayed=n_decayed)
    return SGD(size, dtype)
