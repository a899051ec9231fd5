"""The command objective: one trial = one run of the user's own training program.

``[command] run`` is split like a shell, then each ``{name}`` in an argument
is replaced by that parameter's value (searched or fixed); the program runs
without a shell, so a parameter holding ``;`` or spaces stays one argument.
It runs in ``study.workdir`` (default: the spec file's folder) and finds in
its environment:

- ``HPSEARCH_PARAMS``: all parameters as one JSON object;
- ``HPSEARCH_TRIAL_DIR``: a folder for checkpoints,
  ``<workdir>/.hpsearch-trials/<study name>/<slot>``, keyed by the budget slot
  the trial runs, not by its number: a slot re-run after a kill or a
  preemption gets the same folder and finds its predecessor's checkpoint;
- ``HPSEARCH_ATTEMPT``: 1 for a slot's first trial, 2, 3, ... for its re-runs;
- ``HPSEARCH_TRIAL_NUMBER``, ``HPSEARCH_SLOT`` and ``HPSEARCH_STUDY``;
- ``HPSEARCH_WORKER`` (0..J-1) and, with ``--gpus``, ``CUDA_VISIBLE_DEVICES``
  and ``HPSEARCH_DEVICES`` (set by its worker process, see
  hpsearch.search._devices);
- ``PYTHONUNBUFFERED=1``, so a Python script's progress lines arrive as printed.

Its stdout and stderr go, as they arrive, to ``stdout-<number>.log`` and
``stderr-<number>.log`` in the trial folder (user attrs ``stdout_log`` and
``stderr_log``; ``hpsearch logs``). Output is read in bounded chunks: a line
is kept only up to LINE_LIMIT characters, so a 100 MB line costs no memory.
A line ``{"step": n, "value": x}`` is an intermediate value, reported to the
pruner; when the pruner says stop, the program gets SIGTERM (then SIGKILL after
``command.grace`` seconds) and the trial is PRUNED. The last line is the
result: a bare number or ``{"value": x}``. A non-zero exit, a missing result
or the timeout fails the trial with a :class:`CommandFailed` whose first line
names the cause (the last line of stderr, e.g. ``ModuleNotFoundError: No
module named 'sklearn'``) and whose rest keeps the tail of stderr.

A program killed by SIGTERM or SIGINT that hpsearch did not send (a
scheduler preempting the job) is no fault of its configuration: the attempt
is interrupted (:class:`~hpsearch.search._termination.AttemptInterrupted`) and
its slot runs again.
"""

from __future__ import annotations

import collections
import json
import math
import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import optuna

from hpsearch.records import (
    ATTEMPT_ATTR,
    LEARNING_CURVE_ATTR,
    SLOT_ATTR,
    STDERR_LOG_ATTR,
    STDOUT_LOG_ATTR,
    TRIAL_DIR_ATTR,
)
from hpsearch.search._devices import WORKER_ENV
from hpsearch.search._parent_death import PREEXEC
from hpsearch.search._termination import AttemptInterrupted
from hpsearch.search._termination import check as check_sigterm
from hpsearch.spec.command import PLACEHOLDER, split_command
from hpsearch.storage._attrs import set_user_attrs, trial_slot

if TYPE_CHECKING:
    from hpsearch.spec import Spec

STDERR_TAIL = 1500  # characters of stderr kept with a failed trial (with the message, under the 2000 a trial keeps)
GRACE_SECONDS = 10.0  # between SIGTERM and SIGKILL, unless command.grace says otherwise
TRIALS_FOLDER = ".hpsearch-trials"
CHUNK = 64 * 1024  # bytes read from a pipe at a time
LINE_LIMIT = 64 * 1024  # characters of one stdout line kept in memory (the rest goes to the log only)
POLL_SECONDS = 0.5  # how often a wait for the program looks whether its worker was told to stop
STEP_BACKLOG = 10_000  # intermediate-value lines waiting for the pruner; the program waits beyond that
STOPPED_FROM_OUTSIDE = (signal.SIGTERM, signal.SIGINT)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


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


