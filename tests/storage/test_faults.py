"""Database faults: which errors are the database's, and how a storage call rides out an outage (issue 26)."""

from __future__ import annotations

import random
import sqlite3

import optuna
import pytest
import sqlalchemy as sa

from hpsearch.storage import (
    DatabaseLost,
    DatabaseUnreachable,
    RetryPolicy,
    call_with_retries,
    database_location,
    is_storage_error,
    is_transient,
)


def _dropped_connection() -> sa.exc.OperationalError:
    """What SQLAlchemy raises when PostgreSQL terminates the backend mid-statement."""
    psycopg = pytest.importorskip("psycopg")
    return sa.exc.OperationalError(
        "SELECT 1", {}, psycopg.errors.AdminShutdown("terminating connection"), connection_invalidated=True
    )


def _wrapped_by_optuna(exc: BaseException) -> optuna.exceptions.StorageInternalError:
    """Optuna's RDBStorage re-raises SQLAlchemy errors as StorageInternalError ``from`` them."""
    try:
        raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc
    except optuna.exceptions.StorageInternalError as wrapped:
        return wrapped


def _raised_inside(exc: BaseException) -> BaseException:
    """``exc`` as user code sees it when it is raised while handling another error (implicit chaining)."""
    try:
        try:
            raise exc
        except Exception:
            raise RuntimeError("set_user_attr failed") from None
    except RuntimeError as outer:
        outer.__cause__ = exc
        return outer


def test_database_errors_are_storage_errors_along_the_whole_chain():
    dropped = _dropped_connection()
    assert is_storage_error(dropped)
    assert is_storage_error(_wrapped_by_optuna(dropped))
    assert is_storage_error(_raised_inside(_wrapped_by_optuna(dropped)))
    assert is_storage_error(sqlite3.OperationalError("disk I/O error"))
    assert is_storage_error(DatabaseLost("gone"))


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad config"), ZeroDivisionError(), KeyError("x"), RuntimeError("objective bug"), MemoryError()],
)
def test_errors_of_user_code_are_not_storage_errors(exc):
    assert not is_storage_error(exc)
    assert not is_transient(exc)


def test_transient_errors_are_connection_losses_not_bad_data_or_a_full_disk():
    dropped = _dropped_connection()
    assert is_transient(dropped)
    assert is_transient(_wrapped_by_optuna(dropped))
    locked = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert is_transient(locked)
    full = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    assert is_storage_error(full) and not is_transient(full)
    integrity = sa.exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not is_transient(integrity)
    assert not is_transient(DatabaseLost("gone")) and not is_transient(DatabaseUnreachable("gone"))


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def _policy(clock: FakeClock, patience: float = 60.0, seed: int = 0) -> RetryPolicy:
    return RetryPolicy(
        patience=patience, where="db.example:5432", clock=clock, sleep=clock.sleep, rng=random.Random(seed)
    )


def test_a_blink_shorter_than_the_patience_is_ridden_out():
    clock = FakeClock()
    outage_ends = clock.now + 45.0
    calls = []

    def storage_call() -> str:
        calls.append(clock.now)
        if clock.now < outage_ends:
            raise _dropped_connection()
        return "stored"

    assert call_with_retries(storage_call, _policy(clock)) == "stored"
    assert clock.now >= outage_ends
    assert clock.now - outage_ends <= 5.0, "a returning server is noticed within the longest backoff"
    assert max(clock.sleeps) <= 5.0


def test_an_outage_longer_than_the_patience_gives_one_line_with_host_and_port():
    clock = FakeClock()

    def storage_call() -> None:
        raise _wrapped_by_optuna(_dropped_connection())

    with pytest.raises(DatabaseUnreachable) as caught:
        call_with_retries(storage_call, _policy(clock, patience=60.0))
    message = str(caught.value)
    assert message.startswith("database unreachable at db.example:5432 for 60 s")
    assert "\n" not in message
    assert clock.now - 1000.0 == pytest.approx(60.0), "gives up at the patience, not before and not much after"


def test_errors_that_would_recur_are_not_retried():
    clock = FakeClock()
    calls = []

    def storage_call() -> None:
        calls.append(1)
        raise sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    with pytest.raises(sa.exc.OperationalError):
        call_with_retries(storage_call, _policy(clock))
    assert len(calls) == 1 and clock.sleeps == []


def test_backoff_grows_is_capped_and_spreads_workers_apart():
    clock = FakeClock()
    policy = _policy(clock)
    ceilings = [min(5.0, 0.05 * 2**n) for n in range(12)]
    waits = [policy.backoff(n) for n in range(12)]
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling
    # Many workers that lost the server at the same moment do not come back at the same moment.
    first_retries = {round(_policy(clock, seed=s).backoff(6), 6) for s in range(50)}
    assert len(first_retries) == 50


def test_on_retry_runs_before_each_retry_only():
    clock = FakeClock()
    undone = []
    attempts = iter([_dropped_connection(), _dropped_connection(), None])

    def storage_call() -> str:
        exc = next(attempts)
        if exc is not None:
            raise exc
        return "ok"

    assert call_with_retries(storage_call, _policy(clock), on_retry=lambda: undone.append(clock.now)) == "ok"
    assert len(undone) == 2


def test_locations_never_show_the_password():
    assert database_location("postgresql+psycopg://u:s3cret@db.example:6432/hp") == "db.example:6432"
    assert database_location("postgresql+psycopg://u:s3cret@db.example/hp") == "db.example"
    assert database_location("sqlite:///runs/hp.db") == "file runs/hp.db"


def test_optunas_fallback_warnings_about_lost_connections_are_dropped_and_others_kept(caplog):
    import logging

    from hpsearch.storage import quiet_lost_connection_warnings

    quiet_lost_connection_warnings()
    logger = logging.getLogger("optuna.storages._rdb.storage")
    with caplog.at_level(logging.WARNING, logger="optuna.storages._rdb.storage"):
        logger.warning("Caught an error from sqlalchemy: (psycopg.errors.AdminShutdown) terminating connection")
        logger.warning("Caught an error from sqlalchemy: too many SQL variables. Falling back to a slower alternative.")
    assert [r.getMessage() for r in caplog.records] == [
        "Caught an error from sqlalchemy: too many SQL variables. Falling back to a slower alternative."
    ]


def test_opening_storage_code_does_not_load_the_postgresql_driver():
    """psycopg's errors are looked up once psycopg is loaded, never imported for it: importing it with
    the storage cost every command ~80 modules and ~8 MB of server memory (SQLite users included)."""
    import subprocess
    import sys

    code = "import sys, hpsearch.storage, hpsearch.server._app; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
