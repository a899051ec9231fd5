"""Idempotent ask and tell: a client that lost an answer (or its server) asks or tells again safely."""

from __future__ import annotations

import optuna
import pytest
from fastapi.testclient import TestClient
from optuna.trial import TrialState

from hpsearch.server import create_app
from tests.server.conftest import grid_spec


def _client(storage_url: str, **kw) -> TestClient:
    return TestClient(create_app(storage_url, **kw), base_url="http://127.0.0.1", raise_server_exceptions=False)


def _ask(client, name="grid", key=None):
    return client.post(f"/api/studies/{name}/ask", headers={"Idempotency-Key": key} if key else {})


def _trials(storage_url, name="grid"):
    return optuna.load_study(study_name=name, storage=storage_url).trials


def test_asking_again_with_the_same_key_returns_the_same_trial_until_it_is_told(client):
    assert client.post("/api/studies", json=grid_spec()).status_code == 201
    first = _ask(client, key="k1").json()
    assert _ask(client, key="k1").json() == first
    other = _ask(client, key="k2").json()
    plain = _ask(client).json()
    assert len({first["trial"], other["trial"], plain["trial"]}) == 3
    assert client.post("/api/studies/grid/tell", json={"trial": first["trial"], "value": 1.0}).status_code == 200
    after = _ask(client, key="k1").json()
    assert after["trial"] not in (first["trial"], other["trial"], plain["trial"])


def test_the_key_outlives_a_server_restart(storage_url):
    with _client(storage_url) as client:
        client.post("/api/studies", json=grid_spec())
        first = _ask(client, key="restart").json()
    with _client(storage_url) as client:  # a new server process would see the same database
        assert _ask(client, key="restart").json() == first
    assert [t.state for t in _trials(storage_url)] == [TrialState.RUNNING]


@pytest.mark.parametrize("key", ["", "x" * 201, "tab\there"])
def test_a_malformed_key_is_400(client, key):
    client.post("/api/studies", json=grid_spec())
    r = client.post("/api/studies/grid/ask", headers={"Idempotency-Key": key})
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["error"]


@pytest.mark.parametrize(
    ("told", "again", "status"),
    [
        ({"value": 0.5}, {"value": 0.5}, 200),
        ({"value": 0.5}, {"value": 0.25}, 409),
        ({"value": 0.5}, {"state": "fail"}, 409),
        ({"state": "fail"}, {"state": "fail"}, 200),
        ({"state": "fail"}, {"state": "diverged"}, 409),
        ({"state": "pruned"}, {"state": "pruned"}, 200),
        ({"state": "diverged"}, {"state": "diverged"}, 200),
        ({"state": "diverged"}, {"state": "fail"}, 409),
    ],
)
def test_a_repeated_tell_is_200_only_with_the_same_outcome(client, told, again, status):
    client.post("/api/studies", json=grid_spec())
    trial = _ask(client).json()["trial"]
    first = client.post("/api/studies/grid/tell", json={"trial": trial, **told})
    assert first.status_code == 200
    r = client.post("/api/studies/grid/tell", json={"trial": trial, **again})
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == first.json()
    else:
        assert "already finished" in r.json()["error"]


class _Crash(BaseException):
    """The server process dying at this point (not an Exception: nothing may clean up after it)."""


def _ask_and_die_before_attaching(monkeypatch, study, spec, **ask):
    """An ask by a server that died between creating its claimed slot's trial and attaching it to the claim.

    hpsearch does both in one transaction now (nothing of a trial survives a
    crash in it, see below); databases written by earlier versions, which did
    them in two steps, can hold such trials, and an ask must still recover them.
    """
    from hpsearch.search import ask_trial

    def created_then_crashed(study, claim, template, *, heartbeat):
        study._storage.create_new_trial(study._study_id, template_trial=template)
        raise _Crash

    with monkeypatch.context() as m:
        m.setattr("hpsearch.storage._store.start_trial", created_then_crashed)  # under OptunaTrialStore.start
        with pytest.raises(_Crash):
            ask_trial(study, spec, record_pid=False, lease=3600, **ask)


def _library_study(storage_url):
    from hpsearch.search import load_study
    from hpsearch.storage import open_storage

    return load_study(open_storage(storage_url, heartbeat=False), "grid")


def test_a_trial_whose_first_ask_died_before_its_parameters_gets_them_on_the_retry(client, storage_url, monkeypatch):
    from hpsearch.search import ask_trial

    client.post("/api/studies", json=grid_spec())
    study, spec = _library_study(storage_url)

    def crash(*args, **kwargs):
        raise _Crash

    with monkeypatch.context() as m:
        m.setattr("hpsearch.space.suggest", crash)
        with pytest.raises(_Crash):
            ask_trial(study, spec, record_pid=False, lease=3600, key="half")
    (trial,) = _trials(storage_url)
    assert trial.state == TrialState.RUNNING and trial.params == {}
    again = _ask(client, key="half").json()
    assert again["trial"] == trial.number and set(again["params"]) == {"x", "c"}
    assert _ask(client, key="half").json() == again


