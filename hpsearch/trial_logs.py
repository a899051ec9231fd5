"""A command trial's output: where its stdout and stderr logs are, and reading them as they grow.

The command objective (objectives.command) writes every trial's stdout and
stderr to files in the trial's folder and records their paths as user attrs
``stdout_log`` and ``stderr_log``; ``hpsearch logs`` and anything else that
shows a trial's output reads them through this module. Files are read in
chunks, so a log of any size streams without being held in memory. Logs live
on the machine that ran the trial (user attr ``trial_dir``; system attr
``hpsearch_host`` names it): on another machine they are missing, and the
error says where they are.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from optuna.trial import FrozenTrial

from hpsearch.errors import UserError
from hpsearch.records import HOST_ATTR
from hpsearch.records import STDERR_LOG_ATTR as STDERR_ATTR
from hpsearch.records import STDOUT_LOG_ATTR as STDOUT_ATTR

CHUNK = 64 * 1024
FOLLOW_POLL = 0.2  # seconds between looks at a followed log


@dataclass(frozen=True)
class TrialLogs:
    """The two log files of one trial (stdout, stderr)."""

    study: str
    number: int
    stdout: Path
    stderr: Path


def trial_logs(study_name: str, trial: FrozenTrial) -> TrialLogs:
    """The logs of ``trial``; UserError when it kept none or they are not on this machine."""
    out, err = trial.user_attrs.get(STDOUT_ATTR), trial.user_attrs.get(STDERR_ATTR)
    if not isinstance(out, str) or not isinstance(err, str):
        raise UserError(
            f"trial {trial.number} of study {study_name!r} has no logs (only command trials keep their output)"
        )
    logs = TrialLogs(study_name, trial.number, Path(out), Path(err))
    missing = [p for p in (logs.stdout, logs.stderr) if not p.exists()]
    if missing:
        host = trial.system_attrs.get(HOST_ATTR)
        where = f" on {host}" if isinstance(host, str) and host != socket.gethostname() else ""
        raise UserError(
            f"trial {trial.number} of study {study_name!r}: its log {missing[0]} is not here; "
            f"it was written{where} by the worker that ran the trial"
        )
    return logs


def copy_chunks(path: Path, write: Callable[[bytes], Any], start: int = 0) -> int:
    """Write the bytes of ``path`` from offset ``start`` in chunks; returns the new offset."""
    with open(path, "rb") as f:
        f.seek(start)
        for chunk in iter(lambda: f.read(CHUNK), b""):
            write(chunk)
            start += len(chunk)
    return start


def follow(
    logs: TrialLogs,
    out: IO[bytes],
    err: IO[bytes],
    running: Callable[[], bool],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Copy both logs to ``out``/``err`` as they grow, until ``running()`` says the trial ended.

    After the trial ends the logs are read once more, so nothing its program
    wrote last is lost.
    """
    offsets = [0, 0]
    pairs = ((logs.stdout, out), (logs.stderr, err))
    while True:
        alive = running()  # asked before the last read: output written before the end is read after it
        for i, (path, stream) in enumerate(pairs):
            offsets[i] = copy_chunks(path, _writer(stream), offsets[i])
        if not alive:
            return
        sleep(FOLLOW_POLL)


def _writer(stream: IO[bytes]) -> Callable[[bytes], Any]:
    def write(chunk: bytes) -> None:
        stream.write(chunk)
        stream.flush()

    return write
