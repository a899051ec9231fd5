"""Crash recovery: fail RUNNING trials whose worker is gone, so their slots run again.

Two ways to know a worker is gone:

* same host: the trial records ``hpsearch_host`` and ``hpsearch_pid``; if that
  process no longer exists the trial is failed at once (a re-run right after
  ``kill -9`` resumes immediately instead of waiting for a heartbeat to expire);
* any host: the worker heartbeats its running trial every few seconds and
  Optuna's ``fail_stale_trials`` fails trials silent for longer than the grace
  period;
* trials handed to HTTP clients carry a lease (``hpsearch_lease_until``,
  wall-clock seconds; one hour unless the server says otherwise with
  ``--trial-timeout``), renewed by each report, heartbeat or repeated ask; a
  trial whose lease ran out is failed, so a vanished client's slot runs again.
  Expired leases are looked for on every ask, before a slot is claimed.

And one way to know a trial is orphaned: once every slot of the study is done,
a RUNNING trial that was given a slot (``hpsearch_slot``) can only be one
whose slot was taken over after a crash; ``fail_orphans`` fails those.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import warnings

import optuna
from optuna.trial import TrialState

from hpsearch.records import FAIL_REASON_ATTR, HOST_ATTR, LEASE_ATTR, PID_ATTR
from hpsearch.storage import (
    engine_of,
    pid_alive,
    running_attr_values,
    slot_trial_ids,
    stale_trial_ids,
    storage_of,
    study_id_of,
    trial_id_of,
)


def recover_study(study: optuna.Study) -> list[int]:
    """Fail the study's RUNNING trials whose process is dead or whose lease ran out; returns their numbers."""
    storage = storage_of(study)
    failed = _fail_stale(study)
    host, me, now = socket.gethostname(), os.getpid(), time.time()
    for t in storage.get_all_trials(study_id_of(study), deepcopy=False, states=(TrialState.RUNNING,)):
        lease = t.system_attrs.get(LEASE_ATTR)
        if lease is not None and lease < now:
            if _fail(storage, trial_id_of(t), "lease expired (its client sent no report or tell in time)"):
                failed.append(t.number)
            continue
        pid = t.system_attrs.get(PID_ATTR)
        if t.system_attrs.get(HOST_ATTR) != host or pid is None or pid == me or pid_alive(pid):
            continue
        if _fail(storage, trial_id_of(t), "worker died (its process no longer exists)"):
            failed.append(t.number)
    return failed


def fail_expired_leases(study: optuna.Study) -> list[int]:
    """Fail the study's RUNNING trials whose lease ran out (one query when there are none)."""
    storage = storage_of(study)
    now = time.time()
    failed = []
    for trial_id, until in running_attr_values(engine_of(storage), study_id_of(study), LEASE_ATTR).items():
        if isinstance(until, (int, float)) and until < now:
            if _fail(storage, trial_id, "lease expired (its client sent no report or tell in time)"):
                failed.append(storage.get_trial_number_from_id(trial_id))
    return failed


def fail_orphans(study: optuna.Study, n_slots: int) -> list[int]:
    """Fail RUNNING trials of slots 0..n_slots-1 that their slot's claim does not name.

    Called once every slot is done: such a trial was created for a slot that
    was then taken over (its server died before recording it), and no tell of
    it can count any more.
    """
    from hpsearch.records import SLOT_ATTR

    storage = storage_of(study)
    engine = engine_of(storage)
    running = running_attr_values(engine, study_id_of(study), SLOT_ATTR)
    if not running:
        return []
    owners = slot_trial_ids(engine, study_id_of(study))
    failed = []
    for trial_id, slot in running.items():
        if not isinstance(slot, int) or slot >= n_slots or owners.get(slot) == trial_id:
            continue
        if _fail(storage, trial_id, "orphaned (its slot finished with another trial after a crash)"):
            failed.append(storage.get_trial_number_from_id(trial_id))
    return failed


def fail_trial(storage: optuna.storages.BaseStorage, trial_id: int, reason: str) -> bool:
    """FAIL a RUNNING trial with system attr fail_reason; False if it was finished already."""
    return _fail(storage, trial_id, reason)


def fail_own_trials(study: optuna.Study, reason: str) -> list[int]:
    """Fail this process's RUNNING trials (after Ctrl-C, wherever it struck)."""
    storage = storage_of(study)
    host, me = socket.gethostname(), os.getpid()
    failed = []
    for t in storage.get_all_trials(study_id_of(study), deepcopy=False, states=(TrialState.RUNNING,)):
        if t.system_attrs.get(HOST_ATTR) == host and t.system_attrs.get(PID_ATTR) == me:
            if _fail(storage, trial_id_of(t), reason):
                failed.append(t.number)
    return failed


