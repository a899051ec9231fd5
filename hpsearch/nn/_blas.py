"""Scaled vector adds (BLAS axpby / axpy) for the optimizers, from NumPy's own OpenBLAS.

Why: an optimizer step is a few passes over the whole parameter vector, and
its cost is the number of passes (the vectors no longer sit in cache after the
backward matmuls). ``y = a x + b y`` is one pass in BLAS but two in NumPy (a
multiply, then an add), and Adam has three of them per step: doing them in
BLAS saved 38 us of a 1050 us training step in the synthetic benchmark.

NumPy exposes no axpy, but its wheels ship OpenBLAS (``scipy-openblas64``), and
NumPy's matmul already runs on it. Binding that same file returns the copy
already loaded, so these calls share the matmuls' thread pool. (SciPy's BLAS
wrappers load a second OpenBLAS: its threads, spinning next to NumPy's, made
fits ten times slower.) Where the library is not found, e.g. a NumPy built
against another BLAS, the same operations run as NumPy passes.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

_INT, _PTR = ctypes.c_int64, ctypes.c_void_p  # the "64_" build: 64-bit integers
_SCALAR = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}


@functools.cache
def _numpy_openblas() -> ctypes.CDLL | None:
    """NumPy's bundled OpenBLAS (wheels of NumPy >= 2), or None."""
    if np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {}).get("name") != "scipy-openblas":
        return None
    here = os.path.dirname(np.__file__)
    patterns = ("*openblas64_*.so", "*openblas64_*.dll", "*openblas64_*.dylib")
    dirs = (here + ".libs", os.path.join(here, ".dylibs"))
    found = sorted(p for d in dirs for pat in patterns for p in glob.glob(os.path.join(d, pat)))
    if len(found) != 1:
        return None
    try:
        return ctypes.CDLL(found[0])
    except OSError:
        return None


@functools.cache
def _bind(dtype: np.dtype[Any]) -> tuple[Any, Any] | None:
    """(axpby, axpy) C functions for ``dtype``, checked on a small case; None if unavailable."""
    lib = _numpy_openblas()
    if lib is None or dtype not in _SCALAR:
        return None
    scalar, p = _SCALAR[dtype], _PREFIX[dtype]
    try:
        axpby, axpy = getattr(lib, f"scipy_cblas_{p}axpby64_"), getattr(lib, f"scipy_cblas_{p}axpy64_")
    except AttributeError:
        return None
    axpby.argtypes, axpby.restype = [_INT, scalar, _PTR, _INT, scalar, _PTR, _INT], None
    axpy.argtypes, axpy.restype = [_INT, scalar, _PTR, _INT, _PTR, _INT], None
    x, y = np.arange(1, 4, dtype=dtype), np.full(3, 10, dtype)
    axpby(3, 2.0, x.ctypes.data, 1, 0.5, y.ctypes.data, 1)  # y = 2 x + 0.5 y
    axpy(3, -1.0, x.ctypes.data, 1, y.ctypes.data, 1)  # y -= x
    return (axpby, axpy) if np.array_equal(y, [6, 7, 8]) else None


class VectorOps:
    """``axpby`` (y = a x + b y) and ``axpy`` (y += a x), in place, on 1-D vectors of one dtype.

    Each optimizer owns one. Array addresses are looked up once and kept with a
    reference to their array (so an address can never outlive its memory); any
    array that is not a C-contiguous vector of the right dtype goes the NumPy way.
    ``use_blas=False`` forces the NumPy way (the tests compare the two).
    """

    def __init__(self, dtype: DTypeLike, use_blas: bool = True) -> None:
        self.dtype = np.dtype(dtype)
        self._scratch: np.ndarray | None = None  # the NumPy way's a * x, allocated once
        self._blas = _bind(self.dtype) if use_blas else None
        self._addresses: dict[int, tuple[np.ndarray, int | None]] = {}

    @property
    def uses_blas(self) -> bool:
        return self._blas is not None

    def __getstate__(self) -> dict[str, Any]:  # C function handles and addresses do not pickle: bind again on load
        return {"dtype": self.dtype, "use_blas": self._blas is not None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        VectorOps.__init__(self, state["dtype"], state["use_blas"])

    def _address(self, arr: np.ndarray) -> int | None:
        entry = self._addresses.get(id(arr))
        if entry is None:
            ok = arr.dtype == self.dtype and arr.ndim == 1 and arr.flags.c_contiguous and arr.flags.writeable
            if len(self._addresses) >= 16:
                self._addresses.clear()
            entry = self._addresses[id(arr)] = (arr, arr.ctypes.data if ok else None)
        return entry[1]

    def axpby(self, a: float, x: np.ndarray, b: float, y: np.ndarray) -> None:
        """y = a x + b y."""
        if self._blas is not None and x.size == y.size:
            px, py = self._address(x), self._address(y)
            if px is not None and py is not None:
                self._blas[0](y.size, a, px, 1, b, py, 1)
                return
        y *= b
        y += self._scaled(a, x)

    def axpy(self, a: float, x: np.ndarray, y: np.ndarray) -> None:
        """y += a x."""
        if self._blas is not None and x.size == y.size:
            px, py = self._address(x), self._address(y)
            if px is not None and py is not None:
                self._blas[1](y.size, a, px, 1, py, 1)
                return
        y += self._scaled(a, x)

    def _scaled(self, a: float, x: np.ndarray) -> np.ndarray:
        if a == 1.0:
            return x
        if self._scratch is None or self._scratch.shape != x.shape or self._scratch.dtype != x.dtype:
            self._scratch = np.empty_like(x)
        return np.multiply(x, a, out=self._scratch)
