"""The worker loop (ask, train, tell until every slot is done) and worker processes.

One loop serves ``run --jobs 1`` (in-process), ``run --jobs J`` (J worker
processes), ``compare`` (one pool over many studies) and ``hpsearch worker``
(more processes or machines joining a study). A worker only needs the storage
URL and study names: the spec comes from the database.

On Linux the pool's workers are forked from the parent once it has imported
the trial path and built each study's objective (the data split loaded once,
then shared copy-on-write): a worker starts in milliseconds. A spawned worker
re-imports NumPy, Optuna, SQLAlchemy and hpsearch and re-loads the data, 0.6 s
or more each on this machine, the two at once on 2 cores. Elsewhere (macOS,
Windows: fork is unsafe or missing) workers are spawned as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch.errors import UserError
from hpsearch.records import DIVERGED_ATTR, ERROR_ATTR, FAIL_REASON_ATTR, budget, is_error
from hpsearch.search._control import stop_requested
from hpsearch.search._devices import worker_environment
from hpsearch.search._load import load_study
from hpsearch.search._parent_death import die_with_parent
from hpsearch.search._recovery import Beater, Heartbeat, fail_own_trials, fail_trial
from hpsearch.search._termination import AttemptInterrupted, Terminated, interrupts, sigterm_stops
from hpsearch.search._termination import check as check_interrupts
from hpsearch.search._termination import install as install_sigterm
from hpsearch.search._termination import requested as sigterm_requested
from hpsearch.search._trial import SlotsBusy, StudyComplete, TrialAlreadyFinished, ask_trial, tell_trial
from hpsearch.storage import (
    DatabaseError,
    DatabaseFailing,
    RetryingStorage,
    RetryPolicy,
    call_with_retries,
    engine_of,
    first_line,
    is_storage_error,
    open_storage,
    quiet_lost_connection_warnings,
    release_claims,
    renew_after_interrupts,
    retry_policy,
    storage_of,
    study_id_of,
    trial_id_of,
)

log = logging.getLogger("hpsearch.search")

# An objective that raises fails that trial only (user attr "error"; the slot is done, see
# hpsearch.records). The run stops, with exit 1 and the last error, only when the objective fails
# every time (the study's first FIRST_FAILURES trials) or max_failures trials in a row
# (`hpsearch run/worker --max-failures N`; compare uses the default).
FIRST_FAILURES = 5
MAX_FAILURES = 10
POLL_SECONDS = 0.5  # how often an idle worker looks for a freed slot, at most
FIRST_POLL_SECONDS = 0.02  # its first look: the wait doubles from here up to POLL_SECONDS
ERROR_CHARS = 2000  # how much of an error's text is kept with its trial
_STOP_WAIT = 600.0  # seconds a stopped worker may take (its program's grace included) before it is killed
_BLAS_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class ObjectiveFailing(RuntimeError):
    """The objective failed on every trial so far, or on many in a row: a bug, not bad luck."""


class WorkerFailed(RuntimeError):
    """A worker process exited with an error."""


class _AttemptCrashed(Exception):
    """The database failed while the objective wrote to it: the attempt crashed, its slot runs again."""


def _interrupted(exc: BaseException) -> str:
    """The fail_reason of a trial cut short by ``exc``."""
    return "interrupted (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"


@dataclass
class _Job:
    study: optuna.Study
    spec: Any
    objective: Callable
    streak: int = 0  # this worker's trials of the study that failed in a row
    succeeded: bool = False  # the study holds a trial that did not fail: "every time" is ruled out


def clock() -> float:
    """Wall-clock seconds, as --timeout's deadline is measured (tests replace it)."""
    return time.time()


