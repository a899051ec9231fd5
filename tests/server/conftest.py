"""Fixtures for the HTTP service: a storage file, in-process apps, and real uvicorn servers."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from hpsearch.server import create_app


def grid_spec(name: str = "grid", n_trials: int = 12, **study: object) -> dict:
    """A client-evaluated grid study: 4 x-values x 3 choices = 12 points."""
    return {
        "study": {"name": name, "direction": "maximize", "sampler": "grid", "n_trials": n_trials, **study},
        "space": {
            "x": {"type": "float", "low": 0.0, "high": 1.0, "grid": [0.0, 0.25, 0.5, 1.0]},
            "c": {"type": "categorical", "choices": ["a", "b", "c"]},
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc: subprocess.Popen, port: int, *, seconds: float = 90) -> subprocess.Popen:
    """Poll until the server process ``proc`` answers on ``port`` (any HTTP answer); fail if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/studies", timeout=5)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("serve did not start listening")


class LiveServer:
    """A real uvicorn server in a background thread, on a loopback port."""

    def __init__(self, storage_url: str, token: str | None = None, port: int | None = None, guard: Any = None) -> None:
        """``guard``: a hpsearch.server._connections.ConnectionGuard, installed as ``hpsearch serve`` does."""
        from hpsearch.server._connections import uvicorn_settings

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(storage_url, token),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            **(uvicorn_settings(guard) if guard is not None else {}),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        assert not self._thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def client(storage_url: str) -> Iterator[TestClient]:
    """In-process client; server exceptions become 500 answers (as in production), not test errors."""
    with TestClient(create_app(storage_url), base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def live_server(storage_url: str) -> Iterator[LiveServer]:
    server = LiveServer(storage_url).start()
    yield server
    server.stop()
