"""How many trials per second one PostgreSQL (and one `hpsearch serve`) coordinates, and for how many workers.

The objective sleeps (``--trial-seconds``, default 1 s) and does nothing else,
so what is measured is coordination: claiming a slot, creating the trial,
suggesting, heartbeats, telling. With W workers and trials of T seconds the
ideal is W / T trials/s; the table shows how close each setting gets.

Settings, each for W = 8, 32 and 128 concurrent workers:

* ``cli``: W worker processes (``hpsearch worker NAME --jobs K``, forked in
  groups of up to 32) against one PostgreSQL;
* ``serve``: W HTTP clients (threads: ask, sleep, tell) against one
  ``hpsearch serve`` in front of the same PostgreSQL;
* ``cli`` again with the server's ``max_connections`` at 100 (PostgreSQL's
  default) instead of 300, and through PgBouncer (transaction pooling, 20
  server connections) when ``pgbouncer`` is installed.

Each run lasts ``--seconds`` (workers start no trial after it); trials/s
counts the trials completed inside the window after ``--warmup`` seconds
(from the timestamps stored with them), per second. Connections:
``pg_stat_activity`` rows of the benchmark's database, sampled every 2 s in
the window (mean and maximum), and per worker. A throwaway PostgreSQL
cluster is started (Debian's server binaries; run as root, it runs as the
``postgres`` user) and removed at the end.

    nice -n 10 python benchmarks/bench_coordination.py > coordination.txt 2>&1
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

SLEEP_OBJECTIVE = """
import time

SECONDS = {seconds}

def objective(trial, params):
    time.sleep(SECONDS)
    return params["x"]
"""

SPEC = """
[study]
name = "bench"
objective = "sleepobj:objective"
direction = "maximize"
sampler = "random"
n_trials = 1000000
seed = 0

[space]
x = { type = "float", low = 0.0, high = 1.0 }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway cluster: trust auth on loopback, ``max_connections`` as asked."""

    def __init__(self, max_connections: int) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            sys.exit("no PostgreSQL server binaries (Debian: apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.root = os.geteuid() == 0
        if self.root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        self._run(
            "initdb", "-D", str(self.dir / "data"), "-U", "hpsearch", "--auth=trust", "--encoding=UTF8", "--no-locale"
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} "
            f"-c max_connections={max_connections} -c fsync=off"
        )
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "-o", opts, "start")
        self.admin = f"postgresql+psycopg://hpsearch@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, cwd=self.dir, check=True, capture_output=True, timeout=120)

    def fresh_db(self, name: str) -> str:
        engine = sa.create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as con:
            con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            con.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return f"postgresql+psycopg://hpsearch@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PgBouncer:
    """PgBouncer in transaction mode in front of ``pg``: ``pool`` server connections for any number of clients."""

    def __init__(self, pg: Postgres, pool: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pgb-"))
        self.port = free_port()
        (self.dir / "users.txt").write_text('"hpsearch" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            f"[databases]\n* = host=127.0.0.1 port={pg.port}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\nauth_type = trust\n"
            f"auth_file = {self.dir}/users.txt\npool_mode = transaction\ndefault_pool_size = {pool}\n"
            "max_client_conn = 2000\nignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.dir}/pgbouncer.log\npidfile = {self.dir}/pgbouncer.pid\n"
        )
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.dir, *self.dir.iterdir()):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        cmd = ["pgbouncer", "-d", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, timeout=60)
        time.sleep(1)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://hpsearch@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        pid = (self.dir / "pgbouncer.pid").read_text().strip() if (self.dir / "pgbouncer.pid").exists() else ""
        if pid:
            subprocess.run(["kill", pid], timeout=30)
        time.sleep(0.5)
        shutil.rmtree(self.dir, ignore_errors=True)


def hpsearch(*args: str) -> list[str]:
    return [sys.executable, "-m", "hpsearch.cli", *args]


def create_study(url: str, workdir: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from hpsearch.spec import load_spec; from hpsearch.storage import open_storage; "
            "from hpsearch.search import prepare_study; "
            "prepare_study(open_storage(sys.argv[1]), load_spec(sys.argv[2]))",
            url,
            str(workdir / "bench.toml"),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(workdir)},
    )
    if done.returncode != 0:
        sys.exit(f"could not create the study: {done.stderr[-2000:]}")


class ConnectionSampler(threading.Thread):
    """pg_stat_activity rows of database ``name``, every 2 s, between start() and stop()."""

    def __init__(self, admin_url: str, name: str) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
        self.name, self.samples, self.halt = name, [], threading.Event()

    def run(self) -> None:
        while not self.halt.wait(2.0):
            try:
                with self.engine.connect() as con:
                    n = con.execute(
                        sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": self.name}
                    ).scalar_one()
                self.samples.append(int(n))
            except Exception:  # the server full (max_connections): no sample
                pass

    def stop(self) -> tuple[float, int]:
        self.halt.set()
        self.join()
        self.engine.dispose()
        return (statistics.mean(self.samples) if self.samples else float("nan"), max(self.samples, default=0))


def window_rate(url: str, t0: float, warmup: float, seconds: float) -> tuple[float, int, int]:
    """(trials/s, completed in the window, failed or crashed overall) from the stored trials' timestamps."""
    engine = sa.create_engine(url.split("?")[0], poolclass=sa.pool.NullPool)
    lo, hi = t0 + warmup, t0 + seconds
    with engine.connect() as con:
        rows = con.execute(
            sa.text("SELECT state, datetime_start, datetime_complete FROM trials WHERE datetime_start IS NOT NULL")
        ).all()
    engine.dispose()
    inside = 0
    failed = 0
    for state, _start, complete in rows:
        if str(state).endswith("FAIL"):
            failed += 1
        if str(state).endswith("COMPLETE") and complete is not None and lo <= complete.timestamp() <= hi:
            inside += 1
    return inside / (hi - lo), inside, failed


