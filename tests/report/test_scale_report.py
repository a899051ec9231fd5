"""The study report of a long study: importance on a bounded, seeded sample (issue 17)."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

import hpsearch.report as report
from hpsearch.report import _study


def _study_of(n: int) -> optuna.storages.BaseStorage:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="long", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2 + t.suggest_float("y", 0, 1) / 10, n_trials=n)
    study.add_trial(optuna.trial.create_trial(state=TrialState.PRUNED))
    return storage


def test_importance_uses_a_seeded_sample_of_complete_trials(monkeypatch):
    storage = _study_of(40)
    seen = []
    real = _study.importances

    def spy(trials, direction, method, seed=0):
        seen.append([t.number for t in trials if t.state == TrialState.COMPLETE])
        return real(trials, direction, method, seed=seed)

    monkeypatch.setattr(_study, "importances", spy)
    monkeypatch.setattr(_study, "IMPORTANCE_MAX", 12)
    html = report.study_report_html(storage, "long")
    assert len(seen[0]) == 12 and seen[0] == sorted(seen[0])
    assert "a seeded random sample of the study&#39;s 40" in html or "a seeded random sample of the study's 40" in html
    report.study_report_html(storage, "long")
    assert seen[1] == seen[0]  # the same sample every time


def test_short_studies_use_every_trial(monkeypatch):
    storage = _study_of(15)
    seen = []
    real = _study.importances

    def spy(trials, *args, **kwargs):
        seen.append(len(trials))
        return real(trials, *args, **kwargs)

    monkeypatch.setattr(_study, "importances", spy)
    html = report.study_report_html(storage, "long")
    assert seen == [16] and "seeded random sample" not in html
