"""Input checks shared by the network and the training loop.

Every check raises ``ValueError`` naming the parameter and what is allowed, so a
bad configuration fails at once with one readable line instead of deep inside
NumPy (``hpsearch.nn`` imports nothing from the rest of hpsearch, so the CLI
translates these into its own ``UserError``). With ``literal=True`` the allowed
values are written the way a Python caller types them ('adam', 0, None): the
scikit-learn estimators use that, their users pass Python values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

TASKS = ("multiclass", "binary", "regression")
DTYPES = (np.float32, np.float64)


@dataclass(frozen=True)
class Interval:
    """Where a real hyperparameter may lie: [low, high], either end open."""

    low: float = 0.0
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True  # an infinite value is never a setting


#: The one set of limits for the training hyperparameters, read by train(), Network, the
#: optimizers and the scikit-learn estimators. hpsearch/spec/catalog.py repeats them, NumPy-free,
#: and tests/test_spec.py keeps the copies equal (the spec adds "0 = off" where it says so).
#: A learning rate has no upper limit: too large a one makes training diverge, a result
#: (``TrainResult.diverged``), not an input error.
REAL_LIMITS: dict[str, Interval] = {
    "learning_rate": Interval(low_open=True),
    "momentum": Interval(high=1.0),
    "dropout": Interval(high=1.0),
    "weight_decay": Interval(),
    "l1": Interval(),
    "clip_norm": Interval(low_open=True),
    "target_loss": Interval(),
    "time_budget": Interval(low_open=True),
    "validation_fraction": Interval(high=1.0, low_open=True),
}
#: Integer hyperparameters: the least value allowed.
INT_LIMITS: dict[str, int] = {"batch_size": 1, "max_epochs": 1, "patience": 1, "verbose": 0}


def check_param(name: str, value: Any, *, allow_none: bool = False, literal: bool = False) -> Any:
    """A training hyperparameter checked against its limits (REAL_LIMITS or INT_LIMITS)."""
    if name in INT_LIMITS:
        return check_int(name, value, low=INT_LIMITS[name], allow_none=allow_none)
    r = REAL_LIMITS[name]
    return check_float(
        name,
        value,
        low=r.low,
        high=r.high,
        low_open=r.low_open,
        high_open=r.high_open,
        allow_none=allow_none,
        literal=literal,
    )


def _one_of(allowed: tuple[str, ...], literal: bool) -> str:
    return "one of " + ", ".join(repr(a) if literal else a for a in allowed)


def check_choice(name: str, value: Any, allowed: Iterable[str], *, literal: bool = False) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise listing them."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}: expected {_one_of(allowed, literal)}; got {value!r}")
    return value


@overload
def check_int(name: str, value: Any, *, low: int = 1, allow_none: Literal[False] = False) -> int: ...
@overload
def check_int(name: str, value: Any, *, low: int = 1, allow_none: bool) -> int | None: ...
def check_int(name: str, value: Any, *, low: int = 1, allow_none: bool = False) -> int | None:
    """An integer >= ``low`` (bools are rejected: ``True`` is not a batch size)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}; got {value!r}")
    return int(value)


