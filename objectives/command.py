"""The command objective: one trial = one run of the user's own training program.

``[command] run`` is split like a shell, then each ``{name}`` in an argument
is replaced by that parameter's value (searched or fixed); the program runs
without a shell, so a parameter holding ``;`` or spaces stays one argument.
It runs in ``study.workdir`` (default: the spec file's folder) and finds in
its environment:

- ``HPSEARCH_PARAMS``: all parameters as one JSON object;
- ``HPSEARCH_TRIAL_DIR``: a folder of its own for checkpoints and logs,
  ``<workdir>/.hpsearch-trials/<study name>/<trial number>``;
- ``HPSEARCH_TRIAL_NUMBER`` and ``HPSEARCH_STUDY``;
- ``PYTHONUNBUFFERED=1``, so a Python script's progress lines arrive as printed.

Its stdout is read line by line. A line ``{"step": n, "value": x}`` is an
intermediate value, reported to the pruner; when the pruner says stop, the
program gets SIGTERM (then SIGKILL after a grace period) and the trial is
PRUNED. The last line is the result: a bare number or ``{"value": x}``. A
non-zero exit, a missing result or the timeout fails the trial with a
:class:`CommandFailed` that carries the tail of the program's stderr.
"""

from __future__ import annotations

import collections
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from hpsearch.spec.command import PLACEHOLDER, split_command

if TYPE_CHECKING:
    from hpsearch.spec import Spec

STDERR_TAIL = 1500  # characters of stderr kept with a failed trial (with the message, under the 2000 a trial keeps)
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL
TRIALS_FOLDER = ".hpsearch-trials"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _parent_death_signal():
    """Linux: a preexec function asking the kernel to SIGTERM the program when hpsearch dies.

    Without it a killed ``hpsearch run`` (the crash that resuming recovers
    from) would leave the program training on, unwatched and past its timeout.
    The libc function is looked up here, in the parent, so the child only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_death_signal() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG

    return set_death_signal


_PREEXEC = _parent_death_signal()


class CommandFailed(RuntimeError):
    """The program exited non-zero, timed out, or printed no result; the message says which."""


def format_value(value: Any) -> str:
    """A parameter as it appears in an argument: JSON-like (true/false), numbers as Python prints them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def command_line(run: str, params: Mapping[str, Any]) -> list[str]:
    """``run`` split like a shell, then ``{name}`` placeholders filled in each argument."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return format_value(params[name]) if name in params else match.group(0)

    return [PLACEHOLDER.sub(fill, arg) for arg in split_command(run)]


def trial_dir(workdir: str | Path, study_name: str, number: int) -> Path:
    """``<workdir>/.hpsearch-trials/<study name>/<number>``; each '/' of a compare arm's name nests a folder."""
    parts = [_SAFE.sub("_", p) or "_" for p in study_name.split("/") if p not in ("", ".", "..")]
    return Path(workdir, TRIALS_FOLDER, *parts, str(number))


def parse_step(line: str) -> tuple[int, float] | None:
    """``{"step": n, "value": x}`` -> (n, x); None for any other line. A malformed step line raises."""
    if not line.startswith("{") or '"step"' not in line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "step" not in obj:
        return None
    step, value = obj.get("step"), obj.get("value")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0 or not _is_number(value):
        raise CommandFailed(
            f'expected an intermediate value line {{"step": <integer >= 0>, "value": <number>}}, got {line[:200]}'
        )
    return step, float(value)


