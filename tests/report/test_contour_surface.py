"""The contour's shading: weights per distinct point give the kernel mean over every trial."""

from __future__ import annotations

import numpy as np

from hpsearch.report import _contour


def _every_trial(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The kernel-weighted mean with one weight per trial (the earlier computation)."""
    r = _contour.RESOLUTION
    gx, gy = np.linspace(x.min(), x.max(), r), np.linspace(y.min(), y.max(), r)
    ux, uy = (x - x.min()) / np.ptp(x), (y - y.min()) / np.ptp(y)
    mx, my = np.meshgrid((gx - x.min()) / np.ptp(x), (gy - y.min()) / np.ptp(y))
    d2 = (mx.reshape(-1, 1) - ux) ** 2 + (my.reshape(-1, 1) - uy) ** 2
    logw = -0.5 * d2 / _contour.BANDWIDTH**2
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    return ((w @ z) / w.sum(axis=1)).reshape(r, r)


def test_surface_over_repeated_points_equals_the_mean_over_every_trial():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, 3000).astype(float)  # a table's axes: few values, many repeats
    y = np.log10(rng.choice([1e-4, 1e-3, 1e-2, 0.1], 3000))
    z = rng.random(3000) + x / 10
    gx, gy, gz = _contour._surface(x, y, z)
    want = _every_trial(x, y, z)
    assert np.allclose(gz, want, rtol=1e-12, atol=0)
    assert np.array_equal(gz.astype(np.float32), want.astype(np.float32))  # what the page stores
    assert gx[0] == 0 and gx[-1] == 9 and gy[0] == -4 and gy[-1] == -1


def test_surface_of_distinct_points_and_degenerate_input():
    rng = np.random.default_rng(1)
    x, y, z = rng.random(50), rng.random(50), rng.random(50)
    assert np.allclose(_contour._surface(x, y, z)[2], _every_trial(x, y, z), rtol=1e-12, atol=0)
    assert _contour._surface(np.ones(5), rng.random(5), rng.random(5)) is None  # no area
    assert _contour._surface(x[:2], y[:2], z[:2]) is None