@overload
def check_float(
    name: str,
    value: Any,
    *,
    low: float = ...,
    high: float = ...,
    low_open: bool = ...,
    high_open: bool = ...,
    allow_none: Literal[False] = False,
    literal: bool = ...,
) -> float: ...
@overload
def check_float(
    name: str,
    value: Any,
    *,
    low: float = ...,
    high: float = ...,
    low_open: bool = ...,
    high_open: bool = ...,
    allow_none: bool,
    literal: bool = ...,
) -> float | None: ...
def check_float(
    name: str,
    value: Any,
    *,
    low: float = 0.0,
    high: float = np.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
    literal: bool = False,
) -> float | None:
    """A finite real number in the given interval (any ``numbers.Real`` but a bool)."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = np.isfinite(v) or (v == high == np.inf)
        ok = ok and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lb = "(" if low_open else "["
        rb = ")" if high_open else "]"
        bounds = f"{low:g}, {high:g}" if literal else f"{low}, {high}"
        none = " or None" if literal and allow_none else ""
        raise ValueError(f"{name}: expected a number in {lb}{bounds}{rb}{none}; got {value!r}")
    return float(value)


def check_dtype(dtype: Any, *, literal: bool = False) -> type:
    """float32 (fast default) or float64 (for gradient checks and paranoia)."""
    try:
        dt = np.dtype(dtype).type
    except TypeError:
        dt = None
    if dt not in DTYPES:
        raise ValueError(f"dtype: expected {_one_of(tuple(t.__name__ for t in DTYPES), literal)}; got {dtype!r}")
    return dt


def check_X(X: Any, n_features: int, dtype: type, name: str = "X") -> np.ndarray:
    """A finite 2-D float array with ``n_features`` columns, C-contiguous in ``dtype``."""
    try:
        X = np.ascontiguousarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a numeric 2-D array; {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features); got shape {X.shape}")
    if X.shape[1] != n_features:
        raise ValueError(f"{name}: expected {n_features} features (columns); got {X.shape[1]}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample; got 0 rows")
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or infinity; expected finite values")
    return X


def check_y(y: Any, n_samples: int, task: str, n_outputs: int, dtype: type, name: str = "y") -> np.ndarray:
    """Targets in the form the loss wants: int labels, 0/1 floats, or an (n, k) float matrix."""
    y = np.asarray(y)
    if y.shape[:1] != (n_samples,):
        raise ValueError(f"{name}: expected {n_samples} targets (one per row of X); got shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric targets; got dtype {y.dtype}")
    if not np.isfinite(y).all():
        raise ValueError(f"{name}: contains NaN or infinity; expected finite values")
    if task == "regression":
        y = y.reshape(n_samples, -1) if y.ndim == 1 else y
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(f"{name}: expected shape ({n_samples}, {n_outputs}) for regression; got {y.shape}")
        return np.ascontiguousarray(y, dtype=dtype)
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class labels for task={task!r}; got shape {y.shape}")
    k = 2 if task == "binary" else n_outputs
    labels = y.astype(np.int64)
    if (labels != y).any() or labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"{name}: expected integer class labels in 0..{k - 1} for task={task!r}")
    return labels.astype(dtype) if task == "binary" else labels


def as_generator(random_state: Any, name: str = "random_state") -> np.random.Generator:
    """None, an int seed, or a Generator (used as is, so callers can share a stream)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)):
        return np.random.default_rng(random_state)
    raise ValueError(f"{name}: expected None, an int seed or a numpy Generator; got {random_state!r}")


def invalid(name: str, expected: str, value: Any) -> ValueError:
    """The one wording of a bad parameter: its name, what is allowed, what was given."""
    return ValueError(f"{name}: expected {expected}; got {value!r}")


def seed_streams(random_state: Any, n: int) -> list[np.random.Generator]:
    """``n`` independent generators (init, split, training) from one ``random_state``.

    Accepts what scikit-learn users pass: None, an int, a ``RandomState`` or a
    ``Generator``. Independent streams keep, say, the early-stopping split from
    shifting when the network's initialisation draws more numbers.
    """
    if isinstance(random_state, np.random.RandomState):
        random_state = int(random_state.randint(np.iinfo(np.int32).max))
    seed: Any = random_state
    if isinstance(random_state, np.random.Generator):
        return [np.random.default_rng(s) for s in random_state.integers(2**63, size=n)]
    if random_state is not None and (
        isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral)
    ):
        raise invalid("random_state", "None, an int, a numpy RandomState or Generator", random_state)
    if random_state is not None and random_state < 0:
        raise invalid("random_state", "None or a non-negative int seed", random_state)
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]
