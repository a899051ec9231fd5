"""A real uvicorn server on a loopback port: concurrent clients, restarts, the serve command."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import free_port, wait_listening

X = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
GRID = set(itertools.product(X, ["a", "b", "c"], ["p", "q"]))  # 36 points
SMALL_GRID = set(itertools.product(X[:2], ["a", "b", "c"], ["p", "q"]))  # 12 points


def _spec(name: str, xs: list[float] = X) -> dict:
    n = len(xs) * 6
    return {
        "study": {"name": name, "direction": "minimize", "sampler": "grid", "n_trials": n},
        "space": {
            "x": {"type": "float", "low": 0.0, "high": 0.5, "grid": xs},
            "c": {"type": "categorical", "choices": ["a", "b", "c"]},
            "d": {"type": "categorical", "choices": ["p", "q"]},
        },
    }


def _objective(params: dict) -> float:
    return params["x"] + {"a": 0.0, "b": 1.0, "c": 2.0}[params["c"]] + (params["d"] == "q") * 0.01


def _client_loop(base: str, name: str, handed: list, errors: list, headers: dict | None = None) -> None:
    """Ask/report/tell until the study is complete, as training code would."""
    with httpx.Client(base_url=base, headers=headers or {}, timeout=60) as http:
        while True:
            r = http.post(f"/api/studies/{name}/ask")
            if r.status_code == 409:
                if "complete" in r.json()["error"]:
                    return
                time.sleep(0.02)  # the last trials are still running elsewhere
                continue
            if r.status_code != 200:
                errors.append(("ask", r.status_code, r.text))
                return
            trial, params = r.json()["trial"], r.json()["params"]
            handed.append((trial, (params["x"], params["c"], params["d"])))
            rep = http.post(f"/api/studies/{name}/trials/{trial}/report", json={"step": 0, "value": 1.0})
            tell = http.post(f"/api/studies/{name}/tell", json={"trial": trial, "value": _objective(params)})
            for what, resp in (("report", rep), ("tell", tell)):
                if resp.status_code != 200:
                    errors.append((what, resp.status_code, resp.text))


def test_concurrent_clients_never_share_a_grid_point(live_server):
    base = live_server.url
    assert httpx.post(f"{base}/api/studies", json=_spec("conc")).status_code == 201
    handed: list = []
    errors: list = []
    threads = [threading.Thread(target=_client_loop, args=(base, "conc", handed, errors)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    points = [p for _, p in handed]
    assert len(points) == len(GRID) and set(points) == GRID  # every point once, none twice
    assert sorted(n for n, _ in handed) == list(range(len(GRID)))
    summary = httpx.get(f"{base}/api/studies/conc").json()
    assert summary["states"] == {
        "complete": 36,
        "pruned": 0,
        "fail": 0,
        "running": 0,
        "waiting": 0,
        "diverged": 0,
        "crashed": 0,
        "finished": 36,
    }
    assert summary["best_value"] == 0.0 and summary["best_trial"]["params"] == {"x": 0.0, "c": "a", "d": "p"}


def _start_cli_server(storage_url: str, port: int, token: str, cwd: Path) -> subprocess.Popen:
    """``hpsearch serve`` in its own process, the token coming from env HPSEARCH_TOKEN."""
    env = {**os.environ, "HPSEARCH_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpsearch.cli", "serve", "--port", str(port), "--storage", storage_url],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return wait_listening(proc, port)


def _stop(proc: subprocess.Popen, sig: int) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.slow
def test_server_killed_mid_study_loses_nothing(storage_url, tmp_path):
    token = "restart-token"
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    first = _start_cli_server(storage_url, port, token, tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/studies").status_code == 401  # env HPSEARCH_TOKEN was taken
        assert httpx.post(f"{base}/api/studies", json=_spec("r", X[:2]), headers=headers).status_code == 201
        asked = [httpx.post(f"{base}/api/studies/r/ask", headers=headers).json() for _ in range(3)]
        for a in asked[:2]:
            r = httpx.post(
                f"{base}/api/studies/r/tell",
                json={"trial": a["trial"], "value": _objective(a["params"])},
                headers=headers,
            )
            assert r.status_code == 200
    finally:
        _stop(first, signal.SIGKILL)  # a crash: nothing gets flushed on the way out
    port = free_port()
    second = _start_cli_server(storage_url, port, token, tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        summary = httpx.get(f"{base}/api/studies/r", headers=headers).json()
        assert (summary["states"]["complete"], summary["states"]["running"]) == (2, 1)
        # A new ask runs crash recovery; the trial the client is still training (asked
        # from the dead server) must survive it, and its tell must be accepted.
        fresh = httpx.post(f"{base}/api/studies/r/ask", headers=headers).json()
        late = asked[2]
        r = httpx.post(
            f"{base}/api/studies/r/tell",
            json={"trial": late["trial"], "value": _objective(late["params"])},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        r = httpx.post(
            f"{base}/api/studies/r/tell",
            json={"trial": fresh["trial"], "value": _objective(fresh["params"])},
            headers=headers,
        )
        assert r.status_code == 200
        handed, errors = [], []
        threads = [threading.Thread(target=_client_loop, args=(base, "r", handed, errors, headers)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        points = [(a["params"]["x"], a["params"]["c"], a["params"]["d"]) for a in [*asked, fresh]] + [
            p for _, p in handed
        ]
        assert len(points) == 12 and set(points) == SMALL_GRID
        summary = httpx.get(f"{base}/api/studies/r", headers=headers).json()
        assert summary["states"]["complete"] == 12 and summary["n_trials"] == 12
    finally:
        _stop(second, signal.SIGTERM)


QOBJ = """
import os
import time

