"""SIGTERM as a stop request that cannot be lost (a scheduler's preemption, scancel, a pod's deletion).

The handler raises :class:`Terminated` in the main thread, so whatever runs
there (a trial, a wait) is cut short at once. But Python may run a signal
handler inside a finalizer (a weakref callback of SQLAlchemy's, measured:
about 1 SIGTERM in 20 landed there), where an exception is printed and
dropped. So the handler also records the request, and the places that wait
for long (the command objective's wait for its program, the worker loop
between trials) call :func:`check`, which raises Terminated again.

The record is this process's, like the signal itself: a module-level Event,
set by the handler only and cleared when :func:`sigterm_stops` is entered.

The handlers also count the exceptions they raise (:func:`interrupts`): one
may have struck inside a database call and left its connection or session
unusable, so the worker's storage replaces them once after each
(hpsearch.storage.renew_after_interrupts).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_REQUESTED = threading.Event()
_INTERRUPTED = threading.Event()  # SIGINT (Ctrl-C, or the pool stopping its workers), same reasoning
_raised = [0]  # how many exceptions the handlers raised in this process (only ever grows)


class Terminated(KeyboardInterrupt):
    """SIGTERM reached this process (a scheduler's preemption, scancel, a pod's deletion, a dead parent).

    Handled as Ctrl-C is: the running trial's program is stopped (SIGTERM, then
    SIGKILL after its grace period), the trial is marked interrupted (a crash:
    its slot is free at once, not after a heartbeat expiry) and the process exits.
    """


class AttemptInterrupted(Exception):
    """Raised by an objective whose run was stopped from outside (a scheduler's SIGTERM to its program).

    Not the configuration's fault: the worker records the trial as a crash
    (FAIL with ``fail_reason``, no ``error``), so its slot runs again at once,
    and counts it toward --max-failures only, so a program that always dies
    this way still stops the run.
    """


def _drop_quietly(unraisable) -> None:
    """sys.unraisablehook: a Terminated or KeyboardInterrupt dropped in a finalizer is expected
    (check() raises it again); anything else goes to Python's own hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):  # Terminated is one too
        return
    sys.__unraisablehook__(unraisable)


def install() -> None:
    """Make SIGTERM raise Terminated and SIGINT KeyboardInterrupt, each once, in this process (a
    worker process, for its whole life)."""
    sys.unraisablehook = _drop_quietly
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigint)


def on_sigint(signum, frame) -> None:
    """SIGINT in a worker: interrupt once, then ignore repeats.

    A terminal's Ctrl-C reaches the workers directly and again through the
    parent; a second KeyboardInterrupt would break off the clean-up that marks
    the running trial failed. Recorded like SIGTERM, for the case where the raise
    lands in a finalizer and is dropped (it then printed a 9-line "Exception
    ignored in: <function _collection_gced ...>" that broke a one-line error).
    """
    if _INTERRUPTED.is_set():
        return
    _INTERRUPTED.set()
    _raised[0] += 1
    raise KeyboardInterrupt


def on_sigterm(signum, frame) -> None:
    """The SIGTERM handler: record the request and raise Terminated, once (repeats must not
    break off the clean-up that marks the trial interrupted)."""
    if _REQUESTED.is_set():
        return
    _REQUESTED.set()
    _raised[0] += 1
    raise Terminated


def interrupts() -> int:
    """How many times a handler of this module raised its exception in this process.

    Such an exception may have struck anywhere, a database call included; a
    connection in use at that moment must not be used again.
    """
    return _raised[0]


def requested() -> bool:
    """Whether SIGTERM arrived (since sigterm_stops was entered, or the process installed on_sigterm)."""
    return _REQUESTED.is_set()


def check() -> None:
    """Raise Terminated if SIGTERM arrived (KeyboardInterrupt if SIGINT did): for the case where the
    handler's own raise was dropped."""
    if _REQUESTED.is_set():
        raise Terminated
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


@contextmanager
def sigterm_stops() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated in the main thread (elsewhere: nothing changes).

    Ctrl-C raises KeyboardInterrupt as Python's own handler does, but counted
    in :func:`interrupts` (unless someone installed a SIGINT handler of their own).
    """
    _REQUESTED.clear()
    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        yield
        return
    counts_sigint = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if counts_sigint:
        signal.signal(signal.SIGINT, _counted_sigint)
    hook, sys.unraisablehook = sys.unraisablehook, _drop_quietly
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if counts_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = hook
        _REQUESTED.clear()


def _counted_sigint(signum, frame) -> None:
    """Python's default SIGINT handler (KeyboardInterrupt, every time), counted in :func:`interrupts`."""
    _raised[0] += 1
    raise KeyboardInterrupt
