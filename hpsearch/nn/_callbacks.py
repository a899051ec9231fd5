"""Per-epoch bookkeeping for the training loop: records, results, stopping rules.

A callback is any callable taking the finished epoch's :class:`EpochRecord` and
returning True to stop training (Optuna pruning plugs in here). The built-in
stopping rules are small objects of the same shape, so the loop itself only
asks each rule "stop now?" and records the first reason given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hpsearch.nn._network import Network


@dataclass(frozen=True)
class EpochRecord:
    """What happened in one epoch (``epoch`` counts from 1).

    ``train_loss`` is the mean data loss over the epoch's mini-batches (in
    training mode, without the L1/L2 penalty); ``val_loss`` / ``val_metric`` are
    measured after the epoch in inference mode (None without validation data);
    ``seconds`` is the wall time of the epoch including validation.
    """

    epoch: int
    train_loss: float
    val_loss: float | None
    val_metric: float | None
    seconds: float
    learning_rate: float = math.nan


@dataclass
class TrainResult:
    """The outcome of ``train``: never an exception for a diverging run.

    ``stop_reason`` is one of max_epochs, target_loss, time_budget,
    early_stopping, callback, diverged. ``best_epoch`` is the epoch with the best
    validation metric (None without validation data); when early stopping was
    on, the network holds that epoch's weights.
    """

    history: list[EpochRecord] = field(default_factory=list)
    diverged: bool = False
    stop_reason: str = "max_epochs"
    best_epoch: int | None = None
    epochs_run: int = 0
    train_seconds: float = 0.0
    best_val_metric: float | None = None


class BestTracker:
    """Remembers the best validation metric, and (optionally) the weights that got it.

    With ``patience`` it also stops training after that many epochs without an
    improvement; ``restore`` puts the best weights back at the end.
    """

    def __init__(self, net: Network, greater_is_better: bool, patience: int | None, keep_weights: bool) -> None:
        self.net, self.sign = net, 1.0 if greater_is_better else -1.0
        self.patience, self.keep_weights = patience, keep_weights
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.weights: tuple[np.ndarray, np.ndarray] | None = None
        self.waited = 0

    def __call__(self, record: EpochRecord) -> bool:
        value = record.val_metric
        if value is None or not math.isfinite(value):
            self.waited += 1
        elif self.best is None or self.sign * (value - self.best) > 0:
            self.best, self.best_epoch, self.waited = value, record.epoch, 0
            if self.keep_weights:
                self.weights = self.net.get_weights()
        else:
            self.waited += 1
        return self.patience is not None and self.waited >= self.patience

    def restore(self) -> None:
        if self.weights is not None:
            self.net.set_weights(self.weights)


class TargetLoss:
    """Stop once the epoch's training loss reaches ``target``."""

    def __init__(self, target: float) -> None:
        self.target = target

    def __call__(self, record: EpochRecord) -> bool:
        return record.train_loss <= self.target