def trial_dir(workdir: str | Path, study_name: str, slot: int) -> Path:
    """``<workdir>/.hpsearch-trials/<study name>/<slot>``; each '/' of a compare arm's name nests a folder."""
    parts = [_SAFE.sub("_", p) or "_" for p in study_name.split("/") if p not in ("", ".", "..")]
    return Path(workdir, TRIALS_FOLDER, *parts, str(slot))


def log_paths(folder: Path, number: int) -> tuple[Path, Path]:
    """Where trial ``number``'s stdout and stderr go: one pair per attempt, in its slot's folder."""
    return folder / f"stdout-{number}.log", folder / f"stderr-{number}.log"


def attempt_of(trial: optuna.trial.BaseTrial, slot: int) -> int:
    """1 for the first trial of ``slot``, 2, 3, ... for the trials that re-ran it after a crash.

    Counted from the study's trials that ran the same slot with a number up to
    this one (a FixedTrial, or a trial outside hpsearch's ask, is attempt 1).
    """
    study = getattr(trial, "study", None)
    if not isinstance(trial, optuna.Trial) or study is None:
        return 1
    same = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.system_attrs.get(SLOT_ATTR) == slot and t.number <= trial.number
    ]
    return max(len(same), 1)


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


def parse_result(line: str | None, n_objectives: int = 1) -> Any:
    """The last stdout line -> the trial's value: a bare number or ``{"value": x}``.

    With several objectives: ``{"values": [x, y, ...]}`` (one per objective, in
    the order of study.objectives), optionally with ``"constraints": {"name":
    c, ...}`` (c <= 0: satisfied), returned as that dict.
    """
    if n_objectives > 1:
        return _parse_values(line, n_objectives)
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


