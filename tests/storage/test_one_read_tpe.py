"""TPE reads the study's trials once per ask, and proposes exactly what Optuna's TPESampler proposes."""

from __future__ import annotations

import optuna
import pytest
from optuna.storages import RDBStorage

from hpsearch.storage import drop_trials_cache
from hpsearch.storage._optuna import OneReadTPESampler


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3.0, 3.0)
    n = trial.suggest_int("n", 1, 64, log=True)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return (x - 1.0) ** 2 + abs(n - 20) / 10 + {"a": 0.0, "b": 0.5, "c": 1.0}[c]


def _tpe(cls: type, seed: int) -> optuna.samplers.TPESampler:
    return cls(seed=seed, multivariate=True, constant_liar=True, n_startup_trials=5)


@pytest.mark.parametrize("seed", [0, 7])
def test_proposals_are_optunas_own(sqlite_storage, seed):
    """In one process nothing changes between the two reads Optuna makes: the same trials, value for value."""
    found = []
    for name, cls in (("optuna", optuna.samplers.TPESampler), ("one-read", OneReadTPESampler)):
        study = optuna.create_study(study_name=name, storage=sqlite_storage, sampler=_tpe(cls, seed))
        study.optimize(_objective, n_trials=25)
        found.append([(t.params, t.value) for t in study.trials])
    assert len(found[1]) == 25
    assert found[1] == found[0]


def _reads_per_ask(storage, sampler, monkeypatch) -> list[int]:
    """How many times each ask after the start-up trials read the trials from the database."""
    calls = []
    cls = type(storage)  # hpsearch's RDBStorage: its own read of the trials
    assert issubclass(cls, RDBStorage)
    real = cls._get_trials

    def counted(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    study = optuna.create_study(study_name=type(sampler).__name__, storage=storage, sampler=sampler)
    study.optimize(_objective, n_trials=5)
    monkeypatch.setattr(cls, "_get_trials", counted)
    reads = []
    for _ in range(5):
        trial = study.ask()  # (Study.ask reads the waiting trials: not the sampler's)
        calls.clear()
        _objective(trial)  # suggesting is where the sampler reads
        reads.append(len(calls))
        monkeypatch.setattr(cls, "_get_trials", real)
        study.tell(trial, 0.0)
        monkeypatch.setattr(cls, "_get_trials", counted)
    monkeypatch.setattr(cls, "_get_trials", real)
    return reads


def test_one_read_per_ask_where_optuna_makes_two(sqlite_storage, monkeypatch):
    assert _reads_per_ask(sqlite_storage, _tpe(optuna.samplers.TPESampler, 0), monkeypatch) == [2] * 5
    assert _reads_per_ask(sqlite_storage, _tpe(OneReadTPESampler, 0), monkeypatch) == [1] * 5


def test_the_model_sees_trials_another_worker_finished_since_the_last_ask(sqlite_storage):
    """A study object that asked before (a server thread, a worker) must not fit TPE on that older read:
    drop_trials_cache before an ask makes the ask read afresh."""
    sampler = _tpe(OneReadTPESampler, 0)
    mine = optuna.create_study(study_name="shared", storage=sqlite_storage, sampler=sampler)
    first = mine.ask()
    _objective(first)  # reads the trials (one: its own) into this study object's cache
    other = optuna.load_study(study_name="shared", storage=sqlite_storage, sampler=_tpe(OneReadTPESampler, 1))
    other.optimize(_objective, n_trials=8)
    seen = []
    real = OneReadTPESampler._sample

    def spy(self, study, trial, search_space):
        seen.append(len(study._get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,), use_cache=True)))
        return real(self, study, trial, search_space)

    OneReadTPESampler._sample = spy  # type: ignore[method-assign]
    try:
        drop_trials_cache(mine)
        trial = optuna.Trial(mine, mine._storage.create_new_trial(mine._study_id))
        _objective(trial)
    finally:
        OneReadTPESampler._sample = real  # type: ignore[method-assign]
    assert seen and seen[0] == 8  # the other worker's 8 finished trials, not the stale read's none
