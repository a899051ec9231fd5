"""No orphans: a process that the kernel stops when its parent dies (Linux's PR_SET_PDEATHSIG).

Two links use it. A command trial's program asks for SIGTERM when its worker
dies (set between fork and exec), and a pool's worker process asks for
SIGTERM when ``hpsearch run`` dies. After ``kill -9`` of ``run`` the worker is
then told at once; its SIGTERM handler stops the program's whole process group
and marks the trial interrupted, instead of the program training on unwatched.
Elsewhere (macOS, Windows) both are no-ops; the worker's own check of its
parent between trials remains.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _prctl_death_signal() -> Callable[[], None] | None:
    """A function that sets PR_SET_PDEATHSIG to SIGTERM for the calling process, or None.

    The libc function is looked up here, once, so a child between fork and
    exec (a preexec function) only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return set_death_signal


PREEXEC: Callable[[], None] | None = _prctl_death_signal()


def die_with_parent() -> None:
    """SIGTERM this process when its parent dies (Linux; else nothing)."""
    if PREEXEC is not None:
        PREEXEC()