def work(
    storage: optuna.storages.BaseStorage,
    names: Sequence[str],
    *,
    worker: int = 0,
    deadline: float | None = None,
    on_trial: Callable[[], None] | None = None,
    parent_pid: int | None = None,
    max_failures: int = MAX_FAILURES,
    stop: Any = None,
    told: Any = None,
) -> int:
    """Run trials of the named studies until all are complete or the deadline passes.

    Studies are worked in order; a worker whose study has only running slots
    left moves to the next one, and waits (polling) when every study is busy,
    because a slot frees up again if its worker dies. Returns trials run.
    Raises ObjectiveFailing when a study's objective fails every time or
    ``max_failures`` times in a row. ``stop`` (an Event): start no new trial once it is set.
    ``told`` (an Event shared by a pool's workers): set after each trial this worker
    finishes; a worker waiting for a busy study wakes on it, instead of at its next poll.
    A study marked by ``hpsearch stop`` (hpsearch.search._control) is dropped
    before its next trial, as a complete one is: its running trials finish.
    """
    jobs: dict[str, _Job] = {}
    # Ctrl-C or SIGTERM may strike inside a database call and spoil its connection or session: both are
    # replaced after one, so that the interrupted trial can still be marked failed (see below).
    renew_after_interrupts(storage, interrupts)
    try:
        with Beater() as beater:
            return _work(storage, names, jobs, worker, deadline, on_trial, parent_pid, max_failures, stop, told, beater)
    except BaseException as exc:
        # Ctrl-C or SIGTERM may strike between creating a trial and running it, or an error may escape
        # while a trial was being failed: fail whatever this process still holds, so that its slots are
        # free now rather than when their heartbeats expire.
        cause = exc if isinstance(exc, KeyboardInterrupt) else exc.__context__
        stopped = f"worker stopped: {type(exc).__name__}"
        reason = _interrupted(cause) if isinstance(cause, KeyboardInterrupt) else stopped
        if not (isinstance(exc, DatabaseError) or is_storage_error(exc)):  # else nothing can be written now
            for job in jobs.values():
                try:
                    fail_own_trials(job.study, reason)
                except Exception:  # the database went away meanwhile: the heartbeat expiry frees the slot
                    pass
        raise


def _work(
    storage,
    names,
    jobs: dict[str, _Job],
    worker: int,
    deadline: float | None,
    on_trial: Callable[[], None] | None,
    parent_pid: int | None,
    max_failures: int,
    stop: Any,
    told: Any = None,
    beater: Beater | None = None,
) -> int:
    pending = list(names)
    ran = 0
    wait = FIRST_POLL_SECONDS
    policy = retry_policy(engine_of(storage).url)
    crashes = 0  # attempts in a row that the database failed (it answers, but keeps failing them)
    while pending:
        all_busy = True
        for name in list(pending):
            if _should_stop(deadline, parent_pid, stop):
                return ran
            job = jobs.get(name) or jobs.setdefault(
                name, call_with_retries(partial(_load_job, storage, name, worker), policy)
            )
            if call_with_retries(partial(stop_requested, storage, study_id_of(job.study)), policy):
                pending.remove(name)  # `hpsearch stop`: start no trial of it (the running one was told)
                continue
            asked = time.monotonic()
            try:
                trial, params = _ask(job, policy)
            except SlotsBusy:
                continue
            except StudyComplete:
                pending.remove(name)
                continue
            all_busy, wait = False, FIRST_POLL_SECONDS
            try:
                error = _run_trial(job, trial, params, asked, policy, beater)
            except _AttemptCrashed as exc:
                crashes += 1
                if crashes >= max_failures:
                    raise DatabaseFailing(
                        f"study {name!r}: the database at {policy.where} failed {crashes} trials in a row "
                        f"(last error: {exc}); stopping"
                    ) from None
                break
            crashes = 0
            ran += 1
            if told is not None:
                told.set()
            if error is None:
                job.streak, job.succeeded = 0, True
            elif isinstance(error, _Interrupted):
                job.streak += 1  # not the configuration's fault, but a program that always dies this way stops us
                _check_failing(job, trial.number, error.text, max_failures, first=False)
            else:
                job.streak += 1
                call_with_retries(partial(_check_failing, job, trial.number, error, max_failures), policy)
            if on_trial is not None:
                on_trial()
            break  # back to the first pending study: finish studies in order
        if pending and all_busy:
            # The last running trials usually end within a trial's time: look again soon, then
            # less and less often (a slot frees up too when a worker dies). In a pool, wake as soon
            # as another worker finishes a trial: at a study's end, this worker then exits with
            # the last one instead of up to a poll later (the run ends when every worker has).
            if told is None:
                time.sleep(wait)
            else:
                told.wait(wait)
                told.clear()  # before asking again: a trial told after this wakes the next wait
            wait = min(2 * wait, POLL_SECONDS)
    return ran


