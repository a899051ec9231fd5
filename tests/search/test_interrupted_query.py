"""A stop signal that lands between a query and the reading of its rows must not cost the trial its FAIL.

Python runs a signal handler between any two bytecodes, so SIGTERM (or Ctrl-C) can raise inside
the objective's own database call: after a SELECT ran and before its rows were read. SQLite then
keeps that statement, and with it a read snapshot, open on the connection for as long as the
exception's traceback holds the cursor; the pool's rollback does not end it. Once another worker
(or this worker's heartbeat) has committed, every write on that connection fails at once with
"database is locked", whatever the busy timeout: the interrupted trial could not be marked failed
and stayed RUNNING (the flaky --jobs 2 preemption test). The signal is injected here at exactly
that point, through SQLAlchemy's ORM execution hook, and never by timing.
"""

from __future__ import annotations

import signal
import threading

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState

from hpsearch.search import _workers, prepare_study
from hpsearch.search._termination import Terminated, sigterm_stops
from hpsearch.storage import open_storage, study_id_of

SPIN = 10**8  # bytecodes the injector waits for its SIGTERM's handler to raise (it raises in the first few)


@pytest.fixture
def interrupt_mid_query(monkeypatch):
    """Arm with ``arm(step, other, sig)``: during ``trial.report(value, step)`` the first SELECT is run,
    its rows left unread, ``other`` (another worker's write) committed, and ``sig`` sent to the main
    thread, whose handler raises right there (yields a dict that records that it struck)."""
    state: dict = {"step": None, "other": None, "reporting": False, "struck": False}
    original_report = optuna.Trial.report

    def report(self, value, step):
        state["reporting"] = step == state["step"]
        try:
            return original_report(self, value, step)
        finally:
            state["reporting"] = False

    def on_execute(orm_state):
        if not (state["reporting"] and orm_state.is_select and not state["struck"]):
            return None
        if threading.current_thread() is not threading.main_thread():
            return None
        state["struck"] = True
        result = orm_state.invoke_statement()  # executed; its rows are not read  # noqa: F841
        state["other"]()  # another worker commits meanwhile
        signal.pthread_kill(threading.main_thread().ident, state["signal"])
        for _ in range(SPIN):  # the handler raises within the next few bytecodes
            pass
        raise AssertionError("the signal's handler did not run")

    def arm(step: int, other, sig: int = signal.SIGTERM) -> dict:
        state["step"], state["other"], state["signal"] = step, other, sig
        return state

    monkeypatch.setattr(optuna.Trial, "report", report)
    sa.event.listen(sa.orm.Session, "do_orm_execute", on_execute)
    try:
        yield arm
    finally:
        sa.event.remove(sa.orm.Session, "do_orm_execute", on_execute)


