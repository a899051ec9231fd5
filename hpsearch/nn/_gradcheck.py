"""Gradient checking: hand-written backprop against central differences in float64.

``gradient_check`` perturbs every parameter (or a random subset) by +-eps,
re-evaluates the training loss, and compares (L(p+eps) - L(p-eps)) / 2eps with
the analytic gradient. Dropout draws the same mask on every evaluation (the
Generator is re-seeded each time), so the loss is a smooth function of the
parameters and the check is exact up to O(eps^2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hpsearch.nn._network import Network
from hpsearch.nn._validation import check_X, check_y


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / max(||a|| + ||n||, tiny): scale-free, 0 when both vanish."""
    diff = float(np.linalg.norm(analytic - numeric))
    scale = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    return diff / scale if scale > 1e-300 else 0.0


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, eps: float = 1e-6, index: np.ndarray | None = None
) -> np.ndarray:
    """Central differences of ``f()`` with respect to the entries ``index`` of ``x`` (modified in place)."""
    flat = x.reshape(-1)
    index = np.arange(flat.size) if index is None else index
    grad = np.empty(len(index))
    for j, i in enumerate(index):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad[j] = (plus - minus) / (2 * eps)
    return grad


def gradient_check(
    net: Network,
    X: Any,
    y: Any,
    *,
    weight_decay: float = 0.0,
    l1: float = 0.0,
    eps: float = 1e-6,
    max_checks: int | None = None,
    seed: int = 0,
) -> float:
    """Largest relative error between backprop and central differences, per parameter block.

    The check runs on a float64 copy of ``net`` (the original is untouched), in
    training mode (dropout with a fixed mask, batch-norm batch statistics), on
    the loss plus the L2/L1 penalty. ``max_checks`` samples that many
    parameters at random (all when None). A correct implementation gives
    ~1e-9; anything above 1e-6 deserves suspicion.
    """
    net = net.astype(np.float64)
    X = check_X(X, net.n_inputs, np.float64)
    y = check_y(y, X.shape[0], net.task, net.n_outputs, np.float64)
    dlogits = np.empty((X.shape[0], net.n_logits))

    def objective() -> float:
        z = net.forward(X, training=True, rng=np.random.default_rng(seed))
        return net.head.loss(z, y) + net.penalty(weight_decay, l1)

    net.loss_grad(X, y, dlogits, rng=np.random.default_rng(seed), weight_decay=weight_decay, l1=l1)
    analytic = net.grads.copy()
    index = np.arange(net.params.size)
    if max_checks is not None and max_checks < index.size:
        index = np.sort(np.random.default_rng(seed).choice(index.size, max_checks, replace=False))
    numeric = numerical_gradient(objective, net.params, eps, index)
    # Compare block by block (each layer's weights, biases, ...) so a small
    # block's error is not hidden by a large one's norm.
    worst, offset = 0.0, 0
    for size in _block_sizes(net):
        sel = (index >= offset) & (index < offset + size)
        if sel.any():
            worst = max(worst, relative_error(analytic[index[sel]], numeric[sel]))
        offset += size
    return worst


def _block_sizes(net: Network) -> list[int]:
    views = [v for layer in net.layers for v in layer.p.values()]
    views.sort(key=lambda v: v.ctypes.data)
    return [v.size for v in views]