def _ask(job: _Job, policy: RetryPolicy) -> tuple[optuna.Trial, dict]:
    """``ask_trial``, retried while the database is unreachable.

    An ask cut off by a lost connection may have committed part of its work
    without hearing so: a claim not yet attached to a trial, or a trial
    created but never handed to us. Before each retry both are undone (this
    process asks one trial at a time, so any such claim or RUNNING trial of
    its own is one of those), so the slot is free at once instead of after the
    claim's grace time or the trial's heartbeat expiry.
    """

    def undo_cut_off_ask() -> None:
        fail_own_trials(job.study, "its ask was cut off by a database error")
        release_claims(engine_of(storage_of(job.study)), study_id_of(job.study))

    return call_with_retries(lambda: ask_trial(job.study, job.spec, heartbeat=True), policy, on_retry=undo_cut_off_ask)


def _check_failing(job: _Job, number: int, error: str, max_failures: int, *, first: bool = True) -> None:
    """Raise ObjectiveFailing if the objective failed every time so far, or max_failures times in a row.

    ``first=False``: only the in-a-row rule (an interrupted attempt is not a result).
    """
    name = job.study.study_name
    last = f"last error, trial #{number}: {_one_line(error)}"
    fix = (
        "Fix the objective (or its environment), then run the same command again with --retry-failed "
        "to re-run the failed trials, or without it to go on."
    )
    if job.streak >= max_failures:
        raise ObjectiveFailing(
            f"study {name!r}: the objective failed on {job.streak} trials in a row "
            f"({last}); stopping (max_failures {max_failures}). {fix}"
        )
    if job.succeeded or not first:
        return
    trials = storage_of(job.study).get_all_trials(
        study_id_of(job.study), deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    )
    if any(t.state != TrialState.FAIL or t.user_attrs.get(DIVERGED_ATTR) for t in trials):
        job.succeeded = True
        return
    failed = sum(map(is_error, trials))
    if failed >= min(FIRST_FAILURES, budget(job.spec)):
        raise ObjectiveFailing(
            f"study {name!r}: the objective failed on every trial so far ({failed}; {last}); stopping. {fix}"
        )


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Objectives the pool's parent built before forking its workers: study name -> (spec dict, objective).
_PRELOADED: dict[str, tuple[dict, Callable]] = {}


def preload_objectives(specs: Sequence[Any]) -> None:
    """Build each built-in objective (its data loaded and split) here, for workers forked from this process.

    User functions and commands are left to the workers, as before: their
    import and its errors stay in the worker that runs them.
    """
    from hpsearch.spec.catalog import BUILTIN_OBJECTIVES
    from objectives import build_objective

    for spec in specs:
        if spec.study.objective not in BUILTIN_OBJECTIVES:
            continue
        key = spec.to_dict()
        if _PRELOADED.get(spec.study.name, (None,))[0] != key:
            _PRELOADED[spec.study.name] = (key, build_objective(spec))


# The parent's storage, for the workers it forks: url -> RDBStorage, its pool emptied before the fork.
# A forked worker uses it instead of opening the database again (tables checked, schema version read)
# and starts with SQLAlchemy's compiled statements and Optuna's cache warm: its first ask took 40-45 ms
# against 13 ms for the next ones. SQLAlchemy's way for fork: dispose the engine's pool in the parent
# first, so no connection crosses the fork (each process then connects on its own).
_INHERITED_STORAGE: dict[str, optuna.storages.BaseStorage] = {}


