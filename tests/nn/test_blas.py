"""The optimizers' scaled vector adds: NumPy's OpenBLAS when it is there, NumPy passes otherwise, same results."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn._blas import VectorOps
from hpsearch.nn._optimizers import SGD, Adam, Momentum, RMSprop

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-6, np.float64: 1e-13}


def test_numpys_own_openblas_is_found_where_numpy_ships_it():
    ships_it = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {}).get("name") == "scipy-openblas"
    for dtype in DTYPES:
        assert VectorOps(dtype).uses_blas == ships_it
        assert not VectorOps(dtype, use_blas=False).uses_blas
    assert not VectorOps(np.float16).uses_blas  # no BLAS for half floats: NumPy passes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_blas", [True, False])
def test_axpby_and_axpy_match_the_formulas(dtype, use_blas, rng):
    ops = VectorOps(dtype, use_blas)
    x, y = rng.normal(size=1000).astype(dtype), rng.normal(size=1000).astype(dtype)
    expected = 0.3 * x + 0.9 * y
    ops.axpby(0.3, x, 0.9, y)
    np.testing.assert_allclose(y, expected, rtol=TOL[dtype], atol=TOL[dtype])
    ops.axpby(1.0, x, 0.5, y)
    expected = x + 0.5 * expected
    np.testing.assert_allclose(y, expected, rtol=TOL[dtype], atol=TOL[dtype])
    ops.axpy(-2.0, x, y)
    np.testing.assert_allclose(y, expected - 2.0 * x, rtol=TOL[dtype], atol=TOL[dtype])


def test_arrays_blas_cannot_take_go_the_numpy_way(rng):
    ops = VectorOps(np.float32)
    base = rng.normal(size=20).astype(np.float32)
    strided, y = base[::2], np.ones(10, np.float32)
    ops.axpy(2.0, strided, y)  # a strided view: its address alone would read the wrong elements
    np.testing.assert_allclose(y, 1 + 2 * base[::2], rtol=1e-6)
    y64 = np.ones(10)
    ops.axpby(1.0, np.arange(10.0), 2.0, y64)  # float64 into a float32 VectorOps
    np.testing.assert_array_equal(y64, 2 + np.arange(10.0))


def test_many_arrays_through_one_vectorops_stay_correct(rng):
    ops = VectorOps(np.float64)
    for _ in range(40):  # more arrays than the address cache keeps
        x, y = rng.normal(size=50), rng.normal(size=50)
        expected = 3 * x + y
        ops.axpy(3.0, x, y)
        np.testing.assert_allclose(y, expected, rtol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "make",
    [
        lambda n, d, b: SGD(n, d, use_blas=b),
        lambda n, d, b: Momentum(n, d, 0.9, use_blas=b),
        lambda n, d, b: Momentum(n, d, 0.9, nesterov=True, use_blas=b),
        lambda n, d, b: RMSprop(n, d, use_blas=b),
        lambda n, d, b: Adam(n, d, use_blas=b),
        lambda n, d, b: Adam(n, d, decoupled_decay=0.1, n_decayed=300, use_blas=b),
    ],
    ids=["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"],
)
def test_every_optimizer_steps_the_same_with_and_without_blas(make, dtype, rng):
    n = 500
    grads = [rng.normal(size=n).astype(dtype) for _ in range(20)]
    p0 = rng.normal(size=n).astype(dtype)
    results = []
    for use_blas in (True, False):
        opt, p = make(n, dtype, use_blas), p0.copy()
        for g in grads:
            opt.step(p, g.copy(), 1e-2)
        results.append(p)
    assert not np.array_equal(results[0], p0)
    np.testing.assert_allclose(results[0], results[1], rtol=10 * TOL[dtype], atol=10 * TOL[dtype])
