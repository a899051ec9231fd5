"""Optimizers: small objects that own their state and update one flat vector in place.

``step(params, grads, lr)`` applies one update. Everything is fused into a
handful of in-place passes over the whole parameter vector (the network keeps
all parameters in one array), using one scratch buffer, so a step costs a few
passes over memory and allocates nothing. The scaled adds (``y = a x + b y``)
are one BLAS call each instead of two NumPy passes (see ``_blas``).

Conventions follow PyTorch: momentum keeps v = mu v + g and steps lr * v;
Adam/AdamW use bias-corrected moments; AdamW decays the weights (the first
``n_decayed`` entries) by lr * weight_decay, decoupled from the gradient.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from hpsearch.nn._blas import VectorOps
from hpsearch.nn._validation import check_choice, check_param


class Optimizer:
    """Base: a step counter, one scratch buffer, and denormal hygiene for the state.

    Moments of parameters whose gradient is exactly zero (dead relu units) decay
    geometrically and, after a few hundred steps, become float32 *denormals*,
    which make every arithmetic instruction on them ~100x slower. Every
    ``FLUSH_EVERY`` steps the state arrays are swept and such values zeroed.
    """

    FLUSH_EVERY = 128

    def __init__(self, size: int, dtype: DTypeLike, use_blas: bool = True) -> None:
        self.t = 0
        self._ops = VectorOps(dtype, use_blas)
        self._tmp = np.empty(size, dtype)
        self._tiny = np.finfo(dtype).tiny
        self._state: list[np.ndarray] = []

    def _zeros(self, size: int, dtype: DTypeLike) -> np.ndarray:
        arr = np.zeros(size, dtype)
        self._state.append(arr)
        return arr

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        """Update ``params`` in place from ``grads`` with learning rate ``lr``."""
        self.t += 1
        self._update(params, grads, lr)
        if self.t % self.FLUSH_EVERY == 0:
            for arr in self._state:
                np.abs(arr, out=self._tmp)
                np.copyto(arr, 0, where=self._tmp < self._tiny)

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr g."""

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        self._ops.axpy(-lr, grads, params)


class Momentum(Optimizer):
    """Heavy ball: v = mu v + g; p -= lr v (Nesterov: p -= lr (g + mu v))."""

    def __init__(
        self, size: int, dtype: DTypeLike, momentum: float = 0.9, nesterov: bool = False, use_blas: bool = True
    ) -> None:
        super().__init__(size, dtype, use_blas)
        self.momentum, self.nesterov = momentum, nesterov
        self.v = self._zeros(size, dtype)

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        ops, v = self._ops, self.v
        ops.axpby(1.0, grads, self.momentum, v)
        if self.nesterov:
            ops.axpy(-lr, grads, params)
            ops.axpy(-lr * self.momentum, v, params)
        else:
            ops.axpy(-lr, v, params)


class RMSprop(Optimizer):
    """s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)."""

    def __init__(self, size: int, dtype: DTypeLike, rho: float = 0.9, eps: float = 1e-8, use_blas: bool = True) -> None:
        super().__init__(size, dtype, use_blas)
        self.rho, self.eps = rho, eps
        self.s = self._zeros(size, dtype)

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        s, tmp = self.s, self._tmp
        np.multiply(grads, grads, out=tmp)
        self._ops.axpby(1 - self.rho, tmp, self.rho, s)
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(grads, tmp, out=tmp)
        self._ops.axpy(-lr, tmp, params)


class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moments.

    With ``decoupled_decay`` > 0 it is AdamW (Loshchilov & Hutter): weights
    shrink by lr * decay each step, independently of the adaptive scaling.

    Implementation: the moments are kept unnormalised, m' = m / (1 - b1) and
    v' = v / (1 - b2), so their updates are m' = b1 m' + g and v' = b2 v' + g^2
    (one BLAS axpby each); every constant, including the
    bias corrections, folds into two scalars of the final step.
    """

    def __init__(
        self,
        size: int,
        dtype: DTypeLike,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        decoupled_decay: float = 0.0,
        n_decayed: int = 0,
        use_blas: bool = True,
    ) -> None:
        super().__init__(size, dtype, use_blas)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.decay, self.n_decayed = decoupled_decay, n_decayed
        self.m = self._zeros(size, dtype)  # m / (1 - beta1)
        self.v = self._zeros(size, dtype)  # v / (1 - beta2)

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        m, v, tmp, b1, b2, t = self.m, self.v, self._tmp, self.beta1, self.beta2, self.t
        if self.decay:
            params[: self.n_decayed] *= 1 - lr * self.decay
        self._ops.axpby(1.0, grads, b1, m)
        np.multiply(grads, grads, out=tmp)
        self._ops.axpby(1.0, tmp, b2, v)
        # p -= lr m_hat / (sqrt(v_hat) + eps), with m_hat = (1-b1) m' / (1-b1^t),
        # sqrt(v_hat) = r sqrt(v'), r = sqrt((1-b2) / (1-b2^t)).
        r = math.sqrt((1 - b2) / (1 - b2**t))
        np.sqrt(v, out=tmp)
        tmp += self.eps / r
        np.divide(m, tmp, out=tmp)
        self._ops.axpy(-lr * (1 - b1) / ((1 - b1**t) * r), tmp, params)


OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def make_optimizer(
    name: str, size: int, dtype: DTypeLike, *, momentum: float = 0.9, weight_decay: float = 0.0, n_decayed: int = 0
) -> Optimizer:
    """Build the optimizer called ``name`` for a parameter vector of ``size`` entries."""
    check_choice("optimizer", name, OPTIMIZERS)
    if name in ("momentum", "nesterov"):
        momentum = check_param("momentum", momentum)
        return Momentum(size, dtype, momentum, nesterov=name == "nesterov")
    if name == "rmsprop":
        return RMSprop(size, dtype)
    if name == "adam":
        return Adam(size, dtype)
    if name == "adamw":
        return Adam(size, dtype, decoupled_decay=weight_decay, n_decayed=n_decayed)
    return SGD(size, dtype)
