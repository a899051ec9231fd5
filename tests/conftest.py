"""Fixtures shared across the test tree."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
