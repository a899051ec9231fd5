"""hpsearch.storage: URL resolution, SQLite set-up, the stored spec, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.errors import StudyNotFound, UserError
from hpsearch.spec import spec_from_dict
from hpsearch.storage import (
    load_study_spec,
    open_storage,
    resolve_storage_url,
    save_spec,
    storage_exists,
)

SPEC = {
    "study": {
        "name": "alpha",
        "objective": "m:f",
        "direction": "maximize",
        "sampler": "random",
        "n_trials": 5,
        "seed": 4,
    },
    "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
}


def test_storage_url_precedence(monkeypatch):
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    assert resolve_storage_url(None) == "sqlite:///hpsearch.db"
    monkeypatch.setenv("HPSEARCH_STORAGE", "sqlite:///env.db")
    assert resolve_storage_url(None) == "sqlite:///env.db"
    assert resolve_storage_url("sqlite:///cli.db") == "sqlite:///cli.db"


@pytest.mark.parametrize(
    "url, words",
    [
        ("not a url", "not a database URL"),
        ("foo://x", "foo"),
        ("sqlite:////no/such/dir/x.db", "does not exist"),
    ],
)
def test_bad_urls_are_user_errors(url, words):
    with pytest.raises(UserError, match=words):
        open_storage(url)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="not a usable SQLite database"):
        open_storage(f"sqlite:///{junk}")
    assert junk.read_bytes() == b"this is not a database" * 100


def test_sqlite_is_wal_and_reopening_keeps_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert not storage_exists(url)
    storage = open_storage(url)
    study = optuna.create_study(study_name="kept", storage=storage)
    study.add_trial(optuna.trial.create_trial(value=1.5, params={}, distributions={}))
    storage.engine.dispose()
    assert storage_exists(url)
    with sqlite3.connect(tmp_path / "a.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = optuna.load_study(study_name="kept", storage=open_storage(url))
    assert [t.value for t in again.trials] == [1.5]


def test_heartbeats_are_on_and_configurable(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    storage = open_storage(url)
    assert storage.heartbeat_interval == 5 and storage.grace_period == 20
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("HPSEARCH_GRACE_PERIOD", "3")
    storage = open_storage(url)
    assert storage.heartbeat_interval == 1 and storage.grace_period == 3
    monkeypatch.setenv("HPSEARCH_GRACE_PERIOD", "soon")
    with pytest.raises(UserError, match="HPSEARCH_GRACE_PERIOD"):
        open_storage(url)


def test_spec_round_trips_through_the_study(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    spec = spec_from_dict(SPEC)
    study = optuna.create_study(study_name="alpha", storage=storage, direction="maximize")
    save_spec(study, spec, sampler_args={"seed": 4})
    assert load_study_spec(storage, "alpha") == spec
    attrs = study.user_attrs
    assert attrs["sampler"] == "random" and attrs["seed"] == 4
    assert attrs["sampler_args"] == {"seed": 4}
    assert attrs["optuna_version"] == optuna.__version__


def test_unknown_study_names_close_matches(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(StudyNotFound, match="holds no studies"):
        load_study_spec(storage, "alpha")
    optuna.create_study(study_name="alpha", storage=storage)
    with pytest.raises(StudyNotFound, match="did you mean 'alpha'"):
        load_study_spec(storage, "alpah")
    with pytest.raises(UserError, match="no stored hpsearch spec"):
        load_study_spec(storage, "alpha")


HAMMER = textwrap.dedent("""
    import sys, optuna
    from hpsearch.storage import open_storage
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(sys.argv[1])
    study = optuna.load_study(study_name="busy", storage=storage)
    for i in range(int(sys.argv[2])):
        trial = study.ask()
        x = trial.suggest_float("x", 0, 1)
        trial.set_user_attr("writer", sys.argv[3])
        study.tell(trial, x)
""")


@pytest.mark.slow
def test_parallel_writers_never_see_database_is_locked(tmp_path):
    """Three processes creating and finishing trials as fast as they can."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    optuna.create_study(study_name="busy", storage=open_storage(url))
    n = 60
    procs = [
        subprocess.Popen([sys.executable, "-c", HAMMER, url, str(n), str(k)], stderr=subprocess.PIPE, text=True)
        for k in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(errors)
    assert not any("locked" in e for e in errors)
    trials = optuna.load_study(study_name="busy", storage=open_storage(url)).trials
    assert len(trials) == 3 * n
    assert sorted(t.number for t in trials) == list(range(3 * n))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert {t.user_attrs["writer"] for t in trials} == {"0", "1", "2"}