def _parse_values(line: str | None, n: int) -> dict[str, Any]:
    expected = f'expected the last line of stdout to be {{"values": [<{n} numbers>]}}'
    if line is None:
        raise CommandFailed(f"{expected}, got no output")
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or not set(obj) <= {"values", "constraints"} or "values" not in obj:
        raise CommandFailed(f"{expected}, got {line[:200]!r}")
    values, constraints = obj["values"], obj.get("constraints")
    if not isinstance(values, list) or len(values) != n or not all(_is_number(v) for v in values):
        raise CommandFailed(f"{expected}, got {line[:200]!r}")
    if constraints is not None and not (
        isinstance(constraints, dict) and all(_is_number(v) for v in constraints.values())
    ):
        raise CommandFailed(f'expected "constraints" to be {{"name": <number>, ...}}, got {line[:200]!r}')
    return {"values": [float(v) for v in values], "constraints": constraints}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class CommandObjective:
    """``objective(trial, params) -> value`` that runs ``spec.command.run`` once per trial."""

    def __init__(self, spec: Spec) -> None:
        self.run = spec.command.run
        self.test = spec.command.test
        self.timeout = float(spec.command.timeout)
        self.grace = float(spec.command.grace or GRACE_SECONDS)
        self.workdir = Path(spec.study.workdir or os.getcwd())
        self.fixed = dict(spec.training)
        self.n_objectives = max(1, len(spec.directions))

    def argv(self, params: Mapping[str, Any]) -> list[str]:
        return command_line(self.run, {**self.fixed, **params})

    def __call__(self, trial: optuna.trial.BaseTrial, params: Mapping[str, Any]) -> Any:
        values = {**self.fixed, **params}
        argv = command_line(self.run, values)
        study_name = getattr(getattr(trial, "study", None), "study_name", None) or "study"
        slot = trial_slot(trial)
        attempt = attempt_of(trial, slot)
        folder = trial_dir(self.workdir, study_name, slot)
        folder.mkdir(parents=True, exist_ok=True)
        stdout_log, stderr_log = log_paths(folder, trial.number)
        env = {
            **os.environ,
            "HPSEARCH_PARAMS": json.dumps(values),
            "HPSEARCH_TRIAL_DIR": str(folder),
            "HPSEARCH_TRIAL_NUMBER": str(trial.number),
            "HPSEARCH_SLOT": str(slot),
            "HPSEARCH_ATTEMPT": str(attempt),
            "HPSEARCH_STUDY": study_name,
            "PYTHONUNBUFFERED": "1",
        }
        env.setdefault(WORKER_ENV, "0")  # a pool's worker process sets its own index
        set_user_attrs(
            trial,
            {
                "command": argv,
                TRIAL_DIR_ATTR: str(folder),
                ATTEMPT_ATTR: attempt,
                STDOUT_LOG_ATTR: str(stdout_log),
                STDERR_LOG_ATTR: str(stderr_log),
            },
        )
        run = _Run(argv, cwd=self.workdir, env=env, stdout_log=stdout_log, stderr_log=stderr_log, grace=self.grace)
        curve: list[float] = []
        outcome = "failed"
        try:
            deadline = time.monotonic() + self.timeout
            for line in run.step_lines(deadline):
                step = parse_step(line)
                if step is None:
                    continue
                curve.append(step[1])
                if math.isfinite(step[1]) and self.n_objectives == 1:  # Optuna prunes one objective only
                    trial.report(step[1], step[0])
                    if trial.should_prune():
                        outcome = "pruned"
                        break
            else:
                outcome = "timeout" if run.timed_out else "exited"
        finally:
            run.stop()  # stops a still-running program (pruned, timed out, interrupted, or an exception here)
            trial.set_user_attr(LEARNING_CURVE_ATTR, curve)
        if outcome == "pruned":
            raise optuna.TrialPruned(f"pruned after step {len(curve)} (the program was stopped)")
        if outcome == "timeout":
            raise CommandFailed(
                f"command timed out after {self.timeout:g} s (command.timeout){run.cause()}\n"
                f"command: {_show(argv)}{run.stderr_tail()}"
            )
        code = run.returncode
        trial.set_user_attr("exit_code", code)
        if code < 0 and -code in STOPPED_FROM_OUTSIDE:
            raise AttemptInterrupted(f"the program was stopped by {_signal_name(-code)} (not by hpsearch)")
        if code != 0:
            how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            raise CommandFailed(f"command {how}{run.cause()}\ncommand: {_show(argv)}{run.stderr_tail()}")
        try:
            return parse_result(run.last_line, self.n_objectives)
        except CommandFailed as exc:
            raise CommandFailed(f"{exc}\ncommand: {_show(argv)}{run.stderr_tail()}") from None

    def test_score(
        self, params: Mapping[str, Any], folder: Path, *, extra_env: Mapping[str, str] | None = None
    ) -> float:
        """Run ``[command] test`` for ``params``: the held-out score it prints last (for ``best --evaluate``)."""
        if self.test is None:
            raise CommandFailed("no [command] test to run")
        values = {**self.fixed, **params}
        argv = command_line(self.test, values)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HPSEARCH_PARAMS": json.dumps(values), "HPSEARCH_TRIAL_DIR": str(folder)}
        env.update(extra_env or {})
        env["PYTHONUNBUFFERED"] = "1"
        run = _Run(
            argv,
            cwd=self.workdir,
            env=env,
            stdout_log=folder / "test-stdout.log",
            stderr_log=folder / "test-stderr.log",
            grace=self.grace,
        )
        try:
            for _ in run.step_lines(time.monotonic() + self.timeout):
                pass
        finally:
            run.stop()
        if run.timed_out:
            raise CommandFailed(f"test command timed out after {self.timeout:g} s (command.timeout): {_show(argv)}")
        code = run.returncode
        if code != 0:
            how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            raise CommandFailed(f"test command {how}{run.cause()}\ncommand: {_show(argv)}{run.stderr_tail()}")
        try:
            return parse_result(run.last_line)  # a test command prints one held-out score
        except CommandFailed as exc:
            raise CommandFailed(f"{exc} (test command: {_show(argv)})") from None


