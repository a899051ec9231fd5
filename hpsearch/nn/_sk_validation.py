"""Hyperparameter checks for the scikit-learn estimators.

scikit-learn requires ``__init__`` to store its arguments untouched, so every
check happens at the start of ``fit``. Doing them all up front (rather than
letting the network or the training loop trip over a bad value later) means a
typo fails before any data is converted, with one line that names the
parameter, the allowed values and what was given.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from hpsearch.nn._activations import ACTIVATIONS
from hpsearch.nn._init import INITS
from hpsearch.nn._optimizers import OPTIMIZERS
from hpsearch.nn._schedules import SCHEDULES
from hpsearch.nn._validation import check_choice, check_dtype, check_float, check_int

# The core checks, with the allowed values written as the Python literals a
# scikit-learn user types ('adam', 0, None).
_choice = partial(check_choice, literal=True)
_real = partial(check_float, literal=True)


@dataclass(frozen=True)
class Hyper:
    """The estimator's parameters after validation, in the types the core expects."""

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


def _fail(name: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"{name}: expected {expected}; got {value!r}")


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(name, "True or False", value)
    return bool(value)


def _hidden(value: Any) -> tuple[int, ...]:
    """An int (one layer) or a sequence of positive ints; empty means no hidden layer."""
    layers = (value,) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    try:
        layers = tuple(layers)
    except TypeError:
        raise _fail("hidden_layer_sizes", "a sequence of positive integers such as (100,)", value) from None
    if any(isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 1 for n in layers):
        raise _fail("hidden_layer_sizes", "a sequence of positive integers such as (100,)", value)
    return tuple(int(n) for n in layers)


def validate_hyperparameters(params: dict[str, Any]) -> Hyper:
    """Check every hyperparameter of an MLP estimator (``get_params(deep=False)``)."""
    p = params
    return Hyper(
        hidden=_hidden(p["hidden_layer_sizes"]),
        activation=_choice("activation", p["activation"], ACTIVATIONS),
        optimizer=_choice("optimizer", p["optimizer"], OPTIMIZERS),
        learning_rate=_real("learning_rate", p["learning_rate"], low_open=True, high_open=True),
        momentum=_real("momentum", p["momentum"], high=1.0, high_open=True),
        batch_size=check_int("batch_size", p["batch_size"]),
        max_epochs=check_int("max_epochs", p["max_epochs"]),
        schedule=_choice("schedule", p["schedule"], SCHEDULES),
        dropout=_real("dropout", p["dropout"], high=1.0, high_open=True),
        batch_norm=_bool("batch_norm", p["batch_norm"]),
        init=_choice("init", p["init"], INITS),
        weight_decay=_real("weight_decay", p["weight_decay"], high_open=True),
        l1=_real("l1", p["l1"], high_open=True),
        clip_norm=_real("clip_norm", p["clip_norm"], low_open=True, high_open=True, allow_none=True),
        early_stopping=_bool("early_stopping", p["early_stopping"]),
        patience=check_int("patience", p["patience"]),
        validation_fraction=_real("validation_fraction", p["validation_fraction"], high=1.0,
                                  low_open=True, high_open=True),
        target_loss=_real("target_loss", p["target_loss"], high_open=True, allow_none=True),
        dtype=check_dtype(p["dtype"], literal=True),
        verbose=check_int("verbose", p["verbose"], low=0),
    )


def seed_streams(random_state: Any, n: int) -> list[np.random.Generator]:
    """``n`` independent generators (init, split, training) from one ``random_state``.

    Accepts what scikit-learn users pass: None, an int, a ``RandomState`` or a
    ``Generator``. Independent streams keep, say, the early-stopping split from
    shifting when the network's initialisation draws more numbers.
    """
    if isinstance(random_state, np.random.RandomState):
        random_state = int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return [np.random.default_rng(s) for s in random_state.integers(2**63, size=n)]
    if random_state is not None and (
        isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral)
    ):
        raise _fail("random_state", "None, an int, a numpy RandomState or Generator", random_state)
    if random_state is not None and random_state < 0:
        raise _fail("random_state", "None or a non-negative int seed", random_state)
    return [np.random.default_rng(s) for s in np.random.SeedSequence(random_state).spawn(n)]
