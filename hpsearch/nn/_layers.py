"""Layers: each a forward and a backward pass over buffers it owns.

A layer declares its parameters (``params``: name -> (shape, decayed?, initial
value)); the network packs all of them into one flat vector and hands each
layer views into it (``bind``), so optimizers, clipping and snapshots work on a
single array. Training-time buffers are allocated once per batch size and
reused, which keeps the hot loop free of allocations; inference allocates.

``forward(x, training, rng)`` returns the output; ``backward(dy, need_dx)``
writes parameter gradients into the bound gradient views and returns dL/dx (or
None when nobody needs it, e.g. for the first layer). Backward may overwrite
``dy``: each gradient buffer has exactly one reader.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from hpsearch.nn._activations import ACTIVATIONS, IN_PLACE

Arrays = dict[str, np.ndarray]


class Layer:
    #: name -> (shape, decayed?, initial value) of each trained parameter
    params: dict[str, tuple[tuple[int, ...], bool, Any]] = {}
    #: name -> (shape, initial value) of each non-trained state array (BatchNorm's running stats)
    state: dict[str, tuple[tuple[int, ...], float]] = {}

    def __init__(self) -> None:
        self._buffers: dict[tuple[Any, ...], Any] = {}
        self.p: Arrays = {}
        self.g: Arrays = {}
        self.s: Arrays = {}

    def bind(self, params: Arrays, grads: Arrays, state: Arrays) -> None:
        self.p, self.g, self.s = params, grads, state

    def forward(self, x: np.ndarray, training: bool, rng: np.random.Generator | None = None) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def _buf(self, n: int, training: bool, width: int, dtype: DTypeLike, count: int = 1) -> list[np.ndarray]:
        """``count`` (n, width) buffers, cached per batch size when training."""
        if not training:
            return [np.empty((n, width), dtype) for _ in range(count)]
        key = (n, dtype)
        bufs = self._buffers.get(key)
        if bufs is None:
            if len(self._buffers) >= 12:  # full batch, last batch, dx / ones buffers, spares
                self._buffers.clear()
            bufs = self._buffers[key] = [np.empty((n, width), dtype) for _ in range(count)]
        return bufs


class Dense(Layer):
    """z = x W + b."""

    def __init__(self, n_in: int, n_out: int, weight: np.ndarray, bias: bool = True) -> None:
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.params = {"W": (weight.shape, True, weight)}
        if bias:
            self.params["b"] = ((n_out,), False, 0.0)

    def forward(self, x: np.ndarray, training: bool, rng: np.random.Generator | None = None) -> np.ndarray:
        self.x = x
        (z,) = self._buf(x.shape[0], training, self.n_out, x.dtype)
        np.matmul(x, self.p["W"], out=z)
        if "b" in self.p:
            z += self.p["b"]
        return z

    def backward(self, dz: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        np.matmul(self.x.T, dz, out=self.g["W"])  # dL/dW = x^T dz
        if "b" in self.g:
            np.matmul(self._ones(dz.shape[0], dz.dtype), dz, out=self.g["b"])  # column sums; BLAS beats np.sum
        if not need_dx:
            return None
        dx = self._dx_buf(dz.shape[0], dz.dtype)
        return np.matmul(dz, self.p["W"].T, out=dx)  # dL/dx = dz W^T

    def _ones(self, n: int, dtype: DTypeLike) -> np.ndarray:
        key = ("ones", n, dtype)
        ones = self._buffers.get(key)
        if ones is None:
            ones = self._buffers[key] = np.ones(n, dtype)
        return ones

    def _dx_buf(self, n: int, dtype: DTypeLike) -> np.ndarray:
        key = ("dx", n, dtype)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty((n, self.n_in), dtype)
        return buf


class Activation(Layer):
    """a = f(z), element-wise; in place where f' can be read off the output."""

    def __init__(self, name: str, width: int) -> None:
        super().__init__()
        self.name, self.width = name, width
        self.f, self.f_back = ACTIVATIONS[name]
        self.in_place = name in IN_PLACE

    def forward(self, z: np.ndarray, training: bool, rng: np.random.Generator | None = None) -> np.ndarray:
        n = z.shape[0]
        out, tmp = self._buf(n, training, self.width, z.dtype, count=2)
        if self.in_place:
            out = z  # safe: the layer before (Dense / BatchNorm) never re-reads its output
        self.z, self.a, self.tmp = z, self.f(z, out, tmp), tmp
        return self.a

    def backward(self, da: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        return self.f_back(da, self.z, self.a, self.tmp)


class Dropout(Layer):
    """Inverted dropout: keep each unit with prob 1 - rate and scale by 1 / (1 - rate).

    Scaling at training time means inference is the identity.
    """

    def __init__(self, rate: float, width: int) -> None:
        super().__init__()
        self.rate, self.width = rate, width

    def forward(self, x: np.ndarray, training: bool, rng: np.random.Generator | None = None) -> np.ndarray:
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        if rng is None:
            raise ValueError("Dropout: training needs a random generator (rng)")
        out, mask = self._buf(x.shape[0], training, self.width, x.dtype, count=2)
        rng.random(dtype=x.dtype, out=mask)
        np.greater_equal(mask, self.rate, out=mask)
        mask *= 1.0 / (1.0 - self.rate)
        self.mask = mask
        return np.multiply(x, mask, out=out)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if self.mask is None:
            return dy
        return np.multiply(dy, self.mask, out=dy)


class BatchNorm(Layer):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature.

    Training normalises with the batch's statistics and folds them into running
    averages; inference uses the running averages, so predictions do not depend
    on what else is in the batch.
    """

    def __init__(self, width: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.width, self.momentum, self.eps = width, momentum, eps
        self.params = {"gamma": ((width,), False, 1.0), "beta": ((width,), False, 0.0)}
        self.state = {"mean": ((width,), 0.0), "var": ((width,), 1.0)}

    def forward(self, x: np.ndarray, training: bool, rng: np.random.Generator | None = None) -> np.ndarray:
        gamma, beta = self.p["gamma"], self.p["beta"]
        if not training:
            inv = 1.0 / np.sqrt(self.s["var"] + self.eps)
            return (x - self.s["mean"]) * (inv * gamma) + beta
        n = x.shape[0]
        y, xhat, _ = self._buf(n, training, self.width, x.dtype, count=3)
        mean = x.mean(axis=0)
        np.subtract(x, mean, out=xhat)
        np.multiply(xhat, xhat, out=y)
        var = y.mean(axis=0)
        self.inv = 1.0 / np.sqrt(var + self.eps)
        xhat *= self.inv
        self.xhat = xhat
        np.multiply(xhat, gamma, out=y)
        y += beta
        m = self.momentum
        self.s["mean"] *= 1 - m
        self.s["mean"] += m * mean
        self.s["var"] *= 1 - m
        self.s["var"] += (m * n / max(n - 1, 1)) * var  # unbiased, as PyTorch keeps it
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        n, xhat = dy.shape[0], self.xhat
        dbeta, dgamma = self.g["beta"], self.g["gamma"]
        np.sum(dy, axis=0, out=dbeta)
        dx = self._buf(n, True, self.width, dy.dtype, count=3)[2]
        np.multiply(dy, xhat, out=dx)
        np.sum(dx, axis=0, out=dgamma)
        # dL/dx = gamma / sigma * (dy - mean(dy) - xhat * mean(dy * xhat))
        np.multiply(xhat, dgamma / n, out=dx)
        np.subtract(dy, dx, out=dx)
        dx -= dbeta / n
        dx *= self.p["gamma"] * self.inv
        return dx