def release_objectives() -> None:
    """Forget the preloaded objectives (once the workers are forked, they hold their own copies)."""
    _PRELOADED.clear()


def _load_job(storage: optuna.storages.BaseStorage, name: str, worker: int) -> _Job:
    from objectives import build_objective

    study, spec = load_study(storage, name, worker=worker)
    preloaded = _PRELOADED.get(name)
    if preloaded is not None and preloaded[0] == spec.to_dict():
        return _Job(study, spec, preloaded[1])
    return _Job(study, spec, build_objective(spec))


@dataclass
class _Interrupted:
    """_run_trial's answer for an attempt stopped from outside (AttemptInterrupted): a crash, not an error."""

    text: str


def _run_trial(
    job: _Job,
    trial: optuna.Trial,
    params: dict,
    asked: float,
    policy: RetryPolicy | None = None,
    beater: Beater | None = None,
) -> str | _Interrupted | None:
    """Train one trial and tell its outcome; returns the objective's error text if it failed, else None.

    An objective that raises (or returns something that is not a number) fails
    this trial only: FAIL with user attr ``error``, a finished trial whose
    configuration is not re-run. ``asked``: time.monotonic() before ask_trial,
    which recorded the first heartbeat.

    A database error is never the objective's: the trial's own writes
    (``trial.set_user_attr``, ``trial.report``) are retried under ``policy``
    while the database is unreachable, and if one still fails (or the
    objective raises a database error of its own reads), the attempt is a
    crash: FAIL without ``error``, its slot runs again, and _AttemptCrashed
    tells the caller that nothing counted. So are the tells: retried, never
    turned into the objective's failure.
    """
    study, number = job.study, trial.number
    storage = storage_of(study)
    own_storage = trial.storage
    struck = interrupts()  # stop signals raised in this process before the trial began
    if policy is not None:
        trial.storage = RetryingStorage(own_storage, policy)  # type: ignore[assignment]
    try:
        with Heartbeat(storage, trial_id_of(trial), beaten_at=asked, beater=beater):
            try:
                value = job.objective(trial, params)
            except optuna.TrialPruned:
                _tell(study, trial, policy, state="pruned")
                return None
            except KeyboardInterrupt as exc:
                _fail(study, trial, _interrupted(exc))
                raise
            except AttemptInterrupted as exc:
                log.warning("trial %d of %s was interrupted: %s; its slot runs again", number, study.study_name, exc)
                _fail(study, trial, f"interrupted: {exc}", policy=policy)
                return _Interrupted(f"interrupted: {exc}")
            except Exception as exc:
                if interrupts() > struck:
                    # A stop signal struck inside a library call that turned it into an error of its own
                    # (SQLAlchemy: "This transaction is closed"): the trial was interrupted, not crashed.
                    cut = Terminated() if sigterm_requested() else KeyboardInterrupt()
                    _fail(study, trial, _interrupted(cut))
                    raise cut from exc
                if is_storage_error(exc):
                    _crash(study, trial, exc, policy)
                message = f"{type(exc).__name__}: {exc}".strip()
                log.info("trial %d of %s failed: %s", number, study.study_name, _one_line(message))
                _fail(study, trial, traceback.format_exc(), error=message, policy=policy)
                return message
            try:
                told, constraints = split_outcome(value)
                _tell(study, trial, policy, value=told, constraints=constraints, spec=job.spec)
            except UserError as exc:
                n = len(study.directions)
                wanted = "a number" if n == 1 else f"{n} numbers (a tuple, one per objective)"
                detail = f" ({exc})" if str(exc).startswith("constraints") else ""
                message = f"the objective returned {_one_line(repr(value), 100)}, expected {wanted}{detail}"
                log.info("trial %d of %s failed: %s", number, study.study_name, message)
                _fail(study, trial, message, error=message, policy=policy)
                return message
    finally:
        trial.storage = own_storage
    return None


