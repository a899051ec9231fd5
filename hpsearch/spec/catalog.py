"""What the built-in objectives know: metrics, datasets and hyperparameters.

This is pure data, shared by the spec validator (which must reject
``metric = "r2"`` on a classification dataset *before* anything runs) and by
``objectives`` (which computes the metrics). Keeping one table means the two
can never disagree about a metric's direction or a hyperparameter's domain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# metric -> (direction, task it applies to)
METRICS: dict[str, tuple[str, str]] = {
    "accuracy": ("maximize", "classification"),
    "balanced_accuracy": ("maximize", "classification"),
    "f1": ("maximize", "classification"),
    "log_loss": ("minimize", "classification"),
    "roc_auc": ("maximize", "classification"),
    "r2": ("maximize", "regression"),
    "rmse": ("minimize", "regression"),
    "mae": ("minimize", "regression"),
}
BINARY_ONLY_METRICS = frozenset({"roc_auc"})
# What a trial of the built-in objectives costs, measured on every trial (all minimised): objectives
# (``objectives = ["accuracy", "train_seconds"]``) and [constraints] may name them next to METRICS.
COST_METRICS: dict[str, str] = {
    "train_seconds": "seconds the training took",
    "n_params": "trainable parameters of the network",
    "predict_ms_per_1k": "milliseconds to predict 1,000 rows (best of a few timings on the validation split)",
}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}

# dataset -> (task, number of classes or None when unknown before loading, allowed options)
_FILE_OPTIONS = ("path", "target")
DATASETS: dict[str, tuple[str | None, int | None, tuple[str, ...]]] = {
    "digits": ("classification", 10, ()),
    "breast_cancer": ("classification", 2, ()),
    "wine": ("classification", 3, ()),
    "iris": ("classification", 3, ()),
    "diabetes": ("regression", None, ()),
    "moons": ("classification", 2, ("n_samples", "noise")),
    "make_classification": (
        "classification",
        None,
        ("n_samples", "n_features", "n_informative", "n_classes", "class_sep"),
    ),
    "csv": (None, None, _FILE_OPTIONS + ("task", "drop", "categorical")),
    "text": ("classification", 2, ("n_samples", "noise") + _FILE_OPTIONS + ("text_column",)),
}

BUILTIN_OBJECTIVES = ("mlp", "text")
EXTERNAL_OBJECTIVE = "external"


@dataclass(frozen=True)
class Setting:
    """One hyperparameter a built-in objective understands.

    ``kind`` is float, int, bool or choice; ``low``/``high`` bound numbers
    (``low_open``: the bound itself is not allowed); ``choices`` lists the
    legal values of a choice.
    """

    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    doc: str = ""

    def describe(self) -> str:
        """The domain in words, for "expected ..." messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        noun = "an integer" if self.kind == "int" else "a number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return noun + (" " + " and ".join(parts) if parts else "")

    def accepts(self, value: Any) -> bool:
        """Whether a single (fixed or grid/choice) value lies in the domain."""
        if self.kind == "choice":
            return any(value == c and type(value) is type(c) for c in self.choices)
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        return self.in_range(float(value))

    def in_range(self, x: float) -> bool:
        if not math.isfinite(x):  # no setting is infinite (hpsearch.nn's limits say the same)
            return False
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        if self.high is not None and (x > self.high or (self.high_open and x == self.high)):
            return False
        return True


# hpsearch.nn owns these names and the numeric limits below (hpsearch/nn/_validation.py,
# REAL_LIMITS and INT_LIMITS). They are repeated here, not imported, so that validating a
# spec stays a 0.2 s import (no NumPy, no scikit-learn: importing hpsearch.nn costs about
# 0.8 s more); tests/test_spec.py keeps the copies equal. Where a setting says "0 = off",
# the spec also accepts 0 and the objective passes None to hpsearch.nn.
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "gelu")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
INITS = ("auto", "he", "glorot")
SCHEDULES = ("constant", "step", "cosine", "plateau")

MLP_HYPERPARAMETERS: dict[str, Setting] = {
    "max_epochs": Setting("int", 50, low=1, doc="passes over the training split"),
    "batch_size": Setting("int", 64, low=1),
    "patience": Setting("int", 8, low=0, doc="early stopping on the validation metric; 0 = off"),
    "activation": Setting("choice", "relu", choices=ACTIVATIONS),
    "optimizer": Setting("choice", "adam", choices=OPTIMIZERS),
    "learning_rate": Setting("float", 1e-3, low=0, low_open=True),
    "momentum": Setting("float", 0.9, low=0, high=1, high_open=True),
    "weight_decay": Setting("float", 0.0, low=0),
    "l1": Setting("float", 0.0, low=0),
    "clip_norm": Setting("float", 0.0, low=0, doc="gradient norm clipping; 0 = off"),
    "depth": Setting("int", 1, low=0, high=16, doc="hidden layers; 0 = a linear model"),
    "width": Setting("int", 64, low=1, high=8192, doc="units per hidden layer"),
    "dropout": Setting("float", 0.0, low=0, high=1, high_open=True),
    "batch_norm": Setting("bool", False),
    "init": Setting("choice", "auto", choices=INITS),
    "schedule": Setting("choice", "constant", choices=SCHEDULES),
    "dtype": Setting("choice", "float32", choices=("float32", "float64")),
    "time_budget": Setting("float", 0.0, low=0, doc="seconds per trial; 0 = unlimited"),
}

TEXT_HYPERPARAMETERS: dict[str, Setting] = {
    **MLP_HYPERPARAMETERS,
    "depth": Setting("int", 0, low=0, high=16, doc="0 = logistic regression on bag-of-words"),
    "vocab_size": Setting("int", 2000, low=2, doc="most frequent tokens kept"),
    "min_count": Setting("int", 1, low=1, doc="tokens seen fewer times are dropped"),
    "ngram": Setting("int", 1, low=1, high=3, doc="1 = words, 2 = words and bigrams"),
    "features": Setting("choice", "binary", choices=("binary", "count", "tfidf")),
}


def hyperparameters(objective: str) -> dict[str, Setting] | None:
    """The hyperparameters a built-in objective knows; None for user/external ones."""
    if objective == "mlp":
        return MLP_HYPERPARAMETERS
    if objective == "text":
        return TEXT_HYPERPARAMETERS
    return None


def metric_direction(metric: str) -> str | None:
    """Direction of a known metric (a cost metric is minimised), else None."""
    if metric in COST_METRICS:
        return "minimize"
    known = METRICS.get(metric)
    return known[0] if known else None
