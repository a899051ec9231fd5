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
from typing import Any

import numpy as np

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "gelu")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "plateau")
INITS = ("auto", "he", "glorot")


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


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _fail(name, "one of " + ", ".join(repr(a) for a in allowed), value)
    return value


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise _fail(name, f"an integer >= {low}", value)
    return int(value)


def _real(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
          high_open: bool = False, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        v = float(value)
        ok = bool(np.isfinite(v)) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        expected = f"a number in {interval}" + (" or None" if allow_none else "")
        raise _fail(name, expected, value)
    return float(value)


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


def _dtype(value: Any) -> type:
    try:
        dt = np.dtype(value).type
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise _fail("dtype", "one of 'float32', 'float64'", value)
    return dt


def validate_hyperparameters(params: dict[str, Any]) -> Hyper:
    """Check every hyperparameter of an MLP estimator (``get_params(deep=False)``)."""
    p = params
    return Hyper(
        hidden=_hidden(p["hidden_layer_sizes"]),
        activation=_choice("activation", p["activation"], ACTIVATIONS),
        optimizer=_choice("optimizer", p["optimizer"], OPTIMIZERS),
        learning_rate=_real("learning_rate", p["learning_rate"], 0.0, np.inf, low_open=True, high_open=True),
        momentum=_real("momentum", p["momentum"], 0.0, 1.0, high_open=True),
        batch_size=_int("batch_size", p["batch_size"], 1),
        max_epochs=_int("max_epochs", p["max_epochs"], 1),
        schedule=_choice("schedule", p["schedule"], SCHEDULES),
        dropout=_real("dropout", p["dropout"], 0.0, 1.0, high_open=True),
        batch_norm=_bool("batch_norm", p["batch_norm"]),
        init=_choice("init", p["init"], INITS),
        weight_decay=_real("weight_decay", p["weight_decay"], 0.0, np.inf, high_open=True),
        l1=_real("l1", p["l1"], 0.0, np.inf, high_open=True),
        clip_norm=_real("clip_norm", p["clip_norm"], 0.0, np.inf, low_open=True, high_open=True,
                        allow_none=True),
        early_stopping=_bool("early_stopping", p["early_stopping"]),
        patience=_int("patience", p["patience"], 1),
        validation_fraction=_real("validation_fraction", p["validation_fraction"], 0.0, 1.0,
                                  low_open=True, high_open=True),
        target_loss=_real("target_loss", p["target_loss"], 0.0, np.inf, high_open=True, allow_none=True),
        dtype=_dtype(p["dtype"]),
        verbose=_int("verbose", p["verbose"], 0),
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