def objective(trial, params):
    while os.path.exists("hold"):  # the test lets the worker go once an API client has a trial
        time.sleep(0.02)
    time.sleep(0.02)
    return params["x"] + {"a": 0.0, "b": 1.0, "c": 2.0}[params["c"]] + (params["d"] == "q") * 0.01
"""


def test_cli_worker_and_api_clients_share_one_study(live_server, storage_url, tmp_path):
    """`hpsearch worker` (its own process) and API clients work the same grid study at once."""
    import optuna

    from hpsearch.search import prepare_study
    from hpsearch.spec import spec_from_dict
    from hpsearch.storage import open_storage

    (tmp_path / "qobj.py").write_text(QOBJ)
    spec = _spec("mixed")
    spec["study"]["objective"] = "qobj:objective"
    prepare_study(open_storage(storage_url, heartbeat=False), spec_from_dict(spec, source="test"))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    (tmp_path / "hold").touch()
    worker = subprocess.Popen(
        [sys.executable, "-m", "hpsearch.cli", "worker", "mixed", "--quiet", "--storage", storage_url],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while httpx.get(f"{live_server.url}/api/studies/mixed").json()["n_trials"] == 0:
            assert worker.poll() is None and time.monotonic() < deadline, worker.stderr.read()
            time.sleep(0.05)
        handed, errors = [], []
        threads = [
            threading.Thread(target=_client_loop, args=(live_server.url, "mixed", handed, errors)) for _ in range(2)
        ]
        for t in threads:
            t.start()
        while not handed and not errors and time.monotonic() < deadline + 60:
            time.sleep(0.02)
        (tmp_path / "hold").unlink()  # so both the worker and the API clients surely run some points
        for t in threads:
            t.join(timeout=120)
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, err
    assert errors == []
    trials = optuna.load_study(study_name="mixed", storage=storage_url).trials
    points = [(t.params["x"], t.params["c"], t.params["d"]) for t in trials]
    assert len(trials) == 36 and set(points) == GRID and all(t.state.name == "COMPLETE" for t in trials)
    by_api = {n for n, _ in handed}
    assert 0 < len(by_api) < 36  # both the worker and the API clients ran some of the 36 points
    for t in trials:
        assert t.value == pytest.approx(_objective(t.params))


def test_concurrent_tpe_asks_get_distinct_startup_points(live_server):
    """TPE's first trials are random draws: asks arriving together must not share a seed."""
    spec = {
        "study": {"name": "tpe", "direction": "minimize", "sampler": "tpe", "n_trials": 40},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    }
    assert httpx.post(f"{live_server.url}/api/studies", json=spec).status_code == 201
    barrier = threading.Barrier(6)
    xs: list[float] = []

    def asker() -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            for _ in range(2):
                barrier.wait()
                xs.append(http.post("/api/studies/tpe/ask").json()["params"]["x"])

    threads = [threading.Thread(target=asker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(xs) == 12 and len(set(xs)) == 12
