"""The multi-layer perceptron: a stack of layers plus an output head.

All trainable parameters live in ONE flat vector (``net.params``) with a
matching gradient vector (``net.grads``); layers see views into it. Weights
come first, so ``params[:n_decayed]`` is exactly what L2/L1 penalties and
AdamW's decay touch (never biases or batch-norm scales). Optimizers, gradient
clipping and best-weight snapshots are then single vectorised operations.
Batch-norm running statistics live in a second flat vector, ``net.state``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from hpsearch.nn._activations import ACTIVATIONS
from hpsearch.nn._blas import VectorOps
from hpsearch.nn._init import INITS, init_weight
from hpsearch.nn._layers import Activation, BatchNorm, Dense, Dropout, Layer
from hpsearch.nn._losses import HEADS
from hpsearch.nn._validation import (
    TASKS,
    as_generator,
    check_choice,
    check_dtype,
    check_int,
    check_param,
    check_X,
    check_y,
)

PREDICT_CHUNK = 16384


Entry = tuple[Any, ...]  # (layer, name, shape, initial value, [decayed])


def _views(flat: np.ndarray, entries: Sequence[Entry]) -> defaultdict[Layer, dict[str, np.ndarray]]:
    """Per-layer views into ``flat`` for (layer, name, shape, ...) entries, laid out one after another."""
    views: defaultdict[Layer, dict[str, np.ndarray]] = defaultdict(dict)
    offset = 0
    for layer, name, shape, *_ in entries:
        size = int(np.prod(shape))
        views[layer][name] = flat[offset : offset + size].reshape(shape)
        offset += size
    return views


def _carve(entries: Sequence[Entry], dtype: DTypeLike) -> np.ndarray:
    """One flat array holding the initial values of (layer, name, shape, initial value, ...) entries."""
    flat = np.empty(sum(int(np.prod(e[2])) for e in entries), dtype)
    views = _views(flat, entries)
    for layer, name, _, value, *_ in entries:
        views[layer][name][...] = value
    return flat


class Network:
    """A dense feed-forward network: [Dense -> (BatchNorm) -> act -> (Dropout)] * depth -> Dense -> head.

    ``task`` picks the head: ``multiclass`` (softmax + cross-entropy, ``n_outputs``
    classes), ``binary`` (one sigmoid unit + binary cross-entropy; ``n_outputs``
    may be 1 or 2, both mean one logit) or ``regression`` (identity + MSE). With
    ``hidden=()`` a binary network is logistic regression.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int],
        n_outputs: int,
        *,
        task: str,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        init: str = "auto",
        dtype: Any = np.float32,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.task = check_choice("task", task, TASKS)
        self.n_inputs = check_int("n_inputs", n_inputs)
        try:
            hidden = tuple(check_int("hidden", h) for h in hidden)
        except TypeError:
            raise ValueError(f"hidden: expected a sequence of positive layer widths; got {hidden!r}") from None
        self.hidden = hidden
        low = 2 if task == "multiclass" else 1
        self.n_outputs = check_int("n_outputs", n_outputs, low=low)
        if task == "binary" and self.n_outputs > 2:
            raise ValueError(f"n_outputs: expected 1 or 2 for task='binary'; got {n_outputs}")
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.dropout = check_param("dropout", dropout)
        if not isinstance(batch_norm, (bool, np.bool_)):
            raise ValueError(f"batch_norm: expected True or False; got {batch_norm!r}")
        self.batch_norm = bool(batch_norm)
        self.init = check_choice("init", init, INITS)
        self.dtype = check_dtype(dtype)
        scheme = "glorot" if init == "auto" else init  # measured: see _init
        rng = as_generator(random_state)
        self.layers = self._build(scheme, rng)
        self.head = HEADS[task]()
        self._pack()

    # -- construction -----------------------------------------------------------
    def _build(self, scheme: str, rng: np.random.Generator) -> list[Layer]:
        layers: list[Layer] = []
        width = self.n_inputs
        for h in self.hidden:
            layers.append(Dense(width, h, init_weight(rng, width, h, scheme), bias=not self.batch_norm))
            if self.batch_norm:  # BN's beta makes the dense bias redundant
                layers.append(BatchNorm(h))
            layers.append(Activation(self.activation, h))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout, h))
            width = h
        n_logits = 1 if self.task == "binary" else self.n_outputs
        layers.append(Dense(width, n_logits, init_weight(rng, width, n_logits, scheme)))
        return layers

    def _layout(self) -> tuple[list[Entry], list[Entry]]:
        """(parameter entries, weights first; state entries): the order of the flat vectors."""
        params = [
            (layer, name, shape, value, decayed)
            for layer in self.layers
            for name, (shape, decayed, value) in layer.params.items()
        ]
        params.sort(key=lambda e: not e[4])  # decayed weights first; the sort is stable
        states = [(layer, name, shape, value) for layer in self.layers for name, (shape, value) in layer.state.items()]
        return params, states

    def _pack(self) -> None:
        """Lay all parameters out in one flat vector (weights first), then bind views to the layers."""
        params, states = self._layout()
        self.n_decayed = sum(int(np.prod(e[2])) for e in params if e[4])
        self.params = _carve(params, self.dtype)
        self.grads = _carve([e[:3] + (0.0,) for e in params], self.dtype)
        self.state = _carve(states, self.dtype)
        self._l1_grad: np.ndarray = np.empty(
            self.n_decayed, self.dtype
        )  # sign(W) buffer: L1 allocates nothing per batch
        self._ops = VectorOps(self.dtype)
        self._bind(params, states)

    def _bind(self, params: list[Entry], states: list[Entry]) -> None:
        """Point every layer's parameters, gradients and state at views into the flat vectors."""
        param_views, grad_views = _views(self.params, params), _views(self.grads, params)
        state_views = _views(self.state, states)
        for layer in self.layers:
            layer.bind(param_views[layer], grad_views[layer], state_views[layer])
        self._weights, self._weight_grads = self.params[: self.n_decayed], self.grads[: self.n_decayed]

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickle and deepcopy store views as separate arrays: point the layers back into the flat vectors,
        # or training a loaded network would update params that no layer reads
        self.__dict__.update(state)
        self._bind(*self._layout())

    # -- passes -----------------------------------------------------------------
    @property
    def n_logits(self) -> int:
        """Width of the last layer: 1 for a binary task (one logit), else n_outputs."""
        return 1 if self.task == "binary" else self.n_outputs

    @property
    def n_parameters(self) -> int:
        """Number of trainable scalars (weights, biases, batch-norm scales and shifts)."""
        return int(self.params.size)

    def forward(self, X: np.ndarray, *, training: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """Logits for ``X`` (already validated, in ``self.dtype``)."""
        out = X
        for layer in self.layers:
            out = layer.forward(out, training, rng)
        return out

    def backward(self, dlogits: np.ndarray) -> None:
        """Backpropagate dL/dlogits, filling ``self.grads`` (the input gradient is skipped)."""
        grad, layers = dlogits, self.layers
        for i in range(len(layers) - 1, 0, -1):
            grad = cast(np.ndarray, layers[i].backward(grad, need_dx=True))  # a layer below reads it
        layers[0].backward(grad, need_dx=False)

    def loss_grad(
        self,
        X: np.ndarray,
        y: np.ndarray,
        dlogits: np.ndarray,
        *,
        rng: np.random.Generator | None = None,
        weight_decay: float = 0.0,
        l1: float = 0.0,
    ) -> float:
        """One training step's maths: data loss (returned) and the gradient of
        loss + weight_decay/2 ||W||^2 + l1 ||W||_1 (written into ``self.grads``).

        ``dlogits`` is a caller-owned (n, n_logits) buffer, reused across batches.
        """
        z = self.forward(X, training=True, rng=rng)
        loss = self.head.loss_grad(z, y, dlogits)
        self.backward(dlogits)
        if weight_decay or l1:
            w, gw = self._weights, self._weight_grads
            if weight_decay:
                self._ops.axpy(weight_decay, w, gw)
            if l1:
                np.sign(w, out=self._l1_grad)
                self._ops.axpy(l1, self._l1_grad, gw)
        return loss

    def penalty(self, weight_decay: float = 0.0, l1: float = 0.0) -> float:
        """weight_decay/2 ||W||^2 + l1 ||W||_1 over the weights (not biases)."""
        w = self.params[: self.n_decayed].astype(np.float64)
        return 0.5 * weight_decay * float(w @ w) + l1 * float(np.abs(w).sum())

    def predict(self, X: Any) -> np.ndarray:
        """Inference-mode outputs: class probabilities (n, K), P(y=1) (n,), or values (n, k)."""
        X = check_X(X, self.n_inputs, self.dtype)
        # in chunks, so a million-row X does not need a million-row buffer per layer
        chunks = [self.head.output(self.forward(X[i : i + PREDICT_CHUNK])) for i in range(0, len(X), PREDICT_CHUNK)]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def loss(self, X: Any, y: Any) -> float:
        """Mean data loss in inference mode (no dropout, batch-norm running statistics)."""
        X = check_X(X, self.n_inputs, self.dtype)
        y = check_y(y, X.shape[0], self.task, self.n_outputs, self.dtype)
        return self.head.loss(self.forward(X), y)

    # -- copies -----------------------------------------------------------------
    def get_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """A snapshot (parameters, batch-norm state) for ``set_weights``."""
        return self.params.copy(), self.state.copy()

    def set_weights(self, weights: tuple[np.ndarray, np.ndarray]) -> None:
        params, state = weights
        np.copyto(self.params, params)
        np.copyto(self.state, state)

    def astype(self, dtype: Any) -> Network:
        """A copy of this network with parameters cast to ``dtype``."""
        net = Network(
            self.n_inputs,
            self.hidden,
            self.n_outputs,
            task=self.task,
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            init=self.init,
            dtype=dtype,
            random_state=0,
        )
        net.set_weights(self.get_weights())
        return net

    def __repr__(self) -> str:
        return (
            f"Network({self.n_inputs}, {self.hidden}, {self.n_outputs}, task={self.task!r}, "
            f"activation={self.activation!r}, dropout={self.dropout}, batch_norm={self.batch_norm}, "
            f"dtype={np.dtype(self.dtype).name}, n_parameters={self.n_parameters})"
        )