def test_a_trial_created_but_not_yet_attached_to_its_slot_is_attached_on_the_retry(client, storage_url, monkeypatch):
    from hpsearch.storage import engine_of, slot_trial_ids

    client.post("/api/studies", json=grid_spec())
    study, spec = _library_study(storage_url)

    _ask_and_die_before_attaching(monkeypatch, study, spec, key="early")
    assert slot_trial_ids(engine_of(study._storage), study._study_id) == {0: None}
    again = _ask(client, key="early").json()
    (trial,) = _trials(storage_url)
    assert again["trial"] == trial.number
    assert slot_trial_ids(engine_of(study._storage), study._study_id) == {0: trial._trial_id}


def test_a_crash_while_a_trial_is_being_started_leaves_no_trial_and_its_slot_is_taken_over(
    client, storage_url, monkeypatch
):
    import sqlalchemy as sa

    from hpsearch.search import ask_trial
    from hpsearch.storage import engine_of, slot_trial_ids

    client.post("/api/studies", json=grid_spec())
    study, spec = _library_study(storage_url)
    engine = engine_of(study._storage)

    def die_at_attach(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE HPSEARCH_CLAIMS"):
            raise _Crash

    sa.event.listen(engine, "before_cursor_execute", die_at_attach)
    try:
        with pytest.raises(_Crash):
            ask_trial(study, spec, record_pid=False, lease=3600, key="mid")
    finally:
        sa.event.remove(engine, "before_cursor_execute", die_at_attach)
    assert _trials(storage_url) == []  # the trial row, its attributes and heartbeat were rolled back
    assert slot_trial_ids(engine, study._study_id) == {0: None}  # the claim, from its own transaction, stays
    with monkeypatch.context() as m:
        m.setattr("hpsearch.storage._claims.pid_alive", lambda pid: False)  # the asking server is dead
        retry = _ask(client, key="mid").json()
    (trial,) = _trials(storage_url)
    assert retry["trial"] == trial.number == 0 and trial.state == TrialState.RUNNING
    assert slot_trial_ids(engine, study._study_id) == {0: trial._trial_id}


def test_a_slot_taken_over_after_a_crash_fails_the_old_trial_and_the_retry_gets_a_new_one(
    client, storage_url, monkeypatch
):

    client.post("/api/studies", json=grid_spec())
    study, spec = _library_study(storage_url)

    _ask_and_die_before_attaching(monkeypatch, study, spec, key="late")
    with monkeypatch.context() as m:
        m.setattr("hpsearch.storage._claims.pid_alive", lambda pid: False)  # the asking server is dead
        other = _ask(client).json()  # takes the abandoned slot 0 over
    retry = _ask(client, key="late").json()
    trials = _trials(storage_url)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING]
    assert "taken over" in trials[0].system_attrs["fail_reason"]
    assert (other["trial"], retry["trial"]) == (1, 2)


def test_once_every_slot_is_done_no_orphaned_trial_stays_running(client, storage_url, monkeypatch):

    spec = grid_spec()
    spec["space"] = {"c": {"type": "categorical", "choices": ["a"]}}
    client.post("/api/studies", json=spec)
    study, loaded = _library_study(storage_url)

    _ask_and_die_before_attaching(monkeypatch, study, loaded)  # no key: no client will ever retry it
    with monkeypatch.context() as m:
        m.setattr("hpsearch.storage._claims.pid_alive", lambda pid: False)
        trial = _ask(client).json()["trial"]
    assert client.post("/api/studies/grid/tell", json={"trial": trial, "value": 1.0}).status_code == 200
    r = _ask(client)
    assert r.status_code == 409 and "complete" in r.json()["error"]
    states = [t.state for t in _trials(storage_url)]
    assert states == [TrialState.FAIL, TrialState.COMPLETE]


def test_an_ask_whose_suggestion_fails_leaves_no_running_trial_and_frees_its_slot(client, storage_url, monkeypatch):
    spec = grid_spec()
    spec["space"] = {"c": {"type": "categorical", "choices": ["a"]}}
    client.post("/api/studies", json=spec)

    def broken(trial, space):
        raise OverflowError("range too wide to sample")

    with monkeypatch.context() as m:
        m.setattr("hpsearch.space.suggest", broken)
        r = _ask(client)
    assert r.status_code == 422 and "could not suggest parameters" in r.json()["error"]
    (failed,) = _trials(storage_url)
    assert failed.state == TrialState.FAIL and "range too wide" in failed.system_attrs["fail_reason"]
    again = _ask(client).json()  # the one slot is free again
    assert again == {"trial": 1, "params": {"c": "a"}}
