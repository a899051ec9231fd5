"""Summaries from aggregate SQL equal the summaries computed from the trials (issue 17).

A mixed study holds every kind of trial hpsearch distinguishes: complete
(finite, +inf, -inf values, and a tie for the best), pruned (with and without
a value), diverged, failed by an objective error, crashed, running and
waiting. The SQL path (hpsearch.storage.study_overviews, history_points,
trial_page) must give what hpsearch.search._outcomes says of the same trials,
and must never load the trials.
"""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from hpsearch.search import best_trial, state_counts, state_name
from hpsearch.storage import (
    history_points,
    open_storage,
    param_names,
    read_trials,
    sql_engine,
    study_overview,
    study_overviews,
    trial_page,
    trials_fingerprint,
)
from hpsearch.storage._summaries import overview_from_trials
from tests.distributed.conftest import pg_server_url, pg_url  # noqa: F401 - fixtures

DISTS = {"x": FloatDistribution(0.0, 1.0), "c": CategoricalDistribution(["a", "b"])}


def _add(study, state, value=None, attrs=None, x=0.5, c="a"):
    study.add_trial(
        optuna.trial.create_trial(
            state=state,
            value=value,
            params={"x": x, "c": c},
            distributions=DISTS,
            user_attrs=attrs or {},
            intermediate_values={0: 0.1, 1: 0.2},
        )
    )


def _mixed(storage, name, direction="maximize"):
    study = optuna.create_study(study_name=name, storage=storage, direction=direction)
    study.set_user_attr("sampler", "random")
    _add(study, TrialState.COMPLETE, 0.5, x=0.1)
    _add(study, TrialState.COMPLETE, 0.9, x=0.2)
    _add(study, TrialState.PRUNED, x=0.3)
    _add(study, TrialState.PRUNED, 0.95, x=0.35)  # a pruned trial with a value is never the best
    _add(study, TrialState.FAIL, attrs={"diverged": True}, x=0.4)
    _add(study, TrialState.FAIL, attrs={"diverged": False}, x=0.45)  # falsy diverged: a crash
    _add(study, TrialState.FAIL, attrs={"error": "ValueError: boom"}, x=0.5)
    _add(study, TrialState.FAIL, attrs={"error": None}, x=0.55)  # error None: a crash
    _add(study, TrialState.FAIL, x=0.6)
    _add(study, TrialState.COMPLETE, 0.9, x=0.7, c="b")  # ties with #1: the first wins
    _add(study, TrialState.COMPLETE, 0.2, x=0.8)
    _add(study, TrialState.COMPLETE, float("inf"), x=0.85)  # not finite: never the best
    _add(study, TrialState.COMPLETE, float("-inf"), x=0.86)
    trial = study.ask()  # RUNNING
    trial.suggest_float("x", 0.0, 1.0)
    _add(study, TrialState.WAITING, x=0.9)  # after the ask, which would have taken it
    return study


