"""Learning-rate schedules: their values epoch by epoch."""

from __future__ import annotations

import math

import pytest

from hpsearch.nn import Constant, Cosine, ReduceOnPlateau, Step, make_schedule


def test_constant():
    s = make_schedule("constant", 0.1, 10)
    assert isinstance(s, Constant)
    assert [s.lr(e) for e in range(3)] == [0.1, 0.1, 0.1]


def test_step():
    s = Step(1.0, step_size=2, gamma=0.5)
    assert [s.lr(e) for e in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    default = make_schedule("step", 0.3, 9)
    assert default.lr(2) == 0.3 and default.lr(3) == pytest.approx(0.03)


def test_cosine():
    s = make_schedule("cosine", 1.0, 4)
    values = [s.lr(e) for e in range(5)]
    expected = [0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(5)]
    assert values == pytest.approx(expected)
    assert values[0] == 1.0 and values[2] == pytest.approx(0.5) and values[4] == pytest.approx(0.0)
    assert Cosine(1.0, 4, min_lr=0.1).lr(4) == pytest.approx(0.1)


def test_reduce_on_plateau():
    s = ReduceOnPlateau(1.0, factor=0.5, patience=2)
    lrs = []
    for loss in [1.0, 0.9, 0.95, 0.92, 0.91, 0.8, 0.85, 0.85, 0.85]:
        s.observe(loss)
        lrs.append(s.lr(0))
    # improves at 0.9; three epochs without (0.95, 0.92, 0.91 > 0.9) -> halve; 0.8 improves; then halve again
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_plateau_respects_min_lr():
    s = ReduceOnPlateau(1.0, factor=0.1, patience=0, min_lr=0.05)
    for _ in range(5):
        s.observe(1.0)
    assert s.lr(0) == 0.05


def test_instances_pass_through_and_names_are_checked():
    s = Step(0.2, 3)
    assert make_schedule(s, 1.0, 10) is s
    with pytest.raises(ValueError, match="schedule: expected one of constant, step, cosine, plateau; got 'linear'"):
        make_schedule("linear", 0.1, 10)
