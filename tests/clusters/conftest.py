"""Command studies run by the real `hpsearch` CLI in subprocesses, with programs that record what they saw."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def hpsearch_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "hpsearch.cli", *args]


class Cli:
    """The hpsearch CLI in a folder of its own (its SQLite database, spec files and programs)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.storage = f"sqlite:///{folder / 'h.db'}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("HPSEARCH_STORAGE", "CUDA_VISIBLE_DEVICES")}
        env.update({"HPSEARCH_STORAGE": self.storage, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
        env.update(extra)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            hpsearch_argv(*args),
            cwd=self.folder,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, env: dict[str, str] | None = None, log: str = "run.log") -> subprocess.Popen:
        """Start `hpsearch ARGS` in the background; its output goes to the file ``log``."""
        with open(self.folder / log, "w") as out:
            return subprocess.Popen(
                hpsearch_argv(*args), cwd=self.folder, env=env or self.env(), stdout=out, stderr=subprocess.STDOUT
            )

    def program(self, body: str, name: str = "prog.py") -> Path:
        path = self.folder / name
        path.write_text(textwrap.dedent(body))
        return path

    def spec(self, *, name: str = "cmd", n_trials: int = 4, program: str = "prog.py", extra: str = "") -> Path:
        run = f"{shlex.quote(sys.executable)} {program} {{x}}"
        path = self.folder / f"{name}.toml"
        path.write_text(
            textwrap.dedent(f"""
            [study]
            name = "{name}"
            objective = "command"
            direction = "maximize"
            sampler = "random"
            n_trials = {n_trials}
            seed = 0

            [command]
            run = {json.dumps(run)}
            timeout = 600
            grace = 30
            """)
            + textwrap.dedent(extra)
            + textwrap.dedent("""
            [space]
            x = { type = "float", low = 0.0, high = 1.0 }
            """)
        )
        return path

    @staticmethod
    def wait_until(check: Callable[[], bool], what: str, deadline_s: float = 240.0) -> None:
        """Poll ``check`` until true, with a generous deadline (a busy 2-core machine)."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"gave up waiting for {what}")

    @staticmethod
    def process_gone(pid: int) -> bool:
        """No such process, or only a zombie left for its parent to reap."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def linux_only() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal and process groups used here are Linux's")
