"""Fixtures shared across the test tree, one name per concept.

* ``storage_url``: a fresh SQLite study database of its own for each test, as a URL;
* ``sqlite_storage``: that database opened by hpsearch's ``open_storage`` (no heartbeats);
* ``hpsearch_command``: how to run the CLI as a real process;
* ``browser``: headless Chromium, for the pages' own JavaScript.

PostgreSQL (``pg_url``) lives in tests/distributed/conftest.py, which the tests that need it import.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by playwright (.ci/run installs it).

    Outside CI a missing Chromium skips with the reason; under CI it fails,
    so a broken install cannot pass as 'skipped'.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {CHROMIUM} is missing (.ci/system-deps.sh installs it)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); CI unset")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def hpsearch_command() -> list[str]:
    """How a test runs the CLI as a real process: the console script next to this interpreter
    (installed, as a user has it), else ``python -m hpsearch.cli``."""
    script = Path(sys.executable).with_name("hpsearch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hpsearch.cli"]


@pytest.fixture(scope="session")
def _empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty study database, made once (creating Optuna's tables is the slow part)."""
    from hpsearch.storage import open_storage

    path = tmp_path_factory.mktemp("template") / "empty.db"
    open_storage(f"sqlite:///{path}", heartbeat=False).engine.dispose()
    return path


@pytest.fixture
def storage_url(tmp_path: Path, _empty_db: Path) -> str:
    """A fresh SQLite database per test (``tmp_path / "study.db"``, a copy of the empty template)."""
    path = tmp_path / "study.db"
    shutil.copyfile(_empty_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_storage(storage_url: str) -> Iterator[Any]:
    """The fresh database of ``storage_url``, opened with hpsearch's ``open_storage`` (WAL, busy
    timeout), without heartbeats: Optuna warns when a study outside ``optimize`` runs on a storage with
    them, and the tests that need a heartbeat record it explicitly."""
    from hpsearch.storage import open_storage

    storage = open_storage(storage_url, heartbeat=False)
    yield storage
    storage.engine.dispose()