class _Run:
    """A running program: its output streamed to log files, its last stdout line and stderr tail kept.

    Pipes are read in chunks of CHUNK bytes by two threads. Every chunk is
    written to its log file as it arrives; of stdout only the current line
    (up to LINE_LIMIT characters) and the last complete one are held, and
    intermediate-value lines are queued for the pruner; of stderr only the
    last STDERR_TAIL characters.
    """

    def __init__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stdout_log: Path,
        stderr_log: Path,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self.grace = grace
        self._out: IO[bytes] = open(stdout_log, "ab")
        self._err: IO[bytes] = open(stderr_log, "ab")
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                start_new_session=True,  # its own process group: stop() reaches its children too
                preexec_fn=PREEXEC,
            )
        except OSError as exc:
            self._out.close()
            self._err.close()
            raise CommandFailed(f"could not start the command {_show(argv)} in {cwd}: {exc.strerror or exc}") from None
        self.timed_out = False
        self.last_line: str | None = None
        self._stopping = False  # no more intermediate values wanted: the reader only logs
        self._steps: queue.Queue[str | None] = queue.Queue(maxsize=STEP_BACKLOG)
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
        pipe = self.process.stdout
        assert pipe is not None
        current = bytearray()  # the line being read, at most LINE_LIMIT bytes of it
        try:
            for chunk in iter(lambda: pipe.read(CHUNK), b""):
                self._out.write(chunk)
                self._out.flush()
                *complete, rest = chunk.split(b"\n")
                for part in complete:
                    self._line_done(bytes(current[:LINE_LIMIT]) + part[: max(LINE_LIMIT - len(current), 0)])
                    current.clear()
                if len(current) < LINE_LIMIT:
                    current += rest[: LINE_LIMIT - len(current)]
            if current:
                self._line_done(bytes(current))
        finally:
            self._steps.put(None)  # the queue is drained on stop(), so this never waits for long

    def _line_done(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            return
        self.last_line = line
        if not self._stopping and line.startswith("{") and '"step"' in line:
            self._steps.put(line)

    def _read_stderr(self) -> None:
        pipe = self.process.stderr
        assert pipe is not None
        for chunk in iter(lambda: pipe.read(CHUNK), b""):
            self._err.write(chunk)
            self._err.flush()
            text = chunk.decode("utf-8", errors="replace")
            with self._lock:
                self._stderr.append(text)
                self._stderr_size += len(text)
                while self._stderr_size - len(self._stderr[0]) > STDERR_TAIL:
                    self._stderr_size -= len(self._stderr.popleft())

    def step_lines(self, deadline: float) -> Iterator[str]:
        """Intermediate-value lines until the program closes stdout or ``deadline`` passes."""
        while True:
            check_sigterm()  # the worker's SIGTERM, should its handler's raise have been dropped
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                return
            try:
                line = self._steps.get(timeout=min(remaining, POLL_SECONDS))
            except queue.Empty:
                continue
            if line is None:
                remaining = deadline - time.monotonic()
                try:
                    self.process.wait(timeout=max(remaining, 0.0))
                except subprocess.TimeoutExpired:  # closed stdout but runs on
                    self.timed_out = True
                return
            yield line

    @property
    def returncode(self) -> int:
        return self.process.wait()

    def stop(self) -> None:
        """SIGTERM the program's process group, SIGKILL it after the grace period; close pipes and logs."""
        self._stopping = True
        while True:  # a reader waiting to queue an intermediate value must not block the end
            try:
                self._steps.get_nowait()
            except queue.Empty:
                break
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        if any(reader.is_alive() for reader in self._readers):
            # It exited, but children it left behind still hold its pipes (so its
            # process group still exists): stop them too.
            self._signal(signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=self.grace)
        for stream in (self.process.stdout, self.process.stderr, self._out, self._err):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _tail(self) -> str:
        for reader in self._readers[1:]:
            reader.join(timeout=self.grace)
        with self._lock:
            return "".join(self._stderr)[-STDERR_TAIL:].strip()

    def cause(self) -> str:
        """``": <the last line of stderr>"`` (a traceback's last line names the error), or ""."""
        lines = [line.strip() for line in self._tail().splitlines() if line.strip()]
        return f": {lines[-1][:300]}" if lines else ""

    def stderr_tail(self) -> str:
        text = self._tail()
        return f"\nstderr (last {STDERR_TAIL} characters):\n{text}" if text else "\n(no stderr output)"


def _show(argv: list[str]) -> str:
    text = shlex.join(argv)
    return text if len(text) <= 300 else text[:297] + "..."


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