def split_outcome(returned: Any) -> tuple[Any, dict[str, float] | None]:
    """(values, constraints) from what an objective returned.

    A number (one objective), a tuple or list (one value per objective), or a
    dict ``{"values": [...], "constraints": {...}}`` whose constraints follow
    Optuna's convention (<= 0 is feasible; a list is keyed "0", "1", ...).
    """
    if isinstance(returned, dict):
        values = returned.get("values", returned.get("value"))
        raw = returned.get("constraints")
        if raw is None:
            return values, None
        if isinstance(raw, (list, tuple)):
            raw = {str(i): v for i, v in enumerate(raw)}
        if not isinstance(raw, dict):
            raise UserError(f"constraints: expected a dict or a list of numbers, got {raw!r}")
        try:
            return values, {str(k): float(v) for k, v in raw.items()}
        except (TypeError, ValueError):
            raise UserError(f"constraints: expected numbers (<= 0 is feasible), got {raw!r}") from None
    if isinstance(returned, (tuple, list)):
        return list(returned), None
    return returned, None


def _crash(study: optuna.Study, trial: optuna.Trial, exc: BaseException, policy: RetryPolicy | None) -> None:
    """Record a database failure inside the objective as a crash of this attempt; raise _AttemptCrashed.

    If the database cannot even take that (still unreachable, the file gone),
    its own error propagates: the worker stops, and the trial, left RUNNING,
    is failed by crash recovery later (its heartbeat stops).
    """
    if isinstance(exc, DatabaseError):
        raise exc
    reason = f"database error while the trial ran (not the objective's): {first_line(exc)}"
    call_with_retries(lambda: fail_trial(storage_of(study), trial_id_of(trial), reason[:ERROR_CHARS]), policy)
    log.warning("trial %d of %s: %s; its configuration runs again", trial.number, study.study_name, reason)
    raise _AttemptCrashed(first_line(exc))


def _tell(study: optuna.Study, trial: optuna.Trial, policy: RetryPolicy | None = None, **kw) -> None:
    try:
        call_with_retries(lambda: tell_trial(study, trial, **kw), policy)
    except TrialAlreadyFinished:
        # Failed by someone else (our heartbeat looked stale): its slot is re-run elsewhere.
        log.warning("trial %d of %s was failed by another worker meanwhile", trial.number, study.study_name)


def _fail(
    study: optuna.Study,
    trial: optuna.Trial,
    reason: str,
    *,
    error: str | None = None,
    policy: RetryPolicy | None = None,
) -> None:
    """FAIL the trial, keeping ``reason`` (system attr fail_reason).

    With ``error`` (the objective's own failure) the text is also kept as user
    attr ``error``, which makes the trial a finished one (see hpsearch.records); set
    before the state, since a finished trial is read-only. Each write is
    safe to repeat, so the whole is retried under ``policy``.
    """
    storage = storage_of(study)

    def write() -> None:
        storage.set_trial_system_attr(trial_id_of(trial), FAIL_REASON_ATTR, reason[-ERROR_CHARS:])
        if error is not None:
            storage.set_trial_user_attr(trial_id_of(trial), ERROR_ATTR, _clip(error))
        tell_trial(study, trial, state="fail")

    try:
        call_with_retries(write, policy)
    except (TrialAlreadyFinished, optuna.exceptions.UpdateFinishedTrialError):
        pass


def _clip(text: str) -> str:
    """At most ERROR_CHARS characters: the head and the tail (a traceback's or stderr's end matters most)."""
    if len(text) <= ERROR_CHARS:
        return text
    half = ERROR_CHARS // 2 - 3
    return text[:half] + "\n...\n" + text[-half:]