def _no_trials(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("get_all_trials called")

    monkeypatch.setattr(optuna.storages.RDBStorage, "get_all_trials", refuse)
    monkeypatch.setattr(optuna.storages.RDBStorage, "get_trial", refuse)


def _check_equal(storage, monkeypatch):
    maxi = _mixed(storage, "maxi")
    mini = _mixed(storage, "mini", direction="minimize")
    optuna.create_study(study_name="empty", storage=storage)
    optuna.create_study(study_name="multi", storage=storage, directions=["minimize", "maximize"]).add_trial(
        optuna.trial.create_trial(state=TrialState.COMPLETE, values=[1.0, 2.0])
    )
    expected = {}
    for s in storage.get_all_studies():
        trials = storage.get_all_trials(s._study_id, deepcopy=False)
        expected[s.study_name] = (s, trials)
    _no_trials(monkeypatch)
    overviews = study_overviews(storage)
    assert [o.name for o in overviews] == ["empty", "maxi", "mini", "multi"]
    for o in overviews:
        s, trials = expected[o.name]
        slow = overview_from_trials(s._study_id, s.study_name, list(s.directions), dict(s.user_attrs), trials)
        assert o.states == slow.states == state_counts(trials)
        assert o.n_trials == slow.n_trials == len(trials)
        assert o.last_change == slow.last_change
        if len(s.directions) == 1:
            want = best_trial(trials, s.directions[0])
            assert (o.best is None) == (want is None)
            if want is not None:
                assert (o.best.number, o.best.value, o.best.trial_id) == (want.number, want.value, want._trial_id)
        else:
            assert o.best is None
    by = {o.name: o for o in overviews}
    assert by["maxi"].best.number == 1 and by["maxi"].best.value == 0.9
    assert by["mini"].best.number == 10 and by["mini"].best.value == 0.2
    assert by["maxi"].states == {
        "complete": 6,
        "pruned": 2,
        "diverged": 1,
        "failed": 1,
        "crashed": 3,
        "waiting": 1,
        "running": 1,
    }
    one = study_overview(storage, maxi._study_id, "maxi")
    assert (one.states, one.best, one.n_trials) == (by["maxi"].states, by["maxi"].best, by["maxi"].n_trials)
    assert [o.name for o in study_overviews(storage, names=["mini", "nope"])] == ["mini"]
    assert study_overviews(storage, comparison="g") == []
    return maxi, mini, expected


def _check_points(storage, study, trials):
    engine = sql_engine(storage)
    points = history_points(engine, study._study_id)
    assert [p.number for p in points] == sorted(t.number for t in trials)
    by_number = {t.number: t for t in trials}
    for p in points:
        t = by_number[p.number]
        assert p.state == t.state and state_name(p) == state_name(t)
        assert p.values == t.values
        want = t.duration.total_seconds() if t.duration is not None else None
        assert (p.duration is None) == (want is None)
        if want is not None:
            assert abs(p.duration - want) < 2e-3  # SQLite's julianday keeps milliseconds
    assert param_names(engine, study._study_id) == ["c", "x"]


def _check_pages(storage, study, trials):
    engine = sql_engine(storage)
    sid = study._study_id
    numbers = sorted(t.number for t in trials)
    assert [p.number for p in trial_page(engine, sid, limit=1000)] == numbers[::-1]
    assert [p.number for p in trial_page(engine, sid, descending=False, offset=3, limit=4)] == numbers[3:7]
    assert trial_page(engine, sid, offset=1000) == []
    # By value: -inf < finite < +inf, trials without a value last, ties by number in the same direction.
    ranked = sorted((t for t in trials if t.values), key=lambda t: (t.values[0], t.number))
    tail = sorted(t.number for t in trials if not t.values)
    assert [p.number for p in trial_page(engine, sid, sort="value", descending=False, limit=100)] == [
        t.number for t in ranked
    ] + tail
    assert [p.number for p in trial_page(engine, sid, sort="value", limit=100)] == [
        t.number for t in ranked[::-1]
    ] + tail[::-1]
    page = trial_page(engine, sid, sort="value", limit=2)
    by_number = {t.number: t for t in trials}
    for p in page:
        assert p.params == by_number[p.number].params
    assert {p.number for p in trial_page(engine, sid, sort="state", limit=100)} == set(numbers)
    durations = trial_page(engine, sid, sort="duration", descending=False, limit=100)
    known = [p.duration for p in durations if p.duration is not None]
    assert known == sorted(known) and all(p.duration is None for p in durations[len(known) :])
    with pytest.raises(ValueError):
        trial_page(engine, sid, sort="params")


def _check_read_trials(storage):
    for s in storage.get_all_studies():
        slow = sorted(storage.get_all_trials(s._study_id, deepcopy=False), key=lambda t: t.number)
        assert read_trials(storage, s._study_id) == slow


def test_sqlite_summary_equals_trial_summary(sqlite_storage, monkeypatch):
    maxi, _, expected = _check_equal(sqlite_storage, monkeypatch)
    monkeypatch.undo()
    _check_read_trials(sqlite_storage)
    _check_points(sqlite_storage, maxi, expected["maxi"][1])
    _check_pages(sqlite_storage, maxi, expected["maxi"][1])


def test_fingerprint_changes_when_a_trial_ends(sqlite_storage):
    study = optuna.create_study(study_name="f", storage=sqlite_storage)
    engine = sql_engine(sqlite_storage)
    empty = trials_fingerprint(engine, [study._study_id])
    trial = study.ask()
    started = trials_fingerprint(engine, [study._study_id])
    study.tell(trial, 1.0)
    done = trials_fingerprint(engine, None)
    assert len({empty, started, done}) == 3 and done[:2] == (1, 1)


def test_in_memory_storage_falls_back_to_trials():
    storage = optuna.storages.InMemoryStorage()
    assert sql_engine(storage) is None
    study = _mixed(storage, "mem")
    trials = study.get_trials(deepcopy=False)
    (o,) = study_overviews(storage)
    assert o.states == state_counts(trials) and o.best.number == best_trial(trials, study.direction).number
    assert study_overview(storage, study._study_id, "mem").states == o.states
    assert read_trials(storage, study._study_id) == trials


@pytest.mark.postgres
def test_postgresql_summary_equals_trial_summary(pg_url, monkeypatch):  # noqa: F811 - the fixture
    storage = open_storage(pg_url, heartbeat=False)
    try:
        maxi, _, expected = _check_equal(storage, monkeypatch)
        monkeypatch.undo()
        _check_read_trials(storage)
        _check_points(storage, maxi, expected["maxi"][1])
        _check_pages(storage, maxi, expected["maxi"][1])
    finally:
        storage.engine.dispose()


def test_values_are_exact(sqlite_storage):
    study = optuna.create_study(study_name="v", storage=sqlite_storage)
    value = 0.1 + 0.2  # 0.30000000000000004 survives the round trip
    _add(study, TrialState.COMPLETE, value)
    (o,) = study_overviews(sqlite_storage)
    assert o.best.value == value and not math.isnan(o.best.duration or 0.0)
