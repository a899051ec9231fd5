"""Ask/tell round trips per second through a real ``hpsearch serve`` process.

Usage::

    python benchmarks/bench_service.py [--trials 200] [--clients 1 4] [--sampler random]

Starts ``hpsearch serve`` on a free loopback port over a fresh SQLite file in a
temporary directory, creates one client-evaluated study per client count, and
lets N threads (each its own HTTP connection) ask and tell until the study's
budget is used up. A round trip is one ask plus one tell; the figure is
completed trials per wall-clock second, measured by the clients.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spec(name: str, sampler: str, n_trials: int) -> dict:
    return {
        "study": {"name": name, "direction": "minimize", "sampler": sampler, "n_trials": n_trials},
        "space": {"x": {"type": "float", "low": -5.0, "high": 5.0}, "y": {"type": "float", "low": -5.0, "high": 5.0}},
    }


def _client(base: str, name: str, done: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=120) as http:
        while True:
            r = http.post(f"/api/studies/{name}/ask")
            if r.status_code == 409:
                if "complete" in r.json()["error"]:
                    return
                time.sleep(0.005)
                continue
            r.raise_for_status()
            trial, p = r.json()["trial"], r.json()["params"]
            http.post(
                f"/api/studies/{name}/tell", json={"trial": trial, "value": p["x"] ** 2 + p["y"] ** 2}
            ).raise_for_status()
            done.append(trial)


def measure(base: str, clients: int, trials: int, sampler: str) -> float:
    """Round trips per second with ``clients`` concurrent client threads."""
    name = f"bench-{sampler}-{clients}"
    httpx.post(f"{base}/api/studies", json=_spec(name, sampler, trials)).raise_for_status()
    done: list[int] = []
    threads = [threading.Thread(target=_client, args=(base, name, done)) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert len(done) == trials == len(set(done)), (len(done), trials)
    return trials / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--sampler", default="random", choices=["grid", "random", "tpe", "qmc"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hpsearch.cli",
                "serve",
                "--port",
                str(port),
                "--storage",
                f"sqlite:///{tmp}/bench.db",
            ],
            env={k: v for k, v in os.environ.items() if k != "HPSEARCH_TOKEN"},
        )
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{base}/api/studies", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            print(f"sampler={args.sampler} trials={args.trials} (SQLite, one server process, {os.cpu_count()} cpus)")
            for n in args.clients:
                print(f"  {n} client(s): {measure(base, n, args.trials, args.sampler):7.1f} ask/tell round trips/s")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
