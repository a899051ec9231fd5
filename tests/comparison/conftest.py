"""Stored comparisons made directly (no training) and cheap user objectives for end-to-end runs."""

from __future__ import annotations

import textwrap

import numpy as np
import optuna
import pytest

optuna.logging.set_verbosity(optuna.logging.WARNING)

DISTS = {"x": optuna.distributions.FloatDistribution(0.0, 1.0), "y": optuna.distributions.FloatDistribution(0.0, 1.0)}


def store_comparison(
    storage,
    name: str,
    finals: dict[str, list[float]],
    *,
    seeds: dict[str, list[int]] | None = None,
    direction: str = "maximize",
    attrs: dict[str, dict] | None = None,
    n_trials: int = 8,
    metric: str | None = "accuracy",
    n_val: int | None = None,
) -> None:
    """One arm study per (sampler, repeat) whose best value is ``finals[sampler][k]``.

    Every study holds ``n_trials`` trials; the value falls off with |x - 0.3| (x matters, y does
    not), and the trial at x = 0.3 reaches the study's final best exactly.
    """
    sign = 1.0 if direction == "maximize" else -1.0
    for sampler, values in finals.items():
        for k, final in enumerate(values):
            seed = (seeds or {}).get(sampler, list(range(len(values))))[k]
            study = optuna.create_study(study_name=f"{name}-{sampler}-s{seed}", storage=storage, direction=direction)
            spec = {"study": {"name": f"{name}-{sampler}-s{seed}", "n_trials": n_trials, "direction": direction}}
            if metric:
                spec["study"]["metric"] = metric
            tags = {"comparison": name, "sampler": sampler, "seed": seed, "hpsearch_spec": spec}
            if n_val is not None:
                tags["n_val"] = n_val
            for key, v in {**tags, **((attrs or {}).get(f"{sampler}-s{seed}") or {})}.items():
                study.set_user_attr(key, v)
            rng = np.random.default_rng([seed, len(sampler)])
            xs = [0.3] + list(rng.uniform(size=n_trials - 1))
            for x in xs:
                value = final - sign * (0.5 * abs(x - 0.3))
                study.add_trial(
                    optuna.trial.create_trial(
                        params={"x": x, "y": float(rng.uniform())}, distributions=DISTS, value=value
                    )
                )


@pytest.fixture(name="store_comparison")
def _store_comparison():
    """The helper above (tests run with --import-mode=importlib: conftest is not importable)."""
    return store_comparison


CHEAP_OBJECTIVES = '''
import zlib

import numpy as np


def noise(trial, params):
    """Ignores its parameters: seeded noise per (study, trial number). Every arm is the same."""
    rng = np.random.default_rng([zlib.crc32(trial.study.study_name.encode()), trial.number])
    return float(rng.normal())


def sharp(trial, params):
    """One sharp optimum in x0 (at 0.37, between any fair grid's cell centres); x1..x5 barely matter."""
    return -abs(params["x0"] - 0.37) + 0.001 * sum(params[f"x{i}"] for i in range(1, 6))
'''


@pytest.fixture
def cheap_objectives(tmp_path, monkeypatch):
    """Module ``cheap_objectives`` (noise, sharp) importable by the run loop."""
    (tmp_path / "cheap_objectives.py").write_text(textwrap.dedent(CHEAP_OBJECTIVES))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "cheap_objectives"


def space(n: int) -> dict:
    return {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(n)}


@pytest.fixture(name="space")
def _space():
    return space
