"""Open Optuna's RDB storage on any SQLAlchemy URL, set up for parallel workers.

SQLite is the default and the tricky case: with several worker processes
writing at once, SQLite's default (rollback journal, deferred transactions)
fails with "database is locked". Three settings avoid that:

* WAL journal, so readers never block the writer (persisted in the file);
* a long busy timeout (``connect_args timeout``), so a writer waits for the lock;
* ``isolation_level="IMMEDIATE"``, so Python's sqlite3 opens every write
  transaction with ``BEGIN IMMEDIATE``. A deferred transaction that first reads
  and then writes cannot wait for the lock (SQLite returns SQLITE_BUSY at once
  to avoid a deadlock); taking the write lock up front lets the busy timeout work.

Heartbeats are on, so a trial whose worker died is failed after the grace period.

Opening costs: Optuna's RDBStorage checks the schema version with alembic on
every open, which imports alembic and loads its 10 migration scripts (0.2-0.3 s
of a run's start-up on this machine, paid again by every worker). On SQLite,
``_QuickVersionManager`` reads and (for a new file) stamps the one-row
``alembic_version`` table with plain SQL instead, against the head revision
read from Optuna's migration file names and headers; anything unexpected (an
old schema, an unknown revision) goes to Optuna's own alembic code.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from urllib.parse import quote

import optuna
import sqlalchemy
from sqlalchemy.engine import make_url

from hpsearch.errors import UserError
from hpsearch.storage._fast_rdb import FastRDBStorage
from hpsearch.storage._faults import DatabaseLost, RetryPolicy, call_with_retries
from hpsearch.storage._optuna import backend_of
from hpsearch.storage._urls import display_url

DEFAULT_STORAGE = "sqlite:///hpsearch.db"
HEARTBEAT_INTERVAL = 5  # seconds between heartbeats of a running trial
GRACE_PERIOD = 20  # seconds without a heartbeat before a RUNNING trial counts as dead
SQLITE_BUSY_TIMEOUT = 120.0  # seconds a writer waits for the lock before giving up
WAL_SIZE_LIMIT = 16 * 1024 * 1024  # bytes a SQLite WAL is cut back to after a checkpoint


def resolve_storage_url(cli_value: str | None) -> str:
    """The storage URL: ``--storage``, else env ``HPSEARCH_STORAGE``, else ./hpsearch.db."""
    if cli_value:
        return cli_value
    return os.environ.get("HPSEARCH_STORAGE") or DEFAULT_STORAGE


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory or non-SQLite URLs)."""
    parsed = _parse(url)
    if not parsed.get_backend_name() == "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def storage_exists(url: str) -> bool:
    """False only when the URL names a SQLite file that does not exist yet.

    Read-only commands use this to answer "unknown study" without creating an
    empty database file as a side effect.
    """
    path = sqlite_path(url)
    return path is None or path.exists()


