"""A study's importance is computed once per (trials, direction, method, seed): a comparison's verdict and
its report ask for the same fANOVA of every study, and it is most of a large report's time."""

from __future__ import annotations

import optuna

from hpsearch.results import _importance


def _trials(shift: float) -> list[optuna.trial.FrozenTrial]:
    dist = {"x": optuna.distributions.FloatDistribution(0.0, 1.0), "y": optuna.distributions.IntDistribution(1, 4)}
    return [
        optuna.trial.create_trial(params={"x": i / 10, "y": 1 + i % 4}, distributions=dist, value=(i / 10) ** 2 + shift)
        for i in range(10)
    ]


def test_the_same_trials_are_evaluated_once_and_give_the_same_importance(monkeypatch):
    calls = []
    real = optuna.importance.get_param_importances

    def counting(study, **kw):
        calls.append(kw["evaluator"].__class__.__name__)
        return real(study, **kw)

    monkeypatch.setattr(optuna.importance, "get_param_importances", counting)
    first = _importance._evaluate(_trials(0.0), "minimize", ("fanova", "ped-anova"), 123457)
    again = _importance._evaluate(_trials(0.0), "minimize", ("fanova",), 123457)
    assert len(calls) == 2 and again["fanova"] == first["fanova"] and first["fanova"][0]
    # another value, seed or direction is another computation, never a remembered one
    _importance._evaluate(_trials(0.5), "minimize", ("fanova",), 123457)
    _importance._evaluate(_trials(0.0), "minimize", ("fanova",), 7)
    _importance._evaluate(_trials(0.0), "maximize", ("fanova",), 123457)
    assert len(calls) == 5
    # and a remembered result equals a fresh one
    _importance._memo_slot.cache_clear()
    assert _importance._evaluate(_trials(0.0), "minimize", ("fanova",), 123457)["fanova"] == first["fanova"]
