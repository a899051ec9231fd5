"""Learning-rate schedules, evaluated once per epoch.

A schedule answers ``lr(epoch)`` (epoch counts from 0) and may listen to the
monitored loss through ``observe(value)`` (only reduce-on-plateau does).
Pass a name to ``train`` for the defaults below, or an instance to tune them.
"""

from __future__ import annotations

import math

from hpsearch.nn._validation import check_choice, check_float, check_int


class Schedule:
    def __init__(self, base_lr: float) -> None:
        self.base_lr = base_lr

    def lr(self, epoch: int) -> float:
        return self.base_lr

    def observe(self, value: float) -> None:
        """The epoch's monitored loss (validation loss when there is one)."""


class Constant(Schedule):
    """The same learning rate throughout."""


class Step(Schedule):
    """Multiply by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, base_lr: float, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(base_lr)
        self.step_size = check_int("step_size", step_size)
        self.gamma = check_float("gamma", gamma, low=0.0, high=1.0, low_open=True)

    def lr(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class Cosine(Schedule):
    """Half a cosine from base_lr down to ``min_lr`` over ``total_epochs`` (Loshchilov & Hutter)."""

    def __init__(self, base_lr: float, total_epochs: int, min_lr: float = 0.0) -> None:
        super().__init__(base_lr)
        self.total = check_int("total_epochs", total_epochs)
        self.min_lr = check_float("min_lr", min_lr)

    def lr(self, epoch: int) -> float:
        frac = min(epoch, self.total) / self.total
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * frac))


class ReduceOnPlateau(Schedule):
    """Multiply by ``factor`` when the monitored loss has not improved for ``patience`` epochs."""

    def __init__(
        self, base_lr: float, factor: float = 0.5, patience: int = 3, min_lr: float = 1e-6, threshold: float = 1e-4
    ) -> None:
        super().__init__(base_lr)
        self.factor = check_float("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, low=0)
        self.min_lr, self.threshold = min_lr, threshold
        self.current, self.best, self.bad = base_lr, math.inf, 0

    def lr(self, epoch: int) -> float:
        return self.current

    def observe(self, value: float) -> None:
        if self.best == math.inf or value < self.best - self.threshold * abs(self.best):
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.current, self.bad = max(self.current * self.factor, self.min_lr), 0


SCHEDULES = ("constant", "step", "cosine", "plateau")


def make_schedule(schedule: str | Schedule, learning_rate: float, max_epochs: int) -> Schedule:
    """A schedule from its name (defaults: step x0.1 every max_epochs//3 epochs; cosine to 0
    over max_epochs; plateau x0.5 after 3 epochs without improvement), or the instance itself."""
    if isinstance(schedule, Schedule):
        return schedule
    check_choice("schedule", schedule, SCHEDULES)
    if schedule == "step":
        return Step(learning_rate, max(1, max_epochs // 3))
    if schedule == "cosine":
        return Cosine(learning_rate, max_epochs)
    if schedule == "plateau":
        return ReduceOnPlateau(learning_rate)
    return Constant(learning_rate)