def open_storage(
    url: str, *, heartbeat: bool = True, read_only: bool = False, retry: RetryPolicy | None = None
) -> optuna.storages.RDBStorage:
    """Optuna RDBStorage on ``url``; creates Optuna's tables and the claims table.

    A malformed URL, a missing driver or an unreachable server raise UserError.
    Table creation is ``CREATE TABLE IF NOT EXISTS``-like (checkfirst), so opening
    an existing database never rewrites it.

    ``read_only`` (the commands that only read: studies, show, best, export,
    report): nothing is created or changed. A SQLite file is opened with
    SQLite's ``mode=ro`` (so even a bug cannot write to it), must already be an
    Optuna database (anything else is refused, not migrated), keeps its journal
    mode, and may sit on a read-only file or filesystem.

    A SQLite file opened for writing is watched: if it is deleted or replaced
    while in use, the next transaction raises DatabaseLost (SQLite would go on
    writing into the deleted file, and every trial since would be lost).

    ``retry`` (run and worker): a server that cannot be reached is waited for,
    as ``call_with_retries`` does, then DatabaseUnreachable; without it, a
    UserError at once.
    """
    parsed = _parse(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    engine_kwargs: dict = {}
    if sqlite and read_only and sqlite_path(url) is not None:
        engine_kwargs["creator"] = _read_only_connector(url)
    elif sqlite:
        engine_kwargs["connect_args"] = {
            "timeout": SQLITE_BUSY_TIMEOUT,
            "isolation_level": "IMMEDIATE",
        }
        _prepare_sqlite_file(url)
        path = sqlite_path(url)
        if path is not None:  # from now on, never create the file again (see _watch_file)
            uri = f"file:{quote(str(path.absolute()))}?mode=rw"
            engine_kwargs["creator"] = lambda: sqlite3.connect(
                uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT, isolation_level="IMMEDIATE", check_same_thread=False
            )
    else:
        engine_kwargs["pool_pre_ping"] = True
    hb = _heartbeat_settings() if heartbeat else {}
    try:
        storage = call_with_retries(
            lambda: _create_rdb_storage(url, engine_kwargs, hb, read_only=read_only), None if sqlite else retry
        )
    except ImportError as exc:
        raise UserError(f"storage {display_url(url)!r}: the database driver is not installed ({exc})") from None
    except (sqlalchemy.exc.OperationalError, optuna.exceptions.StorageInternalError) as exc:
        if sqlite and not read_only:
            raise UserError(sqlite_trouble(url, exc)) from None
        raise UserError(f"storage {display_url(url)!r}: cannot open the database ({_first_line(exc)})") from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise UserError(f"storage {display_url(url)!r}: {exc}") from None
    if read_only:
        return storage
    if sqlite:
        sqlalchemy.event.listen(storage.engine, "connect", _sqlite_connection_setup)
        storage.engine.dispose()  # connections made so far lack the setting
        path = sqlite_path(url)
        if path is not None:
            _watch_file(storage.engine, path)
    from hpsearch.storage._claims import ensure_claims_table
    from hpsearch.storage._queue import ensure_queue_table

    def ensure_tables() -> None:
        ensure_claims_table(storage.engine)
        ensure_queue_table(storage.engine)

    try:
        call_with_retries(ensure_tables, None if sqlite else retry)
    except sqlalchemy.exc.OperationalError as exc:
        where = display_url(url)
        raise UserError(sqlite_trouble(url, exc) if sqlite else f"storage {where!r}: {_first_line(exc)}") from None
    return storage


def _watch_file(engine: sqlalchemy.Engine, path: Path) -> None:
    """Raise DatabaseLost at the start of any transaction once ``path`` is not the file we opened.

    SQLite keeps writing into a deleted (or renamed-over) file through its open
    descriptor and reports success: the run would end "complete" with every
    trial in a file nobody can open. One ``stat`` per transaction (microseconds)
    compares the path's device and inode with those of the file at open.
    """
    opened = path.stat()
    identity = (opened.st_dev, opened.st_ino)

    def check(_connection: object) -> None:
        try:
            now = path.stat()
        except FileNotFoundError:
            raise DatabaseLost(
                f"database file {str(path)!r} was deleted while in use; "
                "the trials since it was deleted are not in any file"
            ) from None
        if (now.st_dev, now.st_ino) != identity:
            raise DatabaseLost(
                f"database file {str(path)!r} was replaced by another file while in use; "
                "the trials written since are not in it"
            )

    sqlalchemy.event.listen(engine, "begin", check)


def _read_only_connector(url: str) -> Callable[[], sqlite3.Connection]:
    """A sqlite3 connect function for ``mode=ro`` (``immutable=1`` where SQLite cannot even make its -shm file)."""
    path = sqlite_path(url)
    assert path is not None
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    try:
        _check_optuna_file(url, sqlite3.connect(uri, uri=True))
    except sqlite3.OperationalError:
        # A WAL database on a read-only directory: SQLite cannot create the -shm file it reads
        # through. immutable=1 reads the main file alone (a clean exit left everything in it).
        uri += "&immutable=1"
        try:
            _check_optuna_file(url, sqlite3.connect(uri, uri=True))
        except sqlite3.Error as exc:
            raise UserError(f"storage {display_url(url)!r}: cannot read the database ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise UserError(f"storage {display_url(url)!r}: not a SQLite database ({exc})") from None

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT, check_same_thread=False)

    return connect


OPTUNA_TABLES = ("studies", "trials", "version_info")


def _check_optuna_file(url: str, con: sqlite3.Connection) -> None:
    """Refuse (UserError) a SQLite file that is not an Optuna/hpsearch database; closes ``con``."""
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    missing = [t for t in OPTUNA_TABLES if t not in tables]
    if missing:
        raise UserError(
            f"storage {display_url(url)!r}: not an hpsearch/Optuna database (it has no table {missing[0]!r}); "
            "reading commands leave it as it is"
        )


def checkpoint(storage: optuna.storages.BaseStorage) -> None:
    """Move a SQLite WAL's pages into the database file and empty the WAL (``wal_checkpoint(TRUNCATE)``).

    After this the ``.db`` file alone holds the study: copying it (without its
    ``-wal``) copies every trial. Called when a run or worker ends, however it
    ends. Best effort: a busy database (other workers still writing) keeps
    the pages in its WAL until they exit; a database gone is left alone.
    """
    engine = engine_of(storage)
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as con:
            con.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception:  # noqa: BLE001 - the run's own outcome matters more than the checkpoint's
        pass
    engine.dispose()


def _sqlite_connection_setup(dbapi_connection, _record) -> None:
    """synchronous=NORMAL: in WAL mode a commit then skips an fsync (safe against corruption;
    only a power cut can lose the last commits), which halves the cost of a trial's writes."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    # After each checkpoint that empties the WAL, cut the file back to this size: SQLite's own
    # automatic checkpoints (every 1000 pages) then keep it from growing with the study.
    dbapi_connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")


def _create_rdb_storage(
    url: str, engine_kwargs: dict, hb: dict, *, read_only: bool = False
) -> optuna.storages.RDBStorage:
    """RDBStorage(url), retried when another process is creating the same tables right now.
    (hpsearch's subclass: its trial reads skip Optuna's ORM, see _fast_rdb.)

    Two workers starting together on a fresh PostgreSQL database both run
    CREATE TYPE/TABLE; the loser gets a duplicate-key error although the schema
    is now complete, so a second attempt (checkfirst) succeeds.
    """
    for attempt in range(6):
        try:
            with warnings.catch_warnings(), _quick_version_checks(url):
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return FastRDBStorage(url, engine_kwargs=engine_kwargs, skip_table_creation=read_only, **hb)
        except (sqlalchemy.exc.DBAPIError, optuna.exceptions.StorageInternalError) as exc:
            text = str(exc).lower()
            racing = isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in text or "duplicate" in text
            if not racing or attempt == 5:
                raise
            time.sleep(0.2 + 0.3 * random.random())
    raise AssertionError("unreachable")


_VERSION_LOCK = threading.Lock()


class _quick_version_checks:
    """While RDBStorage(url) is built: SQLite's schema-version checks in plain SQL (see the module docstring).

    Optuna's storage module names its version manager once, as a module global,
    so it is swapped for ours during the constructor call only (under a lock).
    """

    def __init__(self, url: str) -> None:
        self._on = _parse(url).get_backend_name() == "sqlite" and _head_revision() is not None

    def __enter__(self) -> None:
        if not self._on:
            return
        from optuna.storages._rdb import storage as rdb

        _VERSION_LOCK.acquire()
        self._original = rdb._VersionManager
        rdb._VersionManager = _quick_version_manager(self._original)  # type: ignore[assignment, misc]

    def __exit__(self, *exc) -> None:
        if not self._on:
            return
        from optuna.storages._rdb import storage as rdb

        rdb._VersionManager = self._original  # type: ignore[misc]
        _VERSION_LOCK.release()


@cache
def _quick_version_manager(base: type) -> type:
    class _QuickVersionManager(base):
        """Optuna's _VersionManager, with alembic's SQL done directly when the schema is current."""

        def _init_alembic(self) -> None:
            from optuna.storages._rdb import models

            head = _head_revision()
            with self.engine.begin() as con:
                has_table = con.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
                ).first()
                if has_table:
                    if con.exec_driver_sql("SELECT version_num FROM alembic_version").first() is not None:
                        return  # stamped already: alembic would do nothing either
                info = con.exec_driver_sql("SELECT schema_version FROM version_info").first()
                if info is None or info[0] != models.SCHEMA_VERSION or head is None:
                    pass  # an old schema: alembic's own code below
                else:  # a new database: stamp it with the head, as alembic's stamp does
                    if not has_table:
                        con.exec_driver_sql(
                            "CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, \n\t"
                            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)"
                        )
                    con.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
                    return
            super()._init_alembic()

        def check_table_schema_compatibility(self) -> None:
            with self.engine.connect() as con:
                row = con.exec_driver_sql("SELECT version_num FROM alembic_version").first()
            if row is None or row[0] != _head_revision():
                super().check_table_schema_compatibility()  # Optuna's message, or its own check

        def get_head_version(self) -> str:
            return _head_revision() or super().get_head_version()

    return _QuickVersionManager


@cache
def _head_revision() -> str | None:
    """The head of Optuna's schema migrations, read from its migration scripts without alembic (None if unsure).

    Each script says ``revision = "..."`` and ``down_revision = "..."``; the head is
    the one revision no other script names as its down revision.
    """
    folder = Path(optuna.storages.__file__).parent / "_rdb" / "alembic" / "versions"
    revisions, downs = set(), set()
    try:
        for path in folder.glob("*.py"):
            text = path.read_text(encoding="utf-8")
            rev = re.search(r'^revision\s*=\s*["\']([^"\']+)["\']', text, re.M)
            down = re.search(r'^down_revision\s*=\s*(None|["\']([^"\']+)["\'])', text, re.M)
            if rev is None or down is None:
                return None
            revisions.add(rev.group(1))
            if down.group(2):
                downs.add(down.group(2))
    except OSError:
        return None
    heads = revisions - downs
    return next(iter(heads)) if len(heads) == 1 and len(revisions) > 1 else None


def engine_of(storage: optuna.storages.BaseStorage) -> sqlalchemy.Engine:
    """The SQLAlchemy engine under an RDBStorage (a Study wraps it in a cache layer)."""
    backend = backend_of(storage)
    if not isinstance(backend, optuna.storages.RDBStorage):
        raise UserError("hpsearch needs an RDB storage (an SQLAlchemy URL)")
    return backend.engine


def _heartbeat_settings() -> dict[str, int]:
    """Heartbeat interval and grace period; env HPSEARCH_HEARTBEAT_INTERVAL / HPSEARCH_GRACE_PERIOD
    override them (tests and impatient clusters use a second or two)."""
    out = {}
    for key, env, default in (
        ("heartbeat_interval", "HPSEARCH_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL),
        ("grace_period", "HPSEARCH_GRACE_PERIOD", GRACE_PERIOD),
    ):
        raw = os.environ.get(env, "")
        try:
            out[key] = int(raw) if raw else default
        except ValueError:
            raise UserError(f"env {env}: expected a whole number of seconds, got {raw!r}") from None
        if out[key] < 1:
            raise UserError(f"env {env}: expected at least 1 second, got {raw!r}")
    return out


def _parse(url: str) -> sqlalchemy.engine.URL:
    try:
        return make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise UserError(
            f"storage {display_url(url)!r}: not a database URL (expected e.g. sqlite:///hpsearch.db "
            "or postgresql+psycopg://user@host/db)"
        ) from None


def _prepare_sqlite_file(url: str) -> None:
    """Switch the file to WAL once (the mode is stored in the file itself).

    Switching needs the file to itself. When other processes open the same new
    file at that moment, SQLite may answer "database is locked" at once instead
    of waiting out the busy timeout (it does so whenever waiting could
    deadlock: this connection already reads the file and must upgrade its
    lock), so that answer is retried, for as long as the busy timeout.
    """
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.exists():
        raise UserError(f"storage {display_url(url)!r}: directory {str(path.parent)!r} does not exist")
    if _read_only_place(path):
        raise UserError(sqlite_trouble(url, OSError("the file or its filesystem is read-only")))  # before any write
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    while True:
        try:
            con = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT)
            try:
                mode = con.execute("PRAGMA journal_mode").fetchone()[0]
                if mode.lower() != "wal":
                    con.execute("PRAGMA journal_mode=WAL")
            finally:
                con.close()
            return
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) and time.monotonic() < deadline:
                time.sleep(0.01 + 0.04 * random.random())
                continue
            raise UserError(sqlite_trouble(url, exc)) from None
        except sqlite3.DatabaseError as exc:
            raise UserError(f"storage {display_url(url)!r}: not a usable SQLite database ({exc})") from None


def _read_only_place(path: Path) -> bool:
    """Whether ``path`` (or, for a new file, its directory) sits on a read-only filesystem or cannot be written."""
    target = path if path.exists() else path.parent
    try:
        if os.statvfs(target).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(target, os.W_OK)


def _disk_full(url: str) -> bool:
    path = sqlite_path(url)
    try:
        return path is not None and os.statvfs(path.absolute().parent).f_bavail == 0
    except OSError:
        return False


def sqlite_trouble(url: str, exc: BaseException) -> str:
    """One line for a SQLite file that cannot be written: read-only, on a full disk, or unusable."""
    text = _first_line(exc)
    low = text.lower()
    if "full" in low or _disk_full(url):
        where = display_url(url)
        return f"storage {where!r}: the disk is full ({text}); free some space and run the same command again"
    if "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
        return (
            f"storage {display_url(url)!r}: cannot write to the database ({text}); reading commands "
            "(studies, show, best, export, report) work, running trials needs write access"
        )
    return f"storage {display_url(url)!r}: not a usable SQLite database ({text})"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