def _should_stop(deadline: float | None, parent_pid: int | None, stop: Any = None) -> bool:
    check_interrupts()  # a SIGTERM/SIGINT whose handler's raise was dropped (it struck in a finalizer): stop now
    if deadline is not None and clock() >= deadline:
        return True
    if stop is not None and stop.is_set():
        return True
    return parent_pid is not None and os.getppid() != parent_pid  # our parent died: stop


def quiet_pool_resets() -> None:
    """Keep SQLAlchemy's pool from printing a traceback when Ctrl-C lands in a connection reset.

    SQLAlchemy logs that case at ERROR and then re-raises the interrupt, which
    we handle; the log line would only show the user a traceback.
    """
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    quiet_lost_connection_warnings()  # Optuna's multi-line warnings while the database blinks


def _process_main(
    url: str,
    names: list[str],
    worker: int,
    deadline: float | None,
    parent_pid: int,
    max_failures: int = MAX_FAILURES,
    errors: Any = None,
    stop: Any = None,
    told: Any = None,
    environment: dict[str, str] | None = None,
) -> None:
    """Entry point of a spawned worker process: one BLAS thread, its own storage connection.

    Why it stopped, if for a reason the user must read (a failing objective, bad
    input), goes to the parent through ``errors`` (a queue), which says it once.
    ``environment``: this worker's index and devices (hpsearch.search._devices),
    set before any trial so its programs and CUDA libraries see them.
    SIGTERM (also sent by the kernel when the parent dies) stops the worker like
    Ctrl-C: its trial is marked interrupted, and it exits with 143.
    """
    from threadpoolctl import threadpool_limits

    os.environ.update(environment or {})
    install_sigterm()
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before we asked to be told: stop now
        sys.exit(143)
    threadpool_limits(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    quiet_pool_resets()
    inherited = _INHERITED_STORAGE.pop(url, None)
    try:
        work(
            inherited if inherited is not None else open_storage(url, retry=retry_policy(url)),
            names,
            worker=worker,
            deadline=deadline,
            parent_pid=parent_pid,
            max_failures=max_failures,
            stop=stop,
            told=told,
        )
    except Terminated:
        sys.exit(143)
    except KeyboardInterrupt:
        sys.exit(130)
    except (ObjectiveFailing, UserError, DatabaseError) as exc:
        _report_stop(errors, _kind(exc), str(exc))
    except Exception as exc:
        if not is_storage_error(exc):
            raise
        _report_stop(errors, "database", f"database error at {retry_policy(url).where}: {first_line(exc)}")


def _kind(exc: BaseException) -> str:
    return "input" if isinstance(exc, UserError) else "database" if isinstance(exc, DatabaseError) else "objective"


def _report_stop(errors: Any, kind: str, message: str) -> None:
    """Tell the parent why this worker stops (it says so once), or say it here; exit 3."""
    if errors is None:
        print(f"error: {message}", file=sys.stderr)
    else:
        errors.put((kind, message))
    sys.exit(3)


def _stop_workers(procs: Sequence[Any], stop: Any, sig: int = signal.SIGINT) -> None:
    """Stop the workers and wait: ``stop`` keeps them from starting a trial, and ``sig`` (SIGINT,
    or SIGTERM passed on) interrupts the one running (failed as interrupted; its slot runs again).
    A worker still alive after its program's grace period is killed."""
    stop.set()
    for p in procs:
        if p.is_alive():
            os.kill(p.pid, sig)
    for p in procs:
        p.join(_STOP_WAIT)
        if p.is_alive():
            p.kill()
            p.join()


@contextmanager
def _children_ignore_sigint():
    """Spawn children with SIGINT ignored, until _process_main installs its handler.

    A SIGINT reaching a child still importing would otherwise print a
    KeyboardInterrupt traceback; the ``stop`` event covers a child that misses it.
    """
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _single_thread_blas_env():
    """Children inherit the environment at spawn: pin BLAS before they import numpy."""
    saved = {k: os.environ.get(k) for k in _BLAS_ENV}
    os.environ.update({k: "1" for k in _BLAS_ENV})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_method() -> str:
    """How the pool starts workers: "fork" on Linux (fast, see the module docstring), else "spawn".

    Also "spawn" when this process runs other threads (a notebook's kernel, a
    server): a forked child would inherit whatever locks they hold.
    ``HPSEARCH_START_METHOD`` (fork | spawn | forkserver) overrides it.
    """
    forced = os.environ.get("HPSEARCH_START_METHOD")
    if forced:
        return forced
    return "fork" if sys.platform.startswith("linux") and threading.active_count() == 1 else "spawn"


class Pool:
    """``jobs`` worker processes over the studies; ``wait`` until they are done.

    Start it before any other thread of this process runs (the progress bar's):
    a forked child inherits the locks other threads hold at that moment.
    """

    def __init__(
        self,
        url: str,
        names: Sequence[str],
        jobs: int,
        *,
        deadline: float | None = None,
        first_worker: int = 0,
        max_failures: int = MAX_FAILURES,
        storage: optuna.storages.BaseStorage | None = None,
        slots: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """``slots``: each worker's devices (worker w gets ``slots[w]``); None: no devices assigned."""
        method = start_method()
        ctx = multiprocessing.get_context(method)
        self.jobs = jobs
        self.errors, self.stop, self.told = ctx.SimpleQueue(), ctx.Event(), ctx.Event()
        self.procs: list[Any] = []
        if method == "fork" and storage is not None:
            # No pooled connection may cross the fork: the children connect on their own.
            engine_of(storage).dispose()
            _INHERITED_STORAGE[url] = storage
        try:
            with _single_thread_blas_env(), _children_ignore_sigint():
                for w in range(jobs):
                    p = ctx.Process(  # type: ignore[attr-defined]
                        target=_process_main,
                        args=(
                            url,
                            list(names),
                            first_worker + w,
                            deadline,
                            os.getpid(),
                            max_failures,
                            self.errors,
                            self.stop,
                            self.told,
                            worker_environment(w, None if slots is None else slots[w]),
                        ),
                        name=f"hpsearch-worker-{w}",
                    )
                    p.start()
                    self.procs.append(p)
        finally:
            _INHERITED_STORAGE.clear()

    def wait(self, on_poll: Callable[[], None] | None = None) -> None:
        """Wait for the workers (calling ``on_poll`` about every POLL_SECONDS).

        Ctrl-C is passed on to the workers, which fail their running trial and
        exit; a re-run resumes. When a worker stops because the objective keeps
        failing (or on bad input), the others are stopped the same way and its
        reason is raised here (ObjectiveFailing / UserError), once.
        """
        procs, errors, stop = self.procs, self.errors, self.stop
        try:
            with sigterm_stops():
                while errors.empty():
                    if sigterm_requested():
                        raise Terminated  # its handler's own raise was dropped (it struck in a finalizer)
                    alive = [p for p in procs if p.is_alive()]
                    if not alive:
                        break
                    if on_poll is not None:
                        on_poll()
                    # Wake as soon as any worker exits (the last one's end is the run's end). The list
                    # is the one just checked: a second is_alive() here could find every worker gone
                    # and wait on no sentinel at all, a whole POLL_SECONDS after the last exit.
                    multiprocessing.connection.wait([p.sentinel for p in alive], POLL_SECONDS)
        except KeyboardInterrupt as exc:
            _stop_workers(procs, stop, signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
            raise
        if not errors.empty():
            kind, message = errors.get()
            _stop_workers(procs, stop)
            if on_poll is not None:
                on_poll()
            raise _WORKER_ERRORS.get(kind, ObjectiveFailing)(message)
        for p in procs:
            p.join()
        if on_poll is not None:
            on_poll()
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise WorkerFailed(
                f"{len(failed)} of {self.jobs} worker processes failed (exit codes {failed}); see the messages above"
            )


# What a worker process's reason to stop (_kind) is raised as in the parent.
_WORKER_ERRORS: dict[str, type[Exception]] = {"input": UserError, "database": DatabaseError}
