"""Every number a spec carries is bounded to what storage and sampling can hold (issue: hostile input)."""

from __future__ import annotations

import pytest

from hpsearch.errors import SpecError
from hpsearch.spec import load_spec, spec_from_dict


def _spec(study: dict | None = None, space: dict | None = None) -> dict:
    return {
        "study": {"name": "b", "direction": "minimize", **(study or {})},
        "space": space or {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    }


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (_spec({"n_trials": 2**63}), "study.n_trials: expected a value <= 1000000"),
        (_spec({"n_trials": 10**6 + 1}), "study.n_trials: expected a value <= 1000000"),
        (_spec({"seed": 2**32}), "study.seed: expected a value <= 4294967295"),
        (_spec({"seed": 2**64}), "study.seed: expected a value <= 4294967295"),
        (
            _spec(space={"x": {"type": "float", "low": -1e308, "high": 1e308}}),
            "space.x.high: expected a value with a finite width",
        ),
        (
            _spec(space={"x": {"type": "float", "low": 0.0, "high": float("inf")}}),
            "space.x.high: expected a finite number",
        ),
        (
            _spec(space={"x": {"type": "float", "low": float("nan"), "high": 1.0}}),
            "space.x.low: expected a finite number",
        ),
        (_spec(space={"x": {"type": "float", "low": 0.0, "high": 1.0, "grid": [float("nan")]}}), "space.x.grid[0]"),
        (
            _spec(space={"x": {"type": "int", "low": 0, "high": 2**63}}),
            "space.x.high: expected a value <= 9007199254740992",
        ),
        (
            _spec(space={"x": {"type": "int", "low": -(2**63), "high": 0}}),
            "space.x.low: expected a value >= -9007199254740992",
        ),
        (_spec(space={"x": {"type": "categorical", "choices": [float("inf")]}}), "space.x.choices[0]"),
    ],
)
def test_out_of_range_numbers_are_one_clear_spec_error(spec, fragment):
    with pytest.raises(SpecError, match=r"^<api>: ") as err:
        spec_from_dict(spec)
    assert fragment in str(err.value)


def test_the_limits_themselves_are_accepted():
    spec = spec_from_dict(
        _spec(
            {"n_trials": 10**6, "seed": 2**32 - 1},
            {
                "x": {"type": "float", "low": -1e307, "high": 1e307},
                "k": {"type": "int", "low": -(2**53), "high": 2**53},
            },
        )
    )
    assert spec.study.n_trials == 10**6 and spec.study.seed == 2**32 - 1


def test_deeply_nested_input_is_refused_before_it_is_copied():
    nested: list = []
    for _ in range(5000):  # deeper than Python's recursion limit: copy.deepcopy would overflow
        nested = [nested]
    with pytest.raises(SpecError, match="nested at most 32 levels deep"):
        spec_from_dict({**_spec(), "training": {"x": nested}})


def test_deeply_nested_toml_is_a_spec_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text('[study]\ndirection = "minimize"\n[training]\nx = ' + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(SpecError, match=r"deep\.toml: expected a spec nested at most 32 levels deep"):
        load_spec(path, preflight=False)
