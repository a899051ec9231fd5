"""Slow and idle clients (issue 26): read deadlines, a cap on open connections, probes that keep answering.

Deadlines are waited for with generous polls (never asserted as wall-clock
margins). The one timing bound is the issue's own: a probe answers within 1 s
while 20,000 slow connections are held open (two helper processes hold 10,000
each, since one process may open 20,000 files at most here), once the server
has worked through their arrival (the first probe, queued behind that burst,
is measured and printed, not bounded).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hpsearch.server._connections import ConnectionGuard
from tests.server.conftest import LiveServer, free_port, wait_listening

PARTIAL = b"GET /api/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # headers that never end


def _closed_by_server(sock: socket.socket, *, trickle: bytes | None, within: float = 60.0) -> bool:
    """Whether the server closes ``sock`` (trickling a byte every 0.1 s meanwhile) before ``within`` s."""
    sock.settimeout(0.1)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return True
        if trickle is not None:
            try:
                sock.send(trickle)
            except (ConnectionResetError, BrokenPipeError):
                return True
    return False


@pytest.fixture
def guarded(storage_url):
    guard = ConnectionGuard(max_connections=40, header_timeout=0.5, body_timeout=0.5)
    server = LiveServer(storage_url, guard=guard).start()
    try:
        yield server, guard
    finally:
        server.stop()


def test_headers_trickled_forever_are_cut_off(guarded):
    server, guard = guarded
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(PARTIAL)
        assert _closed_by_server(sock, trickle=b"a"), "a slowloris connection stayed open"
    assert guard.closed_slow >= 1


def test_a_body_that_never_arrives_is_cut_off(guarded):
    server, guard = guarded
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /api/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        assert _closed_by_server(sock, trickle=None)


def test_a_normal_client_is_not_cut_off_and_keeps_its_connection(guarded):
    server, _ = guarded
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(3):
            assert http.get("/api/studies").status_code == 200


def test_over_the_cap_the_longest_waiting_connections_make_room_for_probes(guarded):
    server, guard = guarded
    slow = []
    try:
        for _ in range(200):  # five times the cap
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(PARTIAL)
            slow.append(sock)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/api/studies").status_code == 200
        assert len(guard.open) <= guard.max_connections
        assert guard.evicted > 0
    finally:
        for sock in slow:
            sock.close()


HOLDER = r'''
"""Open N connections to 127.0.0.1:PORT that send part of a request and never finish it; hold them."""
import socket, sys

port, n = int(sys.argv[1]), int(sys.argv[2])
held, refused = [], 0
for _ in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET /api/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        held.append(s)
    except OSError:
        refused += 1
print(f"held {len(held)} refused {refused}", flush=True)
sys.stdin.read()  # until the test closes our stdin
'''


@pytest.mark.slow
def test_twenty_thousand_slow_connections_a_probe_answers_within_a_second(storage_url, tmp_path: Path):
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "hpsearch.cli", "serve", "--port", str(port), "--storage", storage_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    holders: list[subprocess.Popen] = []
    try:
        wait_listening(serve, port)
        (tmp_path / "holder.py").write_text(HOLDER)
        for _ in range(2):
            holders.append(
                subprocess.Popen(
                    [sys.executable, str(tmp_path / "holder.py"), str(port), "10000"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        reports = [h.stdout.readline().split() for h in holders]  # type: ignore[union-attr]
        held = sum(int(r[1]) for r in reports)
        assert held == 20_000, f"the helpers could hold only {held} connections: {reports}"
        # The first probe queues behind the burst of arrivals the server is still accepting (and
        # closing: it keeps at most its cap open); it is reported, not bounded. Then, with the
        # 20,000 still held open by the helpers, each probe must answer within the 1 s.
        start = time.monotonic()
        assert httpx.get(f"http://127.0.0.1:{port}/api/studies", timeout=60).status_code == 200
        first = time.monotonic() - start
        seconds = []
        for _ in range(5):
            start = time.monotonic()
            r = httpx.get(f"http://127.0.0.1:{port}/api/studies", timeout=30)
            seconds.append(time.monotonic() - start)
            assert r.status_code == 200
        assert serve.poll() is None
        server_fds = len(os.listdir(f"/proc/{serve.pid}/fd"))
        print(
            f"20,000 slow connections held; first probe {first:.3f} s, then {[f'{s:.3f}' for s in seconds]} s; "
            f"server holds {server_fds} descriptors"
        )
        assert max(seconds) < 1.0, f"probes took {seconds} s"
        assert server_fds < 20_000
    finally:
        for h in holders:
            h.stdin.close()  # type: ignore[union-attr]
            h.wait(timeout=60)
        serve.terminate()
        serve.wait(timeout=60)
