"""Pruners: none, median, hyperband (epochs are the resource)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import optuna

if TYPE_CHECKING:
    from hpsearch.spec import Spec

PRUNERS = ("none", "median", "hyperband")


def max_epochs(spec: Spec) -> int:
    """The largest number of epochs a trial can train (searched or fixed)."""
    searched = (spec.space or {}).get("max_epochs")
    high = getattr(searched, "high", None)
    if high is not None:
        return int(high)
    return int((spec.training or {}).get("max_epochs", 50))


def make_pruner(spec: Spec) -> optuna.pruners.BasePruner:
    """The pruner named by ``spec.study.pruner``; trials report once per epoch."""
    kind = getattr(spec.study, "pruner", "none") or "none"
    if kind == "none":
        return optuna.pruners.NopPruner()
    if kind == "median":
        # Judge only after a few complete trials and a few epochs: early epochs are noisy.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs(spec), 1), reduction_factor=3)
    raise ValueError(f"unknown pruner {kind!r}; expected one of {PRUNERS}")
