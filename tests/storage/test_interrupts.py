"""renew_after_interrupts: a pooled connection is replaced once after each interrupt, never otherwise."""

from __future__ import annotations

import sqlalchemy as sa

from hpsearch.storage import engine_of, open_storage, renew_after_interrupts


def _driver_connection(engine: sa.Engine):
    with engine.connect() as con:
        return con.connection.driver_connection


def test_each_connection_is_replaced_once_after_an_interrupt_and_kept_otherwise(sqlite_storage):
    raised = [0]

    def interrupts() -> int:
        return raised[0]

    engine = engine_of(sqlite_storage)
    listeners = len(engine.pool.dispatch.checkout)
    renew_after_interrupts(sqlite_storage, interrupts)
    renew_after_interrupts(sqlite_storage, interrupts)  # a second worker loop in this process
    assert len(engine.pool.dispatch.checkout) == listeners + 1
    first = _driver_connection(engine)
    assert _driver_connection(engine) is first  # no interrupt: the pool's connection is reused
    raised[0] += 1
    second = _driver_connection(engine)
    assert second is not first  # replaced at its first use after the interrupt...
    assert _driver_connection(engine) is second  # ...once
    with engine.connect() as con:  # the new connection works
        assert con.exec_driver_sql("SELECT 1").scalar() == 1


def test_an_in_memory_database_keeps_its_one_connection():
    storage = open_storage("sqlite:///:memory:", heartbeat=False)
    engine = engine_of(storage)
    raised = [0]
    renew_after_interrupts(storage, lambda: raised[0])
    first = _driver_connection(engine)
    raised[0] += 1
    assert _driver_connection(engine) is first  # replacing it would lose the database


def test_each_threads_session_is_new_after_an_interrupt_and_kept_otherwise(sqlite_storage):
    raised = [0]

    def interrupts() -> int:
        return raised[0]

    renew_after_interrupts(sqlite_storage, interrupts)
    registry = sqlite_storage.scoped_session.registry
    renew_after_interrupts(sqlite_storage, interrupts)
    assert sqlite_storage.scoped_session.registry is registry  # installed once
    scoped = sqlite_storage.scoped_session
    first = scoped()
    assert scoped() is first
    raised[0] += 1
    second = scoped()
    assert second is not first
    assert scoped() is second
    scoped.remove()  # Optuna's remove_session: the next call makes a new one
    assert scoped() is not second
    assert sqlite_storage.get_all_studies() == []  # Optuna's own calls work through it
