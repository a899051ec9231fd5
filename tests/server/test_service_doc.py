"""docs/service.md's examples (copied into the README) run as written against a real server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"
DOC_BASE = "http://127.0.0.1:8000"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def test_python_loop_runs_a_whole_study(live_server):
    (code,) = _blocks("python")
    assert len(code.strip().splitlines()) <= 26  # a training loop that survives restarts, in about 25 lines
    exec(compile(code.replace(DOC_BASE, live_server.url), str(DOC), "exec"), {})
    summary = httpx.get(f"{live_server.url}/api/studies/quad").json()
    assert summary["states"]["complete"] == 20 and summary["states"]["running"] == 0
    best = summary["best_trial"]
    assert best["value"] == pytest.approx((best["params"]["x"] - 2.0) ** 2)  # what the client told, for its params


def test_python_loop_waits_for_a_server_that_is_not_up_yet(storage_url, monkeypatch):
    """The example's post() sends a request again when no answer comes (a server restarting)."""
    from tests.server.conftest import LiveServer, free_port

    (code,) = _blocks("python")
    port = free_port()
    tried, real_sleep, errors = threading.Event(), time.sleep, []

    def sleep(seconds: float) -> None:  # the example waits after a lost connection: say so, wait less
        tried.set()
        real_sleep(min(seconds, 0.05))

    monkeypatch.setattr(time, "sleep", sleep)

    def client() -> None:
        try:
            exec(compile(code.replace(DOC_BASE, f"http://127.0.0.1:{port}"), str(DOC), "exec"), {})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    assert tried.wait(60), "the example never retried"
    server = LiveServer(storage_url, port=port).start()  # only now does anything listen on the port
    try:
        thread.join(timeout=120)
        assert not thread.is_alive() and errors == []
        summary = httpx.get(f"{server.url}/api/studies/quad").json()
        assert summary["states"]["complete"] == 20 and summary["states"]["running"] == 0
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_examples_answer_as_documented(live_server):
    script = "\n".join(b for b in _blocks("sh") if "curl" in b)
    lines = [line for line in script.splitlines() if not line.startswith("#")]
    run = "set -e\n" + "\n".join(lines).replace(DOC_BASE, live_server.url)
    out = subprocess.run(
        ["bash", "-c", run.replace("curl -s", "curl -s -w '\\n'")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    answers = [json.loads(line) for line in out if line.strip()]
    assert answers[0] == {"name": "quad"}
    assert answers[1]["trial"] == 0 and set(answers[1]["params"]) == {"x"}
    assert answers[2] == {"trial": 0, "state": "complete"}
    assert answers[3]["best_value"] == 20.16 and answers[3]["budget"] == 20
    assert answers[4]["trial"] == 1
    assert answers[5] == {"prune": False}
    assert answers[6] == {"trial": 1, "state": "pruned"}
