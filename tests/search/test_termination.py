"""A signal whose KeyboardInterrupt lands in a finalizer is dropped by Python: it must stay quiet and not be lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# The handler runs while Python executes a weakref callback (as SQLAlchemy's _collection_gced does):
# Python prints "Exception ignored in: ..." and drops the exception. The worker must print nothing
# and stop at its next check() with the exception the signal meant.
PROGRAM = textwrap.dedent("""
    import os, signal, sys, weakref
    from hpsearch.search import _termination

    _termination.install()

    class Thing:
        pass

    def finalizer(ref):
        os.kill(os.getpid(), signal.{sig})
        for _ in range(100_000):  # the handler runs between bytecodes, here, inside the callback
            pass

    thing = Thing()
    ref = weakref.ref(thing, finalizer)
    del thing  # the callback runs now and the handler's raise is dropped
    print("survived the finalizer", flush=True)
    try:
        _termination.check()
    except {exc} as e:
        print("check raised", type(e).__name__, flush=True)
        sys.exit(3)
    sys.exit(0)
""")


@pytest.mark.parametrize(("sig", "exc"), [("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "_termination.Terminated")])
def test_a_signal_dropped_in_a_finalizer_is_quiet_and_raised_again_by_check(sig, exc):
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(sig=sig, exc=exc)], capture_output=True, text=True, timeout=120
    )
    assert done.stderr == ""  # no "Exception ignored in ..." traceback
    assert done.stdout.splitlines()[0] == "survived the finalizer"
    assert done.returncode == 3, done.stdout
    assert done.stdout.splitlines()[1].startswith("check raised")