def run_cli(url: str, admin: str, db: str, workers: int, workdir: Path, seconds: float, warmup: float) -> dict:
    create_study(url, workdir)
    groups = [32] * (workers // 32) + ([workers % 32] if workers % 32 else [])
    env = {**os.environ, "PYTHONPATH": str(workdir), "HPSEARCH_STORAGE": url}
    sampler = ConnectionSampler(admin, db)
    t0 = time.time()
    procs = [
        subprocess.Popen(
            hpsearch("worker", "bench", "--jobs", str(k), "--timeout", str(seconds), "--quiet"),
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / f"worker-{i}.log", "w"),
        )
        for i, k in enumerate(groups)
    ]
    time.sleep(warmup)
    sampler.start()
    codes = [p.wait() for p in procs]
    mean_conn, max_conn = sampler.stop()
    rate, n, failed = window_rate(url, t0, warmup, seconds)
    errors = sum(c != 0 for c in codes)
    for i, code in enumerate(codes):
        if code != 0:
            tail = (workdir / f"worker-{i}.log").read_text(errors="replace").strip().splitlines()[-1:]
            print(f"# worker group {i} exited with {code}: {tail[0][:300] if tail else ''}", flush=True)
            break
    return {"rate": rate, "n": n, "failed": failed, "conn": mean_conn, "max_conn": max_conn, "errors": errors}


def run_serve(url: str, admin: str, db: str, workers: int, workdir: Path, seconds: float, warmup: float, t: float):
    port = free_port()
    server = subprocess.Popen(
        hpsearch("serve", "--port", str(port), "--storage", url),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "serve.log", "w"),
    )
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(base + "/api/studies", timeout=5).read()
            break
        except OSError:
            if time.monotonic() > end:
                sys.exit("hpsearch serve did not come up")
            time.sleep(0.2)

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(
            base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=120) as answer:
            return json.loads(answer.read() or b"{}")

    post(
        "/api/studies",
        {
            "study": {"name": "bench", "direction": "maximize", "sampler": "random", "n_trials": 1000000},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        },
    )
    stop_at = time.time() + seconds
    errors: list[str] = []

    def client() -> None:
        while time.time() < stop_at:
            try:
                asked = post("/api/studies/bench/ask", {})
                time.sleep(t)
                post("/api/studies/bench/tell", {"trial": asked["trial"], "value": asked["params"]["x"]})
            except Exception as exc:  # counted, and the client goes on
                errors.append(type(exc).__name__)
                time.sleep(0.5)

    sampler = ConnectionSampler(admin, db)
    t0 = time.time()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(workers)]
    for th in threads:
        th.start()
    time.sleep(warmup)
    sampler.start()
    for th in threads:
        th.join()
    mean_conn, max_conn = sampler.stop()
    server.terminate()
    server.wait(60)
    rate, n, failed = window_rate(url, t0, warmup, seconds)
    return {"rate": rate, "n": n, "failed": failed, "conn": mean_conn, "max_conn": max_conn, "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--trial-seconds", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    parser.add_argument("--warmup", type=float, default=25.0, help="seconds left out at each run's start")
    parser.add_argument("--settings", nargs="+", default=["cli", "serve", "cli-max100", "cli-pgbouncer"])
    args = parser.parse_args()
    t = args.trial_seconds
    print(f"# {os.cpu_count()} cores; trials of {t:g} s; runs of {args.seconds:g} s, first {args.warmup:g} s left out")
    print(
        "| setting | workers | ideal trials/s | trials/s | of ideal | connections (mean, max) | per worker | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    workdir = Path(tempfile.mkdtemp(prefix="bench-coord-"))
    (workdir / "sleepobj.py").write_text(SLEEP_OBJECTIVE.format(seconds=t))
    (workdir / "bench.toml").write_text(SPEC)
    for setting in args.settings:
        pg = Postgres(100 if setting == "cli-max100" else 300)
        bouncer = None
        try:
            if setting == "cli-pgbouncer":
                if shutil.which("pgbouncer") is None:
                    print("| cli-pgbouncer | - | - | - | - | pgbouncer not installed | - | - |")
                    continue
                bouncer = PgBouncer(pg, pool=20)
            for w in args.workers:
                db = f"bench_{setting.replace('-', '_')}_{w}"
                url = pg.fresh_db(db)
                if bouncer is not None:
                    url = bouncer.url(db)
                if setting == "serve":
                    r = run_serve(url, pg.admin, db, w, workdir, args.seconds, args.warmup, t)
                else:
                    r = run_cli(url, pg.admin, db, w, workdir, args.seconds, args.warmup)
                ideal = w / t
                print(
                    f"| {setting} | {w} | {ideal:.0f} | {r['rate']:.1f} | {r['rate'] / ideal:.0%} | "
                    f"{r['conn']:.0f}, {r['max_conn']} | {r['conn'] / w:.2f} | {r['errors']} |",
                    flush=True,
                )
        finally:
            if bouncer is not None:
                bouncer.stop()
            pg.stop()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
