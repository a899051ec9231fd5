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


def _studies(n: int) -> list:
    """``n`` small stored studies (two parameters, 12 trials each) read back as StudyData."""
    from hpsearch.results import arm_studies

    storage = optuna.storages.InMemoryStorage()
    for k in range(n):
        study = optuna.create_study(storage=storage, study_name=f"s{k}", sampler=optuna.samplers.RandomSampler(seed=k))
        study.set_user_attr("comparison", "c")
        study.set_user_attr("sampler", "random")
        study.set_user_attr("seed", k)
        study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2 + 0.1 * t.suggest_int("y", 1, 4), n_trials=12)
    return arm_studies(storage, "c")


def test_importance_computed_across_processes_equals_the_one_computed_here(monkeypatch):
    """precompute(jobs=2) fills the memo in worker processes with the very numbers this process computes."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = _studies(_importance.MIN_PARALLEL)
    _importance._memo_slot.cache_clear()
    here = _importance.per_study_methods(studies, ("fanova", "ped-anova"), seed=3)
    _importance._memo_slot.cache_clear()
    assert _importance.precompute([studies], ("fanova", "ped-anova"), seed=3, jobs=2) == len(studies)
    calls = []
    monkeypatch.setattr(optuna.importance, "get_param_importances", lambda *a, **k: calls.append(1))
    there = _importance.per_study_methods(studies, ("fanova", "ped-anova"), seed=3)
    assert calls == []  # every result came from the workers
    assert {m: [(s.name, imp) for s, imp in rows] for m, rows in there.items()} == {
        m: [(s.name, imp) for s, imp in rows] for m, rows in here.items()
    }
    assert all(len(rows) == len(studies) for rows in here.values())
    # remembered already: nothing left to compute, no workers started
    assert _importance.precompute([studies], ("fanova", "ped-anova"), seed=3, jobs=2) == 0


def test_workers_that_cannot_start_leave_the_work_to_this_process(monkeypatch):
    import concurrent.futures

    def refuse(*args, **kwargs):
        raise OSError("no processes here")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = _studies(_importance.MIN_PARALLEL)
    _importance._memo_slot.cache_clear()
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refuse)
    assert _importance.precompute([studies], ("fanova",), seed=1, jobs=2) == 0
    rows = _importance.per_study_methods(studies, ("fanova",), seed=1)["fanova"]
    assert len(rows) == len(studies) and all(imp for _, imp in rows)
