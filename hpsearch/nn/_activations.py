"""Element-wise activations, written for speed: forward may work in place.

Each activation is a pair of functions over preallocated buffers:

* ``forward(z, out, tmp)`` writes ``a = f(z)`` into ``out`` (which may be ``z`` itself),
* ``backward(da, z, a, tmp)`` turns the upstream gradient ``da`` into
  ``dz = da * f'(z)`` *in place*, reading whichever of ``z`` / ``a`` / ``tmp`` it needs.

``tmp`` is the layer's own scratch buffer and survives from forward to backward,
so the piecewise-linear activations keep their slope mask there: forward is
"mask, multiply" and backward a single multiply. (``np.maximum`` is about twice
as slow as a compare plus a multiply, and the mask would be needed again anyway.)

``IN_PLACE`` lists the activations whose backward never reads ``z`` (it uses
the output or the mask in ``tmp``), so the layer may overwrite its input and
save a buffer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LEAKY_SLOPE = 0.01
_GELU_C = np.sqrt(2.0 / np.pi)
_GELU_A = 0.044715


def _relu(z: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    np.greater(z, 0, out=tmp)  # f'(z) = [z > 0], kept for backward
    return np.multiply(z, tmp, out=out)


def _relu_back(da: np.ndarray, z: np.ndarray, a: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    return np.multiply(da, tmp, out=da)


def _leaky(z: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    # f'(z) = 1 where z > 0 else s  ==  s + (1 - s) [z > 0], kept for backward; f(z) = f'(z) z
    np.greater(z, 0, out=tmp)
    tmp *= 1.0 - LEAKY_SLOPE
    tmp += LEAKY_SLOPE
    return np.multiply(z, tmp, out=out)


def _leaky_back(da: np.ndarray, z: np.ndarray, a: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    return np.multiply(da, tmp, out=da)


def _tanh(z: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    return np.tanh(z, out=out)


def _tanh_back(da: np.ndarray, z: np.ndarray, a: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    np.multiply(a, a, out=tmp)  # f' = 1 - a^2
    np.subtract(1, tmp, out=tmp)
    return np.multiply(da, tmp, out=da)


def _sigmoid(z: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    # 0.5 (1 + tanh(z / 2)) never overflows, unlike 1 / (1 + exp(-z)).
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def _sigmoid_back(da: np.ndarray, z: np.ndarray, a: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    np.subtract(1, a, out=tmp)  # f' = a (1 - a)
    tmp *= a
    return np.multiply(da, tmp, out=da)


def _gelu_inner(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    # u = c (z + a z^3); GELU uses the tanh approximation (Hendrycks & Gimpel).
    np.multiply(z, z, out=out)
    out *= _GELU_A
    out += 1
    out *= z
    out *= _GELU_C
    return out


def _gelu(z: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    _gelu_inner(z, out)
    np.tanh(out, out=out)
    out += 1
    out *= z
    out *= 0.5
    return out


def _gelu_back(da: np.ndarray, z: np.ndarray, a: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    # f = z/2 (1 + t), t = tanh(u):  f' = (1 + t)/2 + z/2 (1 - t^2) c (1 + 3 a z^2)
    t = np.tanh(_gelu_inner(z, tmp), out=tmp)
    du = np.multiply(z, z)
    du *= 3 * _GELU_A
    du += 1
    du *= _GELU_C
    du *= z
    du *= 0.5
    one_minus_t2 = 1 - t * t
    du *= one_minus_t2
    t += 1
    t *= 0.5
    du += t
    return np.multiply(da, du, out=da)


Forward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (z, out, tmp) -> a
Backward = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (da, z, a, tmp) -> dz

ACTIVATIONS: dict[str, tuple[Forward, Backward]] = {
    "relu": (_relu, _relu_back),
    "leaky_relu": (_leaky, _leaky_back),
    "tanh": (_tanh, _tanh_back),
    "sigmoid": (_sigmoid, _sigmoid_back),
    "gelu": (_gelu, _gelu_back),
}
IN_PLACE = frozenset({"relu", "leaky_relu", "tanh", "sigmoid"})
