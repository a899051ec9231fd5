"""No database password on screen: every CLI command, its errors, the report and the server, grepped for it."""

from __future__ import annotations

import socket
import sys
import textwrap
import time
import urllib.request

import pytest
import sqlalchemy as sa

from hpsearch.cli import COMMANDS
from hpsearch.storage import display_url

pytestmark = pytest.mark.postgres

MARKER = "Hps3cret-Pw0rd"  # a password no message could print by chance

PROGRAM = """
import sys
print("training", file=sys.stderr)
print(float(sys.argv[1]))
"""


def with_password(url: str) -> tuple[str, str]:
    """(url, its password): the test server's own password, or one added (its auth trusts loopback)."""
    parsed = sa.engine.make_url(url)
    if parsed.password:
        return url, str(parsed.password)
    return parsed.set(password=MARKER).render_as_string(hide_password=False), MARKER


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_command_prints_the_database_password(pg_url, tmp_path, workers):
    url, password = with_password(pg_url)
    (tmp_path / "prog.py").write_text(PROGRAM)
    (tmp_path / "cmd.toml").write_text(
        textwrap.dedent(f"""
        [study]
        name = "cmd"
        objective = "command"
        direction = "maximize"
        sampler = "random"
        n_trials = 3
        [command]
        run = "{sys.executable} prog.py {{x}}"
        [space]
        x = {{ type = "float", low = 0.0, high = 1.0 }}
        """)
    )
    unreachable = sa.engine.make_url(url).set(port=free_port()).render_as_string(hide_password=False)
    calls = {
        "studies": [["studies", "--storage", url], ["studies", "--storage", unreachable]],
        "check": [["check", "cmd.toml"]],
        "run": [["run", "cmd.toml", "--storage", url, "--n-trials", "2"]],
        "worker": [["worker", "cmd", "--storage", url]],
        "show": [["show", "cmd", "--storage", url], ["show", "nope", "--storage", url]],
        "best": [["best", "cmd", "--storage", url], ["best", "cmd", "--json", "--storage", url]],
        "export": [["export", "cmd", "--storage", url]],
        "logs": [["logs", "cmd", "0", "--storage", url]],
        "report": [["report", "cmd", "--storage", url, "-o", str(tmp_path / "report.html")]],
        "compare": [["compare", "cmd.toml", "--seeds", "2", "--storage", url]],
        "enqueue": [["enqueue", "cmd", "--params", '{"x": 0.5}', "--storage", url]],
        "stop": [["stop", "cmd", "--storage", url]],
        "copy": [
            ["copy", "cmd", "cmd-copy", "--storage", url],
            ["copy", "cmd", "cmd-out", "--storage", url, "--storage-to", unreachable],
        ],
        "delete": [["delete", "cmd", "--yes", "--storage", url]],
    }
    assert set(calls) | {"serve"} == set(COMMANDS), "a command this test does not run: add it"
    outputs = []
    for runs in calls.values():
        for args in runs:
            done = workers.run(*args, timeout=600)
            outputs.append((args, done.stdout + done.stderr))
            if args[:2] in (["run", "cmd.toml"], ["worker", "cmd"]):
                assert done.returncode == 0, done.stdout + done.stderr
    assert any(display_url(url) in text for _, text in outputs)  # the URL was shown, masked
    failed = [text for args, text in outputs if args[-1] == unreachable]  # errors that name the database
    assert len(failed) == 2  # studies, and copy to an unreachable target
    assert all(display_url(unreachable) in text and "Traceback" not in text for text in failed)
    report = (tmp_path / "report.html").read_text()
    leaked = [args for args, text in outputs if password in text]
    assert not leaked, f"the password was printed by: {leaked}"
    assert password not in report

    port = free_port()
    server = workers.start("serve", "--port", str(port), "--storage", url)
    try:
        page = None
        end = time.monotonic() + 240
        while page is None and time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
                    page = answer.read().decode()
            except OSError:
                time.sleep(0.2)
        assert page is not None, workers.output()
        assert "***" in page and password not in page
    finally:
        workers.kill(server)
    assert password not in workers.output()
