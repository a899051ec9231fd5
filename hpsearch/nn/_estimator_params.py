"""The scikit-learn estimators' parameters, validated up front.

scikit-learn requires ``__init__`` to store its arguments untouched, so every
check happens at the start of ``fit``, all at once: a typo fails before any
data is converted, with one line that names the parameter, the allowed values
(as the Python literals a scikit-learn user types: 'adam', 0, None) and what
was given. The limits are the core's (``_validation.REAL_LIMITS``,
``INT_LIMITS``). Apart from ``_validation`` because it reads the optimizer,
schedule, activation and init registries, whose modules use those checks.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpsearch.nn._activations import ACTIVATIONS
from hpsearch.nn._init import INITS
from hpsearch.nn._optimizers import OPTIMIZERS
from hpsearch.nn._schedules import SCHEDULES
from hpsearch.nn._validation import check_choice, check_dtype, check_param, invalid


@dataclass(frozen=True)
class EstimatorParams:
    """An MLP estimator's parameters after validation, in the types the core expects."""

    hidden: tuple[int, ...]
    activation: str
    optimizer: str
    learning_rate: float
    momentum: float
    batch_size: int
    max_epochs: int
    schedule: str
    dropout: float
    batch_norm: bool
    init: str
    weight_decay: float
    l1: float
    clip_norm: float | None
    early_stopping: bool
    patience: int
    validation_fraction: float
    target_loss: float | None
    dtype: type
    verbose: int


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise invalid(name, "True or False", value)
    return bool(value)


def _hidden(value: Any) -> tuple[int, ...]:
    """An int (one layer) or a sequence of positive ints; empty means no hidden layer."""
    layers = (value,) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    try:
        layers = tuple(layers)
    except TypeError:
        raise invalid("hidden_layer_sizes", "a sequence of positive integers such as (100,)", value) from None
    if any(isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 1 for n in layers):
        raise invalid("hidden_layer_sizes", "a sequence of positive integers such as (100,)", value)
    return tuple(int(n) for n in layers)


def validate_estimator_params(p: dict[str, Any]) -> EstimatorParams:
    """Check every parameter of an MLP estimator (``get_params(deep=False)``)."""

    def real(name: str, allow_none: bool = False) -> Any:
        return check_param(name, p[name], allow_none=allow_none, literal=True)

    return EstimatorParams(
        hidden=_hidden(p["hidden_layer_sizes"]),
        activation=check_choice("activation", p["activation"], ACTIVATIONS, literal=True),
        optimizer=check_choice("optimizer", p["optimizer"], OPTIMIZERS, literal=True),
        learning_rate=real("learning_rate"),
        momentum=real("momentum"),
        batch_size=check_param("batch_size", p["batch_size"]),
        max_epochs=check_param("max_epochs", p["max_epochs"]),
        schedule=check_choice("schedule", p["schedule"], SCHEDULES, literal=True),
        dropout=real("dropout"),
        batch_norm=_bool("batch_norm", p["batch_norm"]),
        init=check_choice("init", p["init"], INITS, literal=True),
        weight_decay=real("weight_decay"),
        l1=real("l1"),
        clip_norm=real("clip_norm", allow_none=True),
        early_stopping=_bool("early_stopping", p["early_stopping"]),
        patience=check_param("patience", p["patience"]),
        validation_fraction=real("validation_fraction"),
        target_loss=real("target_loss", allow_none=True),
        dtype=check_dtype(p["dtype"], literal=True),
        verbose=check_param("verbose", p["verbose"]),
    )
