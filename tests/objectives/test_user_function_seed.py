"""A user function's held-out score: called with split="test", and with each eval seed when it takes ``seed``."""

from __future__ import annotations

import sys
import textwrap

from hpsearch.spec import load_spec
from objectives import cannot_evaluate, evaluate_best

SPEC = """
[study]
objective = "{module}:objective"
direction = "maximize"
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def write(tmp_path, module: str, code: str):
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(code))
    path = tmp_path / f"{module}.toml"
    path.write_text(SPEC.format(module=module))
    return load_spec(path)


def test_a_function_taking_seed_gets_each_eval_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = write(
        tmp_path,
        "seeded_fn_hps",
        """
        CALLS = []

        def objective(trial, params, split="validation", seed=None):
            CALLS.append((split, seed))
            return params["x"] + (1000 * seed if split == "test" else 0)
        """,
    )
    assert cannot_evaluate(spec) is None
    scores = [evaluate_best(spec, {"x": 0.5}, seed=s)["test_value"] for s in (0, 1, 2)]
    assert scores == [0.5, 1000.5, 2000.5]
    assert sys.modules["seeded_fn_hps"].CALLS == [("test", 0), ("test", 1), ("test", 2)]


def test_kwargs_receive_the_seed_and_a_function_without_it_does_not(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = write(
        tmp_path,
        "kwargs_fn_hps",
        """
        def objective(trial, params, **kw):
            return float(kw["seed"]) if kw.get("split") == "test" else 0.0
        """,
    )
    assert evaluate_best(spec, {"x": 0.5}, seed=7) == {"test_value": 7.0}
    spec = write(
        tmp_path,
        "split_only_fn_hps",
        """
        def objective(trial, params, split="validation"):
            return params["x"] + (100 if split == "test" else 0)
        """,
    )
    assert evaluate_best(spec, {"x": 0.25}, seed=3) == {"test_value": 100.25}  # called without seed=
