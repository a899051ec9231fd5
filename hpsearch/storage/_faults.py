"""Database faults: telling them from the objective's errors, and riding out a database that blinks.

A trial's objective writes to the database while it runs (user attributes,
intermediate values). When such a write fails because the *database* failed
(a dropped connection, a restart, a failover, ``pg_terminate_backend``, a
vanished SQLite file), the trial did not fail: the attempt crashed, and its
slot must run again. ``is_storage_error`` tells the two apart by exception
type, along the exception's whole chain (Optuna wraps SQLAlchemy errors in
``StorageInternalError``; SQLAlchemy wraps the driver's).

A worker that meets a dropped connection retries the storage call with
jittered exponential backoff (``call_with_retries``): many workers that lost
the same server must not all reconnect in the same instant, and one that
waits must notice within a few seconds that the server is back. Only
connection-level errors are retried (``is_transient``); a constraint
violation or a full disk would fail again the same way. The patience (how
long the database may be gone) is ``HPSEARCH_DB_PATIENCE`` seconds, default
``DB_PATIENCE``; after it, ``DatabaseUnreachable`` says where and how long
(never the password), and the command exits 1.

Retried calls must be safe to repeat: every write hpsearch retries is an
upsert, a compare-and-swap or a conditional update, so a commit whose answer
was lost is recognised on the next attempt.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import optuna
import sqlalchemy as sa

from hpsearch.errors import UserError

DB_PATIENCE = 60.0  # seconds a worker waits for a database that went away before it gives up
FIRST_BACKOFF = 0.05  # seconds before the first retry; doubles per retry
MAX_BACKOFF = 5.0  # the longest wait between two retries: a returning server is noticed within it

T = TypeVar("T")


class DatabaseError(RuntimeError):
    """The database, not the input or the objective, stops the run: one line, exit 1."""


class DatabaseUnreachable(DatabaseError):
    """The database stayed unreachable for longer than the patience."""


class DatabaseLost(DatabaseError):
    """The SQLite file was deleted or replaced while in use: what is written now would be lost."""


class DatabaseFailing(DatabaseError):
    """The database answers, but failed many trials' writes in a row."""


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own error classes: SQLite's, and psycopg's once psycopg is loaded.

    Only a loaded psycopg can raise its errors, so it is looked up, never imported: importing it
    here cost every command that opens a storage, PostgreSQL or not, ~80 modules and ~8 MB (the
    server's idle RSS went from 151 to 160 MB).
    """
    found: list[type[BaseException]] = [sqlite3.OperationalError, sqlite3.DatabaseError, sqlite3.InterfaceError]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        found += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(found)


# Errors of the database, not of the objective: the connection, the server, the file.
_STORAGE_TYPES: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DBAPIError,
    sa.exc.DisconnectionError,
    sa.exc.PendingRollbackError,
    optuna.exceptions.StorageInternalError,
    DatabaseError,
)  # and the drivers' own (_driver_errors)
# Of those, the ones another attempt may not meet again: a connection lost or refused.
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.PendingRollbackError,
)
# SQLite says "operational error" for problems of the file too; these are the ones that pass.
_SQLITE_TRANSIENT = ("database is locked", "database table is locked")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 20:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is an error of the database, not of user code."""
    types = _STORAGE_TYPES + _driver_errors()
    return any(isinstance(e, types) for e in _chain(exc))


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed: a lost, refused or reset connection, or a busy SQLite lock."""
    for e in _chain(exc):
        if isinstance(e, DatabaseError):
            return False
        orig = e.orig if isinstance(e, sa.exc.DBAPIError) else e
        if isinstance(orig, sqlite3.Error):  # SQLite's "operational errors" include a full disk, a bad file
            return any(text in str(orig) for text in _SQLITE_TRANSIENT)
        if isinstance(e, sa.exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, _TRANSIENT_TYPES) or _is_driver_connection_error(e):
            return True
    return False


def _is_driver_connection_error(exc: BaseException) -> bool:
    """psycopg's OperationalError: the server went away, refused us, or is starting or stopping."""
    psycopg = sys.modules.get("psycopg")  # not loaded: not its error (see _driver_errors)
    return psycopg is not None and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def first_line(exc: BaseException) -> str:
    """The first line of the innermost database message (the driver's), for one-line reports."""
    chain = _chain(exc)
    for e in reversed(chain):
        text = str(getattr(e, "orig", None) or e).strip()
        if text and not isinstance(e, optuna.exceptions.StorageInternalError):
            return text.splitlines()[0]
    return type(exc).__name__


@dataclass
class RetryPolicy:
    """How long and how often a storage call is retried. ``clock``/``sleep``/``rng`` are for tests."""

    patience: float = DB_PATIENCE
    where: str = "the database"
    first: float = FIRST_BACKOFF
    cap: float = MAX_BACKOFF
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Seconds before retry ``attempt`` (0-based): "equal jitter", half fixed and half random.

        The fixed half bounds how fast a worker hammers a server that is down;
        the random half spreads the workers that lost it at the same moment.
        """
        ceiling = min(self.cap, self.first * 2**attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def retry_policy(url: str | sa.engine.URL) -> RetryPolicy:
    """The policy for ``url``: patience from env ``HPSEARCH_DB_PATIENCE`` (seconds), else DB_PATIENCE."""
    raw = os.environ.get("HPSEARCH_DB_PATIENCE", "")
    try:
        patience = float(raw) if raw else DB_PATIENCE
    except ValueError:
        raise UserError(f"env HPSEARCH_DB_PATIENCE: expected seconds (a number >= 0), got {raw!r}") from None
    if not patience >= 0:
        raise UserError(f"env HPSEARCH_DB_PATIENCE: expected seconds (a number >= 0), got {raw!r}")
    return RetryPolicy(patience=patience, where=database_location(url))


def database_location(url: str | sa.engine.URL) -> str:
    """Where a URL points, without its password: "host:port" for a server, the file for SQLite."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return "the database"
    if parsed.get_backend_name() == "sqlite":
        return f"file {parsed.database}" if parsed.database else "the in-memory database"
    host = parsed.host or "localhost"
    return f"{host}:{parsed.port}" if parsed.port else host


def call_with_retries(
    fn: Callable[[], T], policy: RetryPolicy | None, *, on_retry: Callable[[], None] | None = None
) -> T:
    """``fn()``, retried after transient database errors until ``policy.patience`` seconds have passed.

    The patience counts from the first failure of this call. ``on_retry`` runs
    before each retry (inside the retried part: its own database errors count
    as failures of the attempt). Non-transient errors propagate at once; when
    the patience runs out, DatabaseUnreachable.
    """
    if policy is None:
        return fn()
    started: float | None = None
    attempt = 0
    while True:
        try:
            if attempt and on_retry is not None:
                on_retry()
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            now = policy.clock()
            started = now if started is None else started
            waited = now - started
            if waited >= policy.patience:
                raise DatabaseUnreachable(
                    f"database unreachable at {policy.where} for {_seconds(max(waited, policy.patience))} "
                    f"(last error: {first_line(exc)}); run the same command again once it is back"
                ) from None
            policy.sleep(min(policy.backoff(attempt), max(0.0, policy.patience - waited)))
            attempt += 1


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


_LOST_CONNECTION = (
    "terminating connection",
    "server closed the connection",
    "connection failed",
    "connection refused",
    "consuming input failed",
    "the database system is",
    "connection is closed",
)


class _LostConnectionNoise(logging.Filter):
    """Drop Optuna's multi-line "Caught an error from sqlalchemy ... Falling back" warnings for lost connections.

    Optuna's trial query takes any OperationalError for "too many variables"
    and retries another way; on a dropped connection that warning (with its
    SQL) is noise: the call is retried here, and the one line that matters
    comes if the database stays away.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (
            text.startswith("Caught an error from sqlalchemy") and any(k in text.lower() for k in _LOST_CONNECTION)
        )


def quiet_lost_connection_warnings() -> None:
    """Install the filter above on Optuna's RDB storage logger (once; for the CLI and worker processes)."""
    logger = logging.getLogger("optuna.storages._rdb.storage")
    if not any(isinstance(f, _LostConnectionNoise) for f in logger.filters):
        logger.addFilter(_LostConnectionNoise())


class RetryingStorage:
    """An Optuna storage whose every call is retried after transient database errors.

    Given to a running trial (``trial.storage``), so that the objective's own
    writes (``trial.set_user_attr``, ``trial.report``) ride out a blink too.
    Everything else passes through unchanged.
    """

    def __init__(self, storage: Any, policy: RetryPolicy) -> None:
        self.inner = storage
        self.policy = policy

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name.startswith("_") or not callable(value):
            return value

        def retried(*args: Any, **kwargs: Any) -> Any:
            return call_with_retries(lambda: value(*args, **kwargs), self.policy)

        return retried


def policy_of(storage: Any) -> RetryPolicy | None:
    """The retry policy a storage carries (a RetryingStorage), else None (one attempt)."""
    return storage.policy if isinstance(storage, RetryingStorage) else None
