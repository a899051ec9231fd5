"""Weight initialisation from a seeded Generator.

Random (not zero) weights break the symmetry between hidden units; the scale
keeps activations from exploding or vanishing with depth:

* He (Kaiming) normal, std = sqrt(2 / fan_in), for the relu family,
* Glorot (Xavier) uniform, limit = sqrt(6 / (fan_in + fan_out)), for tanh/sigmoid.

Draws are made in float64 and cast, so float32 and float64 networks built with
the same seed start from the same weights (up to rounding).
"""

from __future__ import annotations

import numpy as np

INITS = ("auto", "he", "glorot")


def init_weight(rng: np.random.Generator, fan_in: int, fan_out: int, scheme: str) -> np.ndarray:
    """A (fan_in, fan_out) weight matrix drawn with ``scheme`` ('he' or 'glorot')."""
    if scheme == "he":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    if scheme == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))
    raise ValueError(f"init: expected one of he, glorot; got {scheme!r}")
