"""Tiny specs and user objectives (importable by spawned worker processes too)."""

from __future__ import annotations

import textwrap

import pytest

from hpsearch.spec import spec_from_dict

OBJECTIVES = textwrap.dedent('''
    """Test objectives: cheap, deterministic functions of the parameters."""
    import math
    import os
    import time

    def quad(trial, params):
        trial.set_user_attr("pid", os.getpid())
        hold = os.environ.get("HP_TEST_HOLD")  # a file: trials wait while it exists
        while hold and os.path.exists(hold):
            time.sleep(0.02)
        time.sleep(float(os.environ.get("HP_TEST_SLEEP", "0")))
        x = params.get("x", 0.5)
        return -(x - 0.3) ** 2 + 0.01 * params.get("b", 0) + {"p": 0.0, "q": 0.1, "r": 0.2}.get(params.get("a"), 0)

    def crash(trial, params):
        raise ValueError("boom")

    def raise_above(trial, params):
        """Fails for part of the space, as real objectives do (e.g. out of memory for wide nets)."""
        if params["x"] > 0.6:
            raise ValueError(f"x = {params['x']:.3f} is too big")
        return params["x"]

    def fail_from_trial_3(trial, params):
        """Works for trials 0-2, then fails every time (a resource that ran out)."""
        if trial.number >= 3:
            raise RuntimeError("disk full")
        return params["x"]

    def bad_value(trial, params):
        return "not a number"

    def nan_above_half(trial, params):
        if params["x"] > 0.5:
            trial.set_user_attr("diverged", True)
            return math.nan
        return params["x"]

    def heartbeats(trial, params):
        """Records the trial's heartbeat time at its start and once it has changed (polling, 120 s at most)."""
        from optuna.storages._rdb.models import TrialHeartbeatModel
        import sqlalchemy as sa
        engine = trial.study._storage._backend.engine
        table = TrialHeartbeatModel.__table__
        query = sa.select(table.c.heartbeat).where(table.c.trial_id == trial._trial_id)

        def beat():
            with engine.connect() as con:
                return str(con.execute(query).scalar())

        beats = [beat()]
        deadline = time.monotonic() + 120
        while beat() == beats[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        beats.append(beat())
        trial.set_user_attr("beats", beats)
        return 1.0

    def per_epoch(trial, params):
        value = 0.0
        for epoch in range(1, 6):
            value = params["x"] * epoch
            trial.report(value, epoch)
            if trial.should_prune():
                import optuna
                raise optuna.TrialPruned()
        return value
''')

GRID_SPACE = {
    "a": {"type": "categorical", "choices": ["p", "q", "r"]},
    "b": {"type": "int", "low": 1, "high": 3, "grid": [1, 2, 3]},
}
X_SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.fixture
def objectives_module(tmp_path, monkeypatch):
    """Write the test objectives where this process and spawned workers can import them."""
    (tmp_path / "hp_test_objectives.py").write_text(OBJECTIVES)
    monkeypatch.syspath_prepend(str(tmp_path))
    import os

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    return "hp_test_objectives"


def make_spec(
    name="s", sampler="random", n_trials=6, objective="hp_test_objectives:quad", space=None, seed=0, pruner="none"
):
    return spec_from_dict(
        {
            "study": {
                "name": name,
                "objective": objective,
                "direction": "maximize",
                "sampler": sampler,
                "n_trials": n_trials,
                "seed": seed,
                "pruner": pruner,
            },
            "space": space or (GRID_SPACE if sampler == "grid" else X_SPACE),
        }
    )


@pytest.fixture
def spec_factory():
    """make_spec(name, sampler, n_trials, objective, space, seed, pruner) -> Spec."""
    return make_spec