def _fail_stale(study: optuna.Study) -> list[int]:
    """Optuna's fail_stale_trials, but recording why (system attr fail_reason)."""
    storage = storage_of(study)
    stale = stale_trial_ids(storage, study_id_of(study))
    if stale is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        return []
    failed = []
    for trial_id in stale:
        if _fail(storage, trial_id, "heartbeat expired (its worker stopped beating)"):
            failed.append(storage.get_trial_number_from_id(trial_id))
    return failed


def _fail(storage: optuna.storages.BaseStorage, trial_id: int, reason: str) -> bool:
    """FAIL a RUNNING trial with system attr fail_reason (set first: finished trials are read-only)."""
    try:
        storage.set_trial_system_attr(trial_id, FAIL_REASON_ATTR, reason)
        return storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False  # another process got there first


class Heartbeat:
    """Record a trial's heartbeat in a thread while it runs (we do not use study.optimize).

    ``beaten_at``: the ``time.monotonic()`` before a heartbeat was recorded
    already (``ask_trial(heartbeat=True)``); the next one is then due an
    interval after it, instead of a second beat right away.
    ``beater``: a worker's one long-lived beating thread (:class:`Beater`),
    told which trial to beat for, instead of a thread started and joined for
    this trial alone.
    """

    def __init__(
        self,
        storage: optuna.storages.BaseStorage,
        trial_id: int,
        *,
        beaten_at: float | None = None,
        beater: Beater | None = None,
    ) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._beaten_at = beaten_at
        self._beater = beater
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        interval = self._storage.get_heartbeat_interval()  # type: ignore[attr-defined]
        if interval:
            if self._beaten_at is None:
                # Beat once now: Optuna never counts a trial without any heartbeat as stale.
                self._storage.record_heartbeat(self._trial_id)  # type: ignore[attr-defined]
                first = float(interval)
            else:
                first = max(0.0, self._beaten_at + interval - time.monotonic())
            if self._beater is not None:
                self._beater.track(self._storage, self._trial_id, first, float(interval))
                return self
            self._thread = threading.Thread(target=self._beat, args=(first, interval), daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._beater is not None:
            self._beater.untrack(self._trial_id)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self, first: float, interval: float) -> None:
        wait = first
        while not self._stop.wait(wait):
            try:
                self._storage.record_heartbeat(self._trial_id)  # type: ignore[attr-defined]
            except Exception:  # a transient DB error must not kill the trial; next beat retries
                pass
            wait = interval


class Beater:
    """One thread that records the heartbeat of whichever trial its worker runs now.

    A thread started and joined per trial cost a cheap trial (a table lookup)
    a few milliseconds of thread switches on a busy machine, for beats that
    are due only seconds later. This thread lives as long as the worker's
    loop (use it as a context manager) and sleeps until the tracked trial's
    next beat is due or the trial changes. A beat that was already being
    written when its trial ended may land just after: harmless, as only
    RUNNING trials are ever judged stale.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._target: tuple[optuna.storages.BaseStorage, int, float, float] | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._until = math.inf  # when the thread wakes up next on its own (inf: only when told)

    def __enter__(self) -> Beater:
        return self

    def __exit__(self, *exc) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()

    def track(self, storage: optuna.storages.BaseStorage, trial_id: int, first: float, interval: float) -> None:
        """Beat for ``trial_id`` ``first`` seconds from now, then every ``interval`` seconds."""
        with self._wake:
            self._target = (storage, trial_id, time.monotonic() + first, interval)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="hpsearch-heartbeat")
                self._thread.start()
            elif self._target[2] < self._until:  # else it wakes in time on its own: no thread switch per trial
                self._wake.notify()

    def untrack(self, trial_id: int) -> None:
        """Stop beating for ``trial_id`` (no wait: the thread only sleeps on)."""
        with self._wake:
            if self._target is not None and self._target[1] == trial_id:
                self._target = None

    def _run(self) -> None:
        with self._wake:
            while not self._closed:
                target = self._target
                if target is None:
                    self._until = math.inf
                    self._wake.wait()
                    continue
                storage, trial_id, due, interval = target
                delay = due - time.monotonic()
                if delay > 0:
                    self._until = due
                    self._wake.wait(delay)
                    continue
                self._target = (storage, trial_id, time.monotonic() + interval, interval)
                self._wake.release()  # the worker may end its trial or start the next one meanwhile
                try:
                    storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
                except Exception:  # a transient DB error must not kill the trial; next beat retries
                    pass
                finally:
                    self._wake.acquire()
