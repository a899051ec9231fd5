"""kill -9 of ``hpsearch serve`` under retrying clients: the study still finishes, nothing stays RUNNING.

The server is a real process on a loopback port. The clients do what docs/service.md tells them to: every ask carries an
Idempotency-Key, and a request whose connection is lost is sent again (the
same ask with the same key, the same tell) until the server answers. The
server runs with default options: no --trial-timeout, nothing done by hand
between the crashes. Nothing here waits on the wall clock: the test waits
for events (so many trials told) and polls with generous deadlines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import optuna
import pytest
from optuna.trial import TrialState

from tests.server.conftest import free_port, wait_listening

BUDGET = 40
CLIENTS = 4
DEADLINE = 240.0  # seconds: generous, only a hung test ever reaches it


def _start(storage_url: str, port: int, cwd: Path) -> subprocess.Popen:
    """The service in its own process, as ``hpsearch serve --port PORT`` starts it."""
    # What `hpsearch serve` runs with default options (tests/server/test_live.py covers the command itself).
    code = (
        "import sys, uvicorn; from hpsearch.server import create_app; "
        "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, storage_url, str(port)],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "HPSEARCH_TOKEN"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return wait_listening(proc, port)


class _Client(threading.Thread):
    """Training code: ask with a key, report, tell; any lost connection is retried as it was."""

    def __init__(self, base: str, told: list, errors: list, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.told, self.errors, self.stop = base, told, errors, stop

    def _post(self, http: httpx.Client, path: str, **kw) -> httpx.Response | None:
        while not self.stop.is_set():
            try:
                return http.post(path, **kw)
            except httpx.TransportError:  # the server is down: it will be back
                time.sleep(0.05)
        return None

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while not self.stop.is_set():
                key = str(uuid.uuid4())
                r = self._post(http, "/api/studies/crash/ask", headers={"Idempotency-Key": key})
                if r is None:
                    return
                if r.status_code == 409:
                    if "complete" in r.json()["error"]:
                        return
                    time.sleep(0.02)  # the last trials run in other clients
                    continue
                if r.status_code != 200:
                    self.errors.append(("ask", r.status_code, r.text))
                    return
                trial, x = r.json()["trial"], r.json()["params"]["x"]
                rep = self._post(http, f"/api/studies/crash/trials/{trial}/report", json={"step": 0, "value": x})
                tell = self._post(http, "/api/studies/crash/tell", json={"trial": trial, "value": (x - 0.3) ** 2})
                for what, resp in (("report", rep), ("tell", tell)):
                    if resp is not None and resp.status_code != 200:
                        self.errors.append((what, trial, resp.status_code, resp.text))
                if tell is not None and tell.status_code == 200:
                    self.told.append(trial)


def _wait(condition, what: str, deadline: float) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_of_the_server_under_four_retrying_clients_still_finishes_the_budget(storage_url, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start(storage_url, port, tmp_path)
    told: list[int] = []
    errors: list = []
    stop = threading.Event()
    clients = [_Client(base, told, errors, stop) for _ in range(CLIENTS)]
    deadline = time.monotonic() + DEADLINE
    try:
        spec = {
            "study": {"name": "crash", "direction": "minimize", "sampler": "random", "n_trials": BUDGET},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
        assert httpx.post(f"{base}/api/studies", json=spec).status_code == 201
        for client in clients:
            client.start()
        for after in (8, 20):  # two crashes mid-run, each while four clients are busy
            _wait(lambda after=after: len(told) >= after or errors, f"{after} trials told", deadline)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=60)
            server.stderr.close()
            server = _start(storage_url, port, tmp_path)  # default options: no --trial-timeout
        for client in clients:
            client.join(timeout=max(1.0, deadline - time.monotonic()))
        assert not any(c.is_alive() for c in clients), "clients did not finish"
        assert errors == []
        summary = httpx.get(f"{base}/api/studies/crash").json()
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            server.stderr.close()
    assert summary["finished"] == BUDGET and summary["states"]["running"] == 0
    assert sorted(set(told)) == sorted(told) and len(told) == BUDGET  # each trial told once, all counted
    trials = optuna.load_study(study_name="crash", storage=storage_url).trials
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    assert sorted(t.number for t in trials if t.state == TrialState.COMPLETE) == sorted(told)
