"""Output heads: the last layer's non-linearity fused with its loss.

Fusing is what makes them stable and cheap: softmax + cross-entropy has the
gradient ``(p - onehot(y)) / n`` and a log-sum-exp loss that never overflows;
sigmoid + binary cross-entropy is written with softplus; identity + MSE is
plain. Every head offers

* ``loss_grad(z, y, dz)``: mean loss of logits ``z`` and writes dLoss/dz into ``dz``,
* ``loss(z, y)``: the same mean loss without a gradient,
* ``output(z)``: what ``predict`` returns (probabilities or values).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


def _log_softmax_parts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shifted logits and log of the partition sum: log p = shifted - log_s."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_s = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted, log_s


class SoftmaxCrossEntropy:
    """Multi-class: p = softmax(z), loss = -mean log p[y]."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, np.dtype[Any]], tuple[np.ndarray, np.ndarray]] = {}

    def loss_grad(self, z: np.ndarray, y: np.ndarray, dz: np.ndarray) -> float:
        n, k = z.shape
        key = (n, k, z.dtype)
        if key not in self._cache:
            self._cache[key] = (np.arange(n) * k, np.ones(k, z.dtype))
        row_starts, ones = self._cache[key]
        # flat positions of the true classes: 1-D fancy indexing is ~5x faster than dz[rows, y]
        if not dz.flags.c_contiguous:
            raise ValueError("dz: expected a C-contiguous (n, k) buffer")
        idx = row_starts + y
        flat = dz.reshape(-1)  # a view, since dz is contiguous
        # Shift by the batch's largest logit (one fast reduction) rather than each
        # row's (a slow reduction over a short axis); if that underflows a row,
        # fall back to per-row shifts.
        np.subtract(z, z.max(), out=dz)
        picked = flat[idx]  # z_y - shift, before exp overwrites it
        np.exp(dz, out=dz)
        s = dz @ ones
        if s.min() < 1e-30:
            np.subtract(z, z.max(axis=1, keepdims=True), out=dz)
            picked = flat[idx]
            np.exp(dz, out=dz)
            s = dz @ ones
        loss = (float(np.log(s).sum()) - float(picked.sum())) / n
        s *= n
        np.reciprocal(s, out=s)
        dz *= s[:, None]  # p / n
        flat[idx] -= 1.0 / n
        return loss

    def loss(self, z: np.ndarray, y: np.ndarray) -> float:
        shifted, log_s = _log_softmax_parts(z)
        return float(np.mean(log_s[:, 0] - shifted[np.arange(len(y)), y], dtype=np.float64))

    def output(self, z: np.ndarray) -> np.ndarray:
        shifted, log_s = _log_softmax_parts(z)
        return np.exp(shifted - log_s)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class SigmoidBinaryCrossEntropy:
    """Binary: p = sigmoid(z), loss = mean softplus(z) - y z (= -y log p - (1-y) log(1-p))."""

    def loss_grad(self, z: np.ndarray, y: np.ndarray, dz: np.ndarray) -> float:
        n = z.shape[0]
        loss = self.loss(z, y)
        np.multiply(z, 0.5, out=dz)  # sigmoid(z) = (1 + tanh(z/2)) / 2
        np.tanh(dz, out=dz)
        dz += 1
        dz *= 0.5
        dz[:, 0] -= y
        dz *= 1.0 / n
        return loss

    def loss(self, z: np.ndarray, y: np.ndarray) -> float:
        z0 = z[:, 0]
        return float(np.mean(_softplus(z0) - y * z0, dtype=np.float64))

    def output(self, z: np.ndarray) -> np.ndarray:
        return 0.5 * (1 + np.tanh(0.5 * z[:, 0]))


class MeanSquaredError:
    """Regression: identity output, loss = mean over samples and outputs of (z - y)^2."""

    def loss_grad(self, z: np.ndarray, y: np.ndarray, dz: np.ndarray) -> float:
        np.subtract(z, y, out=dz)
        loss = float(np.vdot(dz, dz)) / dz.size
        dz *= 2.0 / dz.size
        return loss

    def loss(self, z: np.ndarray, y: np.ndarray) -> float:
        d = z - y
        return float(np.vdot(d, d)) / d.size

    def output(self, z: np.ndarray) -> np.ndarray:
        return z


class Head(Protocol):
    """What the network asks of its loss head."""

    def loss_grad(self, z: np.ndarray, y: np.ndarray, dz: np.ndarray) -> float:
        """The mean loss; writes d loss / d z into ``dz``."""
        ...

    def loss(self, z: np.ndarray, y: np.ndarray) -> float: ...

    def output(self, z: np.ndarray) -> np.ndarray: ...


HEADS: dict[str, type[Head]] = {
    "multiclass": SoftmaxCrossEntropy,
    "binary": SigmoidBinaryCrossEntropy,
    "regression": MeanSquaredError,
}
