"""PostgreSQL for the distributed tests, and real `hpsearch` worker processes.

Where the server comes from, in order:

1. ``HPSEARCH_TEST_PG_URL`` (set by ``.ci/start-postgres.sh`` in CI, or by you
   for any server whose user may CREATE DATABASE);
2. a throwaway cluster this session starts itself from the installed server
   binaries (Debian: ``/usr/lib/postgresql/*/bin/initdb``), in a temp dir, on
   127.0.0.1 and a free port, run as the ``postgres`` OS user when we are root
   (initdb refuses root), stopped and deleted at the end of the session;
3. otherwise the tests skip with the reason, or FAIL when ``CI`` is set: a CI
   that silently skips the distributed tests would prove nothing.

Each test gets its own fresh database on that server, so studies, grid claims
and heartbeats of one test can never leak into another.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

NO_SERVER = "no PostgreSQL server binary (initdb) found; install Debian's postgresql"


def _server_bindir() -> Path | None:
    """Newest installed server's bin dir (Debian keeps initdb off PATH)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")],
    )
    if candidates:
        bindir = Path(candidates[-1]).parent
    elif shutil.which("initdb"):
        bindir = Path(shutil.which("initdb")).parent  # type: ignore[arg-type]
    else:
        return None
    if (bindir / "pg_ctl").exists():
        return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _ThrowawayCluster:
    """One initdb'd cluster in a temp dir, loopback only, trust auth."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="hpsearch-pg-"))
        if self.as_root:
            # pytest's own tmp dirs are 0700 root: the postgres user could not
            # enter them, hence a plain mkdtemp handed over to that user.
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=120)

    def start(self) -> str:
        init = self._run(
            self.bindir / "initdb", "-D", self.data, "-U", "hpsearch", "--auth=trust", "--encoding=UTF8", "--no-locale"
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}{init.stderr}")
        for _ in range(3):
            port = _free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={self.dir}"
                " -c max_connections=200 -c fsync=off"
            )
            started = self._run(
                self.bindir / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", opts, "start"
            )
            if started.returncode == 0:
                return f"postgresql+psycopg://hpsearch@127.0.0.1:{port}/postgres"
        raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text(errors='replace')}")

    def control(self) -> ServerControl:
        return ServerControl(self.bindir, self.data, self.as_root)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class ServerControl:
    """Restarts the test server (``pg_ctl restart -m fast``), as an operator or a failover does."""

    def __init__(self, bindir: Path, data: Path, as_root: bool) -> None:
        self.bindir, self.data, self.as_root = bindir, data, as_root

    def restart(self) -> None:
        self._pg_ctl("restart")

    def stop(self) -> None:
        self._pg_ctl("stop")

    def start(self) -> None:
        """Start it again with the options of its last start (pg_ctl keeps them in postmaster.opts)."""
        words = shlex.split((self.data / "postmaster.opts").read_text())
        self._pg_ctl("start", "-o", shlex.join(w for w in words[1:] if w not in ("-D", str(self.data))))

    def _pg_ctl(self, action: str, *extra: str) -> None:
        # The server's output goes to its log file (beside the data directory, as both clusters
        # have it): a server writing to our pipe would keep it open, and this call waiting, forever.
        # A restart or start reuses the options of the server's last start (postmaster.opts).
        log = self.data.parent / "server.log"
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-m", "fast", "-w", "-t", "120"]
        cmd += [*extra, action]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, cwd=self.data.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {action} failed: {done.stderr.decode(errors='replace')}")


_CLUSTERS: list[_ThrowawayCluster] = []  # the session's own cluster, for pg_control


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but PostgreSQL is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server whose user may create databases."""
    url = os.environ.get("HPSEARCH_TEST_PG_URL")
    if url:
        yield url
        return
    bindir = _server_bindir()
    if bindir is None:
        _unavailable(NO_SERVER)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' OS user to run initdb as")
    cluster = _ThrowawayCluster(bindir)  # type: ignore[arg-type]
    try:
        url = cluster.start()
        _CLUSTERS.append(cluster)
        yield url
    finally:
        _CLUSTERS.clear()
        cluster.stop()


@pytest.fixture
def pg_control(pg_server_url: str) -> ServerControl:
    """Control over the test server: its data directory and binaries (our own cluster, or the one
    .ci/start-postgres.sh started, which exports HPSEARCH_TEST_PG_DATA and HPSEARCH_TEST_PG_BIN)."""
    if _CLUSTERS:
        return _CLUSTERS[0].control()
    data, bindir = os.environ.get("HPSEARCH_TEST_PG_DATA"), os.environ.get("HPSEARCH_TEST_PG_BIN")
    if not data or not bindir:
        _unavailable("HPSEARCH_TEST_PG_URL is set without HPSEARCH_TEST_PG_DATA and HPSEARCH_TEST_PG_BIN")
    return ServerControl(Path(bindir), Path(data), os.geteuid() == 0)  # type: ignore[arg-type]


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg", reason="psycopg (the PostgreSQL driver) is not installed")
    base = sqlalchemy.engine.make_url(pg_server_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # outlives restarts
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def worker_env(workdir: Path) -> dict[str, str]:
    """Environment for a worker: user objectives importable from workdir,
    one BLAS thread (2 shared cores), no stray storage default."""
    env = dict(os.environ)
    env.pop("HPSEARCH_STORAGE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH")]))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Workers:
    """Real `hpsearch` processes, each in its own session (process group) so
    that SIGKILL takes a worker down with any children, like a dead machine."""

    def __init__(self, workdir: Path, command: Sequence[str]) -> None:
        self.workdir = workdir
        self.command = list(command)  # the root conftest's hpsearch_command
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, *args: str, env: dict[str, str] | None = None, prefix: Sequence[str] = ()) -> subprocess.Popen:
        """Start `hpsearch ARGS` (after `prefix`, e.g. a namespace wrapper)."""
        log = self.workdir / f"worker{len(self.procs)}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [*prefix, *self.command, *args],
                cwd=self.workdir,
                env={**worker_env(self.workdir), **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run one `hpsearch` command to completion (same env as workers)."""
        return subprocess.run(
            [*self.command, *args],
            cwd=self.workdir,
            env=worker_env(self.workdir),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def kill(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    def wait_all(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"workers still running after {timeout:.0f}s:\n{self.output()}", pytrace=False)
        return [p.returncode for p in self.procs]

    def output(self) -> str:
        return "\n".join(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def workers(tmp_path: Path, hpsearch_command: list[str]) -> Iterator[Workers]:
    """Launches worker processes; none outlives its test."""
    pool = Workers(tmp_path, hpsearch_command)
    try:
        yield pool
    finally:
        pool.close()
