"""hpsearch.pareto against brute force: dominance ranks by peeling fronts by the definition, hypervolume by
counting the unit cells of an integer grid that some point dominates (exact, no sampling)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch import pareto


def _brute_dominates(a, b) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def _brute_ranks(points: list[tuple[int, ...]]) -> list[int]:
    """Peel fronts: rank k = not dominated by any point left after removing ranks < k."""
    ranks = [-1] * len(points)
    left = set(range(len(points)))
    k = 0
    while left:
        front = {i for i in left if not any(_brute_dominates(points[j], points[i]) for j in left)}
        for i in front:
            ranks[i] = k
        left -= front
        k += 1
    return ranks


def _brute_volume(points: list[tuple[int, ...]], ref: tuple[int, ...]) -> int:
    """Unit cells [c, c+1) below the reference that some point dominates (p <= c on every objective)."""
    lows = [min(p[d] for p in points) for d in range(len(ref))] if points else list(ref)
    cells = itertools.product(*(range(lo, r) for lo, r in zip(lows, ref, strict=True)))
    return sum(1 for c in cells if any(all(p[d] <= c[d] for d in range(len(ref))) for p in points))


def points_of(m: int, top: int = 6, most: int = 25):
    return st.lists(st.tuples(*[st.integers(0, top)] * m), min_size=0, max_size=most)


@settings(max_examples=150, deadline=None)
@given(points_of(2, most=30))
def test_ranks_2d_match_peeling(points):
    assert list(pareto.nondominated_ranks(np.array(points, dtype=float).reshape(-1, 2), ["minimize"] * 2)) == (
        _brute_ranks(points)
    )


@settings(max_examples=150, deadline=None)
@given(st.integers(3, 4).flatmap(lambda m: points_of(m, top=4)))
def test_ranks_3d_4d_match_peeling(points):
    if not points:
        return
    m = len(points[0])
    assert list(pareto.nondominated_ranks(np.array(points, dtype=float), ["minimize"] * m)) == _brute_ranks(points)


@settings(max_examples=100, deadline=None)
@given(points_of(2))
def test_maximised_objectives_rank_as_their_negation(points):
    arr = np.array(points, dtype=float).reshape(-1, 2)
    mixed = pareto.nondominated_ranks(arr * [-1, 1], ["maximize", "minimize"])
    assert list(mixed) == _brute_ranks(points)


def test_duplicates_share_a_rank_and_nan_has_none():
    p = [[1, 1], [1, 1], [2, 2], [np.nan, 0], [0, 3]]
    assert list(pareto.nondominated_ranks(p, ["minimize", "minimize"])) == [0, 0, 1, -1, 0]
    assert list(pareto.front_mask(p, ["minimize", "minimize"])) == [True, True, False, False, True]


@settings(max_examples=150, deadline=None)
@given(points_of(2, most=20))
def test_hypervolume_2d_counts_cells(points):
    ref = (7, 7)
    got = pareto.hypervolume(np.array(points, dtype=float).reshape(-1, 2), ref, ["minimize"] * 2)
    assert got == _brute_volume(points, ref)


@settings(max_examples=100, deadline=None)
@given(points_of(3, top=5, most=15))
def test_hypervolume_3d_counts_cells(points):
    ref = (6, 6, 6)
    got = pareto.hypervolume(np.array(points, dtype=float).reshape(-1, 3), ref, ["minimize"] * 3)
    assert got == _brute_volume(points, ref)


@settings(max_examples=40, deadline=None)
@given(points_of(4, top=3, most=10))
def test_hypervolume_4d_counts_cells(points):
    ref = (4, 4, 4, 4)
    got = pareto.hypervolume(np.array(points, dtype=float).reshape(-1, 4), ref, ["minimize"] * 4)
    assert got == _brute_volume(points, ref)


def test_points_beyond_the_reference_add_nothing_and_maximise_flips():
    dirs = ["maximize", "minimize"]
    # accuracy 0.9 at 10 s and 0.8 at 2 s against (0.5, 20): 0.4*10 + 0.3*8 overlapping -> exact union
    got = pareto.hypervolume([[0.9, 10.0], [0.8, 2.0], [0.4, 1.0], [0.95, 25.0]], [0.5, 20.0], dirs)
    assert got == pytest.approx(0.4 * 10 + 0.3 * 8)
    assert pareto.hypervolume([], [0.5, 20.0], dirs) == 0.0


def test_matches_optuna_compute_hypervolume():
    from optuna._hypervolume import compute_hypervolume  # private: allowed in tests only, as a second opinion

    rng = np.random.default_rng(3)
    for m in (2, 3):
        for _ in range(20):
            p = rng.random((40, m))
            ref = np.full(m, 1.1)
            want = compute_hypervolume(p[pareto.front_mask(p, ["minimize"] * m)], ref, assume_pareto=True)
            assert pareto.hypervolume(p, ref, ["minimize"] * m) == pytest.approx(want, rel=1e-12)


def test_history_grows_only_when_the_front_gains():
    p = [[3, 3], [4, 4], [1, 5], [2, 2]]
    h = pareto.hypervolume_history(p, [6, 6], ["minimize"] * 2)
    # (1, 5) adds the strip x in [1, 3), y in [5, 6); (2, 2) then the 4x4 box plus that strip's x in [1, 2)
    assert list(h) == [9.0, 9.0, 11.0, 17.0]
    assert h[-1] == pareto.hypervolume(p, [6, 6], ["minimize"] * 2)


def test_scale_maps_best_to_zero_worst_to_one_and_reference_past_the_worst():
    dirs = ["maximize", "minimize"]
    s = pareto.Scale.fit([[0.9, 10.0], [0.5, 2.0], [0.7, 30.0]], dirs)
    assert s.best == (0.9, 2.0) and s.worst == (0.5, 30.0)
    assert s.normalise([[0.9, 2.0], [0.5, 30.0]]).tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert s.reference() == pytest.approx([0.46, 32.8])
    # the ideal point alone fills the whole box up to the reference
    assert s.hypervolume([[0.9, 2.0]]) == pytest.approx(1.1**2)
    # a constant objective gets range 1 instead of dividing by zero
    flat = pareto.Scale.fit([[1.0, 5.0], [2.0, 5.0]], ["minimize", "minimize"])
    assert flat.normalise([[1.5, 5.0]]).tolist() == [[0.5, 0.0]]


def test_bad_directions_and_shapes_are_refused():
    with pytest.raises(ValueError, match="direction"):
        pareto.nondominated_ranks([[1, 2]], ["up", "minimize"])
    with pytest.raises(ValueError, match="objectives"):
        pareto.hypervolume([[1, 2, 3]], [4, 4], ["minimize"] * 2)


def test_ranks_scale_to_thousands_of_points():
    rng = np.random.default_rng(0)
    p = rng.random((5000, 2))
    ranks = pareto.nondominated_ranks(p, ["minimize"] * 2)
    front = p[ranks == 0]
    assert not any(pareto.dominates(q, r, ["minimize"] * 2) for q in front for r in front)
    assert all(any(pareto.dominates(q, x, ["minimize"] * 2) for q in front) for x in p[ranks == 1][:50])
