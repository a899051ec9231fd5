"""The worker loop (ask, train, tell until every slot is done) and worker processes.

One loop serves ``run --jobs 1`` (in-process), ``run --jobs J`` (J spawned
processes), ``compare`` (one pool over many studies) and ``hpsearch worker``
(more processes or machines joining a study). A worker only needs the storage
URL and study names: the spec comes from the database.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import optuna

from hpsearch.errors import UserError
from hpsearch.search._load import load_study
from hpsearch.search._recovery import Heartbeat, fail_own_trials
from hpsearch.search._trial import SlotsBusy, StudyComplete, TrialAlreadyFinished, ask_trial, tell_trial
from hpsearch.storage import open_storage

log = logging.getLogger("hpsearch.search")

MAX_CONSECUTIVE_CRASHES = 5  # a user objective that always raises must not loop forever
POLL_SECONDS = 0.5  # how often an idle worker looks for a freed slot
_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS")


class TooManyCrashes(RuntimeError):
    """The objective raised on several trials in a row: a bug, not bad luck."""


class WorkerFailed(RuntimeError):
    """A worker process exited with an error."""


@dataclass
class _Job:
    study: optuna.Study
    spec: Any
    objective: Callable


def work(storage: optuna.storages.BaseStorage, names: Sequence[str], *, worker: int = 0,
         deadline: float | None = None, on_trial: Callable[[], None] | None = None,
         parent_pid: int | None = None) -> int:
    """Run trials of the named studies until all are complete or the deadline passes.

    Studies are worked in order; a worker whose study has only running slots
    left moves to the next one, and waits (polling) when every study is busy,
    because a slot frees up again if its worker dies. Returns trials run.
    """
    jobs: dict[str, _Job] = {}
    try:
        return _work(storage, names, jobs, worker, deadline, on_trial, parent_pid)
    except KeyboardInterrupt:
        # Ctrl-C may strike between creating a trial and running it: fail whatever we hold.
        for job in jobs.values():
            fail_own_trials(job.study, "interrupted (Ctrl-C)")
        raise


def _work(storage, names, jobs: dict[str, _Job], worker: int, deadline: float | None,
          on_trial: Callable[[], None] | None, parent_pid: int | None) -> int:
    pending = list(names)
    crashes, ran = 0, 0
    while pending:
        all_busy = True
        for name in list(pending):
            if _should_stop(deadline, parent_pid):
                return ran
            job = jobs.get(name) or jobs.setdefault(name, _load_job(storage, name, worker))
            asked = time.monotonic()
            try:
                trial, params = ask_trial(job.study, job.spec, heartbeat=True)
            except SlotsBusy:
                continue
            except StudyComplete:
                pending.remove(name)
                continue
            all_busy = False
            crashed = _run_trial(job, trial, params, asked)
            ran += 1
            crashes = crashes + 1 if crashed else 0
            if crashes >= MAX_CONSECUTIVE_CRASHES:
                raise TooManyCrashes(
                    f"study {name!r}: the objective raised on {crashes} trials in a row "
                    f"(last: {crashed}); stopping. Fix the objective and re-run to resume."
                )
            if on_trial is not None:
                on_trial()
            break  # back to the first pending study: finish studies in order
        if pending and all_busy:
            time.sleep(POLL_SECONDS)
    return ran


def _load_job(storage: optuna.storages.BaseStorage, name: str, worker: int) -> _Job:
    from objectives import build_objective

    study, spec = load_study(storage, name, worker=worker)
    return _Job(study, spec, build_objective(spec))


def _run_trial(job: _Job, trial: optuna.Trial, params: dict, asked: float) -> str | None:
    """Train one trial and tell its outcome; returns a one-line crash message, or None.

    ``asked``: time.monotonic() before ask_trial, which recorded the first heartbeat.
    """
    study, number = job.study, trial.number
    storage = study._storage
    with Heartbeat(storage, trial._trial_id, beaten_at=asked):
        try:
            value = job.objective(trial, params)
        except optuna.TrialPruned:
            _tell(study, number, state="pruned")
            return None
        except KeyboardInterrupt:
            _fail(study, trial, "interrupted (Ctrl-C)")
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            log.warning("trial %d of %s crashed: %s", number, study.study_name, message)
            _fail(study, trial, traceback.format_exc())
            return message
        try:
            _tell(study, number, value=value)
        except UserError:
            message = f"the objective returned {value!r}, expected a number"
            log.warning("trial %d of %s crashed: %s", number, study.study_name, message)
            _fail(study, trial, message)
            return message
    return None


def _tell(study: optuna.Study, number: int, **kw) -> None:
    try:
        tell_trial(study, number, **kw)
    except TrialAlreadyFinished:
        # Failed by someone else (our heartbeat looked stale): its slot is re-run elsewhere.
        log.warning("trial %d of %s was failed by another worker meanwhile", number, study.study_name)


def _fail(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    try:
        study._storage.set_trial_system_attr(trial._trial_id, "fail_reason", reason[-2000:])
        tell_trial(study, trial.number, state="fail")
    except (TrialAlreadyFinished, optuna.exceptions.UpdateFinishedTrialError):
        pass


def _should_stop(deadline: float | None, parent_pid: int | None) -> bool:
    if deadline is not None and time.time() >= deadline:
        return True
    return parent_pid is not None and os.getppid() != parent_pid  # our parent died: stop


def _interrupt_once(signum, frame) -> None:
    """SIGINT in a worker: interrupt once, then ignore repeats.

    A terminal's Ctrl-C reaches the workers directly and again through the
    parent; a second KeyboardInterrupt would break off the clean-up that marks
    the running trial failed.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def quiet_pool_resets() -> None:
    """Keep SQLAlchemy's pool from printing a traceback when Ctrl-C lands in a connection reset.

    SQLAlchemy logs that case at ERROR and then re-raises the interrupt, which
    we handle; the log line would only show the user a traceback.
    """
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)


def _process_main(url: str, names: list[str], worker: int, deadline: float | None, parent_pid: int) -> None:
    """Entry point of a spawned worker process: one BLAS thread, its own storage connection."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    signal.signal(signal.SIGINT, _interrupt_once)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    quiet_pool_resets()
    try:
        work(open_storage(url), names, worker=worker, deadline=deadline, parent_pid=parent_pid)
    except KeyboardInterrupt:
        sys.exit(130)
    except (TooManyCrashes, UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(3)


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


def run_pool(url: str, names: Sequence[str], jobs: int, *, deadline: float | None = None,
             on_poll: Callable[[], None] | None = None, first_worker: int = 0) -> None:
    """Run ``jobs`` worker processes (spawned) over the studies and wait for them.

    Ctrl-C is passed on to the workers, which fail their running trial and
    exit; a re-run resumes.
    """
    ctx = multiprocessing.get_context("spawn")
    procs = []
    with _single_thread_blas_env():
        for w in range(jobs):
            p = ctx.Process(target=_process_main, args=(url, list(names), first_worker + w, deadline, os.getpid()),
                            name=f"hpsearch-worker-{w}")
            p.start()
            procs.append(p)
    try:
        while any(p.is_alive() for p in procs):
            if on_poll is not None:
                on_poll()
            procs[0].join(POLL_SECONDS) if procs[0].is_alive() else time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.terminate()
                p.join()
        raise
    if on_poll is not None:
        on_poll()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise WorkerFailed(f"{len(failed)} of {jobs} worker processes failed (exit codes {failed}); "
                           "see the messages above")
