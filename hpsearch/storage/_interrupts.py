"""Connections an interrupt may have cut off mid-use are replaced, not reused.

Python raises a signal handler's exception (Ctrl-C, a SIGTERM turned into an
exception) between any two bytecodes, so it can strike inside a database call:
after a SELECT ran and before its rows were read. SQLAlchemy invalidates a
connection when such an exception comes out of the driver itself, but not
when it comes from its own code around it. The connection then goes back to
the pool in an unknown state. On SQLite the unread SELECT stays open, with its
read snapshot, for as long as the exception's traceback holds its cursor
(closing or rolling back the pooled connection does not end it); once any other
connection commits, every write on this one fails at once with "database is
locked", whatever the busy timeout. The writes that matter most come right
then: the interrupted trial's FAIL, which must free its slot.

So every connection of the pool is replaced at its next checkout after an
interrupt was raised in this process (SQLAlchemy's documented way: raise
DisconnectionError from a checkout listener, and the pool reconnects). That
costs one reconnect per connection per interrupt, and nothing otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import optuna
import sqlalchemy as sa

from hpsearch.storage._rdb import engine_of

_SEEN = "hpsearch_interrupts_seen"  # in a connection's info: the interrupt count when it was checked out


def renew_connections_after_interrupts(storage: optuna.storages.BaseStorage, interrupts: Callable[[], int]) -> None:
    """Replace each pooled connection of ``storage`` at its first checkout after ``interrupts()`` grew.

    ``interrupts``: how many interrupts (signal handlers' exceptions) were raised in this process so far.
    Calling this again with the same ``interrupts`` adds nothing. An in-memory SQLite database is
    left alone: its one connection is the database.
    """
    engine = engine_of(storage)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return
    listener = _checkout_listener(interrupts)
    if not sa.event.contains(engine, "checkout", listener):
        sa.event.listen(engine, "checkout", listener)


@functools.cache
def _checkout_listener(interrupts: Callable[[], int]) -> Callable[[Any, Any, Any], None]:
    """One listener per counter (so that registering twice is seen as the same listener)."""

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        now = interrupts()
        if record.info.setdefault(_SEEN, now) != now:
            # The pool closes this connection and hands out a new one (its info starts empty).
            raise sa.exc.DisconnectionError("an interrupt was raised since this connection was last used")

    return on_checkout
