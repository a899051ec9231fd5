"""Database connections and ORM sessions an interrupt may have cut off mid-use are replaced, not reused.

Python raises a signal handler's exception (Ctrl-C, a SIGTERM turned into an
exception) between any two bytecodes, so it can strike inside a database call,
and two things can be left broken and then reused by the very writes that
must follow (the interrupted trial's FAIL, which frees its slot):

* the connection. SQLAlchemy invalidates a connection when such an exception
  comes out of the driver itself, but not when it comes from its own code
  around it: between a query and the reading of its rows, the connection goes
  back to the pool with that query still open. On SQLite the open query keeps
  its read snapshot for as long as the exception's traceback holds its cursor
  (rolling back or closing the pooled connection does not end it), and once
  any other connection commits, every write on this one fails at once with
  "database is locked", whatever the busy timeout;
* the thread's ORM session, which Optuna's RDBStorage keeps per thread and
  reuses for every call: struck inside its own bookkeeping (closing, it
  retires its identity map and then makes a new one), it refuses every later
  load ("this identity map is no longer valid").

So after an interrupt was raised in this process, each pooled connection is
replaced at its next checkout (SQLAlchemy's documented way: a checkout
listener raises DisconnectionError, and the pool reconnects), and each
thread's next call gets a new session. That costs one reconnect per
connection and one session per thread per interrupt, and nothing otherwise.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import optuna
import sqlalchemy as sa

from hpsearch.storage._optuna import backend_of
from hpsearch.storage._rdb import engine_of

_SEEN = "hpsearch_interrupts_seen"  # in a connection's info: the interrupt count when it was checked out


def renew_after_interrupts(storage: optuna.storages.BaseStorage, interrupts: Callable[[], int]) -> None:
    """Replace ``storage``'s connections and sessions at their first use after ``interrupts()`` grew.

    ``interrupts``: how many interrupts (signal handlers' exceptions) were raised in this process so far.
    Calling this again with the same ``interrupts`` changes nothing. An in-memory SQLite database is
    left alone: its one connection is the database.
    """
    engine = engine_of(storage)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return
    listener = _checkout_listener(interrupts)
    if not sa.event.contains(engine, "checkout", listener):
        sa.event.listen(engine, "checkout", listener)
    # RDBStorage.scoped_session: the thread-local session every storage call of Optuna's opens and closes.
    scoped = backend_of(storage).scoped_session  # type: ignore[attr-defined]
    registry = scoped.registry
    if not (isinstance(registry, _RenewedSessions) and registry.interrupts is interrupts):
        scoped.registry = _RenewedSessions(scoped.session_factory, interrupts)


@functools.cache
def _checkout_listener(interrupts: Callable[[], int]) -> Callable[[Any, Any, Any], None]:
    """One listener per counter (so that registering twice is seen as the same listener)."""

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        now = interrupts()
        if record.info.setdefault(_SEEN, now) != now:
            # The pool closes this connection and hands out a new one (its info starts empty).
            raise sa.exc.DisconnectionError("an interrupt was raised since this connection was last used")

    return on_checkout


class _RenewedSessions:
    """A scoped_session's registry (the interface of SQLAlchemy's ThreadLocalRegistry): each thread's
    session, replaced by a new one once ``interrupts()`` has grown since it was made."""

    def __init__(self, createfunc: Callable[[], Any], interrupts: Callable[[], int]) -> None:
        self.createfunc = createfunc
        self.interrupts = interrupts
        self._local = threading.local()

    def __call__(self) -> Any:
        now = self.interrupts()
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == now:
            return held[1]
        if held is not None:
            try:
                held[1].close()  # releases its connection, if it still held one
            except Exception:  # it may be what the interrupt broke: a new one is made anyway
                pass
        session = self.createfunc()
        self._local.held = (now, session)
        return session

    def has(self) -> bool:
        return getattr(self._local, "held", None) is not None

    def set(self, obj: Any) -> None:
        self._local.held = (self.interrupts(), obj)

    def clear(self) -> None:
        self._local.__dict__.pop("held", None)
