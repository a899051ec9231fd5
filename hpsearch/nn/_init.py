"""Weight initialisation from a seeded Generator.

Random (not zero) weights break the symmetry between hidden units; the scale
keeps activations from exploding or vanishing with depth:

* He (Kaiming) normal, std = sqrt(2 / fan_in),
* Glorot (Xavier) uniform, limit = sqrt(6 / (fan_in + fan_out)).

"auto" (the default) is Glorot uniform for every activation, as in
scikit-learn and Keras. It was He for the relu family until measured against
scikit-learn at defaults (benchmarks/bench_defaults.py, 3 seeds, test accuracy
or R^2): He lost on most cases and by up to 6 points (make_classification
20000 x 100, (256, 256), Adam, 5 epochs: He 0.770, Glorot 0.834, scikit-learn
0.830; friedman1 with SGD: He 0.862, Glorot 0.908; three 128-unit layers on
friedman1: He 0.877, Glorot 0.910), and won clearly only on moons with SGD
(0.866 vs 0.833). ``init`` stays a hyperparameter a study may search.

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
