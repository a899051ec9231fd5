"""A working directory with tiny spec files, a slow test objective and the hpsearch command."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

SLOW_OBJECTIVE = textwrap.dedent('''
    """Records which process ran the trial, then takes a while (env HP_TEST_SLEEP).

    With env HP_TEST_HOLD naming a file, trials from number 2 on wait (user
    attr held=True) for as long as that file exists: a test can catch a run
    mid-trial for certain, however slow the machine, and then let it go.
    """
    import os
    import time

    def objective(trial, params):
        trial.set_user_attr("pid", os.getpid())
        hold = os.environ.get("HP_TEST_HOLD")
        if hold and trial.number >= 2 and os.path.exists(hold):
            trial.set_user_attr("held", True)
            while os.path.exists(hold):
                time.sleep(0.02)
        time.sleep(float(os.environ.get("HP_TEST_SLEEP", "0.3")))
        return params["b"] + {"p": 0.0, "q": 0.1, "r": 0.2}[params["a"]]
''')

GRID_SPEC = textwrap.dedent("""
    [study]
    name = "grid9"
    objective = "slowobj:objective"
    direction = "maximize"
    sampler = "grid"
    n_trials = 9
    seed = 0

    [space]
    a = { type = "categorical", choices = ["p", "q", "r"] }
    b = { type = "int", low = 1, high = 3, grid = [1, 2, 3] }
""")

MLP_SPEC = textwrap.dedent("""
    [study]
    name = "tiny"
    metric = "accuracy"
    sampler = "random"
    n_trials = 3
    seed = 1

    [data]
    dataset = "iris"

    [training]
    max_epochs = 3
    batch_size = 32

    [space]
    learning_rate = { type = "float", low = 1e-3, high = 1e-1, log = true }
    width = { type = "int", low = 4, high = 16 }
""")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """cwd with grid9.toml, tiny.toml and slowobj.py; the default storage is ./hpsearch.db."""
    (tmp_path / "slowobj.py").write_text(SLOW_OBJECTIVE)
    (tmp_path / "grid9.toml").write_text(GRID_SPEC)
    (tmp_path / "tiny.toml").write_text(MLP_SPEC)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    return tmp_path


@pytest.fixture
def hp(workdir, hpsearch_command):
    """Run `hpsearch ARGS` as a real subprocess in the work dir."""

    def run(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*hpsearch_command, *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    return run


def db_dump(path: Path) -> list[str]:
    """Every row of every table, as SQL: equal dumps = the database was not written."""
    with sqlite3.connect(path) as con:
        return list(con.iterdump())
