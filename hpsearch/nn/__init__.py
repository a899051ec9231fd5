"""hpsearch.nn: a fast, gradient-checked NumPy multi-layer perceptron.

``Network`` is the model (dense layers, activations, dropout, batch norm, an
output head); ``train`` fits it with mini-batch optimizers, schedules and
stopping rules and returns a ``TrainResult``; ``gradient_check`` verifies the
backpropagation. ``MLPClassifier`` / ``MLPRegressor`` wrap them as
scikit-learn estimators.
"""

from __future__ import annotations

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

from hpsearch.nn._estimators import MLPClassifier, MLPRegressor

__all__ = [
    "ACTIVATIONS", "HEADS", "INITS", "OPTIMIZERS", "SCHEDULES",
    "Network", "train", "TrainResult", "EpochRecord", "gradient_check", "numerical_gradient", "relative_error",
    "Layer", "Dense", "Activation", "Dropout", "BatchNorm",
    "SoftmaxCrossEntropy", "SigmoidBinaryCrossEntropy", "MeanSquaredError",
    "Optimizer", "SGD", "Momentum", "RMSprop", "Adam", "make_optimizer",
    "Schedule", "Constant", "Step", "Cosine", "ReduceOnPlateau", "make_schedule",
    "BestTracker", "TargetLoss", "clip_by_global_norm",
    "MLPClassifier", "MLPRegressor",
]