@pytest.mark.parametrize(
    ("sig", "raised", "reason"),
    [
        (signal.SIGTERM, Terminated, "interrupted (SIGTERM)"),  # a scheduler's preemption
        (signal.SIGINT, KeyboardInterrupt, "interrupted (Ctrl-C)"),  # Ctrl-C of an in-process run
    ],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_a_signal_between_a_query_and_its_rows_still_fails_the_trial_as_interrupted(
    storage_url, spec_factory, objectives_module, interrupt_mid_query, sig, raised, reason
):
    storage = open_storage(storage_url)
    study, _ = prepare_study(storage, spec_factory(name="cut", n_trials=1, objective="hp_test_objectives:per_epoch"))
    other = open_storage(storage_url, heartbeat=False)  # a second worker's own connection

    def other_worker_writes() -> None:
        other.set_study_user_attr(study_id_of(study), "other_worker_wrote", True)

    struck = interrupt_mid_query(2, other_worker_writes, sig)
    with pytest.raises(raised), sigterm_stops():
        _workers.work(storage, ["cut"])
    assert struck["struck"]

    (trial,) = optuna.load_study(study_name="cut", storage=storage_url).trials
    assert (trial.state, trial.system_attrs.get("fail_reason")) == (TrialState.FAIL, reason)
    assert sorted(trial.intermediate_values) == [1]  # the cut report of step 2 wrote nothing
    # The worker's storage is still good for the next trial (the next run in this process).
    again = optuna.load_study(study_name="cut", storage=storage)
    assert again.trials[0].state == TrialState.FAIL
    storage.set_study_user_attr(study_id_of(study), "written_after", True)


# Prints ten intermediate values, then its result.
STEPS = """
import json, sys
for step in range(10):
    print(json.dumps({"step": step, "value": step / 10}), flush=True)
print(float(sys.argv[1]))
"""


@pytest.fixture
def interrupt_session_close(monkeypatch):
    """Arm with ``arm(step)``: during ``trial.report(value, step)``, SIGTERM strikes while the storage's
    session closes, just after it retired its identity map and before it made a new one."""
    from sqlalchemy.orm import identity

    state: dict = {"step": None, "reporting": False, "struck": False}
    original_report, original_kill = optuna.Trial.report, identity.IdentityMap._kill

    def report(self, value, step):
        state["reporting"] = step == state["step"]
        try:
            return original_report(self, value, step)
        finally:
            state["reporting"] = False

    def kill(self):
        original_kill(self)
        if state["reporting"] and not state["struck"] and threading.current_thread() is threading.main_thread():
            state["struck"] = True
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
            for _ in range(SPIN):  # the handler raises within the next few bytecodes
                pass
            raise AssertionError("the signal's handler did not run")

    def arm(step: int) -> dict:
        state["step"] = step
        return state

    monkeypatch.setattr(optuna.Trial, "report", report)
    monkeypatch.setattr(identity.IdentityMap, "_kill", kill)
    return arm


def test_a_sigterm_inside_the_sessions_own_bookkeeping_still_fails_the_trial_as_interrupted(
    tmp_path, storage_url, interrupt_session_close
):
    """The command objective writes the learning curve once its program is stopped: through the
    storage's session, which the SIGTERM caught half-closed (a fresh-clone CI run's 'database error
    while the trial ran (not the objective's): ... this identity map is no longer valid')."""
    import sys

    from hpsearch.spec import spec_from_dict

    (tmp_path / "steps.py").write_text(STEPS)
    spec = spec_from_dict(
        {
            "study": {
                "name": "closing",
                "objective": "command",
                "direction": "maximize",
                "n_trials": 1,
                "sampler": "random",
                "seed": 0,
                "workdir": str(tmp_path),
            },
            "command": {"run": f"{sys.executable} steps.py {{x}}"},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
    )
    storage = open_storage(storage_url)
    prepare_study(storage, spec)
    struck = interrupt_session_close(2)
    with pytest.raises(Terminated), sigterm_stops():
        _workers.work(storage, ["closing"])
    assert struck["struck"]

    (trial,) = optuna.load_study(study_name="closing", storage=storage_url).trials
    assert (trial.state, trial.system_attrs.get("fail_reason")) == (TrialState.FAIL, "interrupted (SIGTERM)")
    assert trial.user_attrs["learning_curve"] == [0.0, 0.1, 0.2]  # written after the interrupt


def test_a_signal_a_library_turned_into_its_own_error_still_fails_the_trial_as_interrupted(
    storage_url, spec_factory, objectives_module, monkeypatch
):
    """SIGTERM struck inside a database call, and the library raised an error of its own instead of
    ours (SQLAlchemy's "This transaction is closed"): the trial is still failed as interrupted, not
    as a database crash, and the worker stops with Terminated."""
    import importlib

    def swallowed(trial, params):
        trial.report(0.1, 0)
        try:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
            for _ in range(SPIN):  # the handler raises within the next few bytecodes
                pass
            raise AssertionError("the signal's handler did not run")
        except Terminated:  # what the library caught, and turned into its own error
            raise sa.exc.ResourceClosedError("This transaction is closed") from None

    monkeypatch.setattr(importlib.import_module(objectives_module), "swallowed", swallowed, raising=False)
    storage = open_storage(storage_url)
    prepare_study(storage, spec_factory(name="swallowed", n_trials=1, objective="hp_test_objectives:swallowed"))
    with pytest.raises(Terminated), sigterm_stops():
        _workers.work(storage, ["swallowed"])
    (trial,) = optuna.load_study(study_name="swallowed", storage=storage_url).trials
    assert (trial.state, trial.system_attrs.get("fail_reason")) == (TrialState.FAIL, "interrupted (SIGTERM)")
    assert "error" not in trial.user_attrs  # a stop, not the objective's failure