def parse_result(line: str | None) -> float:
    """The last stdout line -> the trial's value: a bare number or ``{"value": x}``."""
    expected = 'expected the last line of stdout to be a number or {"value": <number>}'
    if line is None:
        raise CommandFailed(f"{expected}, got no output")
    try:
        return float(line)
    except ValueError:
        pass
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and set(obj) == {"value"} and _is_number(obj["value"]):
        return float(obj["value"])
    if isinstance(obj, dict) and "step" in obj:
        raise CommandFailed(f"{expected}, got an intermediate value line last: {line[:200]}")
    raise CommandFailed(f"{expected}, got {line[:200]!r}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class CommandObjective:
    """``objective(trial, params) -> value`` that runs ``spec.command.run`` once per trial."""

    def __init__(self, spec: Spec) -> None:
        self.run = spec.command.run
        self.timeout = float(spec.command.timeout)
        self.workdir = Path(spec.study.workdir or os.getcwd())
        self.fixed = dict(spec.training)

    def argv(self, params: Mapping[str, Any]) -> list[str]:
        return command_line(self.run, {**self.fixed, **params})

    def __call__(self, trial: optuna.trial.BaseTrial, params: Mapping[str, Any]) -> float:
        values = {**self.fixed, **params}
        argv = command_line(self.run, values)
        study_name = getattr(getattr(trial, "study", None), "study_name", None) or "study"
        folder = trial_dir(self.workdir, study_name, trial.number)
        folder.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HPSEARCH_PARAMS": json.dumps(values),
            "HPSEARCH_TRIAL_DIR": str(folder),
            "HPSEARCH_TRIAL_NUMBER": str(trial.number),
            "HPSEARCH_STUDY": study_name,
            "PYTHONUNBUFFERED": "1",
        }
        trial.set_user_attr("command", argv)
        trial.set_user_attr("trial_dir", str(folder))
        run = _Run(argv, cwd=self.workdir, env=env)
        curve: list[float] = []
        outcome = "failed"
        try:
            deadline = time.monotonic() + self.timeout
            last = None
            for line in run.lines(deadline):
                step = parse_step(line)
                if step is None:
                    last = line
                    continue
                last = line
                curve.append(step[1])
                if math.isfinite(step[1]):
                    trial.report(step[1], step[0])
                    if trial.should_prune():
                        outcome = "pruned"
                        break
            else:
                if run.timed_out:
                    outcome = "timeout"
                else:
                    outcome = "exited"
        finally:
            run.stop()  # stops a still-running program (pruned, timed out, or an exception here)
            trial.set_user_attr("learning_curve", curve)
        if outcome == "pruned":
            raise optuna.TrialPruned(f"pruned after step {len(curve)} (the program was stopped)")
        if outcome == "timeout":
            raise CommandFailed(
                f"command timed out after {self.timeout:g} s (command.timeout): {_show(argv)}{run.stderr_tail()}"
            )
        code = run.returncode
        trial.set_user_attr("exit_code", code)
        if code != 0:
            how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            raise CommandFailed(f"command {how}: {_show(argv)}{run.stderr_tail()}")
        try:
            return parse_result(last)
        except CommandFailed as exc:
            raise CommandFailed(f"{exc} (command: {_show(argv)}){run.stderr_tail()}") from None


class _Run:
    """A running program whose stdout lines arrive through a queue and whose stderr tail is kept."""

    def __init__(self, argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                start_new_session=True,  # its own process group: stop() reaches its children too
                preexec_fn=_PREEXEC,
            )
        except OSError as exc:
            raise CommandFailed(f"could not start the command {_show(argv)} in {cwd}: {exc.strerror or exc}") from None
        self.timed_out = False
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque()
        self._stderr_size = 0
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        try:
            for line in self.process.stdout:
                self._lines.put(line.strip())
        finally:
            self._lines.put(None)

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.process.stderr.read(4096), ""):
            with self._lock:
                self._stderr.append(chunk)
                self._stderr_size += len(chunk)
                while self._stderr_size - len(self._stderr[0]) > STDERR_TAIL:
                    self._stderr_size -= len(self._stderr.popleft())

    def lines(self, deadline: float):
        """Non-empty stdout lines until the program closes stdout or ``deadline`` passes."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                return
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                remaining = deadline - time.monotonic()
                try:
                    self.process.wait(timeout=max(remaining, 0.0))
                except subprocess.TimeoutExpired:  # closed stdout but runs on
                    self.timed_out = True
                return
            if line:
                yield line

    @property
    def returncode(self) -> int:
        return self.process.wait()

    def stop(self) -> None:
        """SIGTERM the program's process group, SIGKILL it after a grace period; close the pipes."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        elif any(reader.is_alive() for reader in self._readers):
            # It exited, but children it left behind still hold its pipes (so its
            # process group still exists): stop them too.
            self._signal(signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=GRACE_SECONDS)
        for pipe in (self.process.stdout, self.process.stderr):
            try:
                pipe.close()
            except OSError:
                pass

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stderr_tail(self) -> str:
        for reader in self._readers[1:]:
            reader.join(timeout=GRACE_SECONDS)
        with self._lock:
            text = "".join(self._stderr)[-STDERR_TAIL:].strip()
        return f"\nstderr (last {STDERR_TAIL} characters):\n{text}" if text else "\n(no stderr output)"


def _show(argv: list[str]) -> str:
    import shlex

    text = shlex.join(argv)
    return text if len(text) <= 300 else text[:297] + "..."


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
