"""hpsearch.nn: a fast, gradient-checked NumPy multi-layer perceptron.

``Network`` is the model (dense layers, activations, dropout, batch norm, an
output head); ``train`` fits it with mini-batch optimizers, schedules and
stopping rules and returns a ``TrainResult``; ``gradient_check`` verifies the
backpropagation. ``MLPClassifier`` / ``MLPRegressor`` wrap them as
scikit-learn estimators; they are imported on first use (PEP 562), so
``import hpsearch.nn`` and the training path (``Network``, ``train``) never
import scikit-learn or SciPy.
"""

from __future__ import annotations

from typing import Any

from hpsearch.nn._activations import ACTIVATIONS
from hpsearch.nn._callbacks import BestTracker, EpochRecord, TargetLoss, TrainResult
from hpsearch.nn._gradcheck import gradient_check, numerical_gradient, relative_error
from hpsearch.nn._init import INITS
from hpsearch.nn._layers import Activation, BatchNorm, Dense, Dropout, Layer
from hpsearch.nn._losses import HEADS, MeanSquaredError, SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy
from hpsearch.nn._network import Network
from hpsearch.nn._optimizers import OPTIMIZERS, SGD, Adam, Momentum, Optimizer, RMSprop, make_optimizer
from hpsearch.nn._schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    ReduceOnPlateau,
    Schedule,
    Step,
    make_schedule,
)
from hpsearch.nn._training import clip_by_global_norm, train

_LAZY = frozenset({"MLPClassifier", "MLPRegressor"})

__all__ = [
    "ACTIVATIONS",
    "HEADS",
    "INITS",
    "OPTIMIZERS",
    "SCHEDULES",
    "Network",
    "train",
    "TrainResult",
    "EpochRecord",
    "gradient_check",
    "numerical_gradient",
    "relative_error",
    "Layer",
    "Dense",
    "Activation",
    "Dropout",
    "BatchNorm",
    "SoftmaxCrossEntropy",
    "SigmoidBinaryCrossEntropy",
    "MeanSquaredError",
    "Optimizer",
    "SGD",
    "Momentum",
    "RMSprop",
    "Adam",
    "make_optimizer",
    "Schedule",
    "Constant",
    "Step",
    "Cosine",
    "ReduceOnPlateau",
    "make_schedule",
    "BestTracker",
    "TargetLoss",
    "clip_by_global_norm",
    "MLPClassifier",
    "MLPRegressor",
]


def __getattr__(name: str) -> Any:
    # The estimators subclass scikit-learn's BaseEstimator: importing them costs
    # scikit-learn and SciPy (about a second), which a trial never needs.
    if name in _LAZY:
        from hpsearch.nn import _estimators

        value = getattr(_estimators, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
