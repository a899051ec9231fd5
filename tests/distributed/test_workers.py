"""Many worker processes sharing one study through PostgreSQL (issue 6).

Every test starts real `hpsearch` processes against a fresh PostgreSQL
database and reads the study back with plain Optuna, as any other tool would.

The worker that gets killed runs, when we can arrange it (root + unshare), in
its own UTS namespace under another host name: the survivors then cannot
recognise its dead pid as a local process, so only heartbeat expiry can free
its trial, exactly as when a machine dies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState

pytestmark = pytest.mark.postgres

# A grid trial takes this long (the doomed worker's never ends: it waits to be killed).
TRIAL_SECONDS = 0.3

SLOW_OBJECTIVE = f'''
"""Test objective: records which worker ran the trial, then takes a while.

No race between a kill and a trial's end: the "doomed" worker's trial never
ends, and the others wait at their first trial while the file named by env
HP_TEST_HOLD exists, so the doomed worker surely gets a trial however slowly
it starts.
"""
import os
import time

def objective(trial, params):
    label = os.environ["TEST_WORKER_LABEL"]
    trial.set_user_attr("worker", label)
    while label == "doomed":
        time.sleep(0.05)  # until SIGKILL
    hold = os.environ.get("HP_TEST_HOLD")
    while hold and os.path.exists(hold):
        time.sleep(0.02)
    time.sleep({TRIAL_SECONDS})
    return params["b"] + {{"p": 0.0, "q": 0.1, "r": 0.2}}[params["a"]]
'''

HELD_OBJECTIVE = '''
"""Test objective: waits while the file named by env HP_TEST_HOLD exists, then scores the config."""
import math
import os
import time

def objective(trial, params):
    hold = os.environ["HP_TEST_HOLD"]
    while os.path.exists(hold):
        time.sleep(0.02)
    time.sleep(0.02)
    return 1.0 / (1.0 + abs(math.log10(params["learning_rate"]) + 2.0) + abs(params["width"] - 12) / 10.0)
'''

GRID_SPEC = """
[study]
name = "{name}"
objective = "slow_objective:objective"
direction = "maximize"
sampler = "grid"
n_trials = 9
seed = 0

[space]
a = {{ type = "categorical", choices = ["p", "q", "r"], grid = ["p", "q", "r"] }}
b = {{ type = "int", low = 1, high = 3, grid = [1, 2, 3] }}
"""

HELD_SPEC = """
[study]
name = "{name}"
objective = "held_objective:objective"
direction = "maximize"
sampler = "{sampler}"
n_trials = {n_trials}
seed = 3

[space]
learning_rate = {{ type = "float", low = 1e-3, high = 1e-1, log = true }}
width = {{ type = "int", low = 4, high = 24 }}
"""

# Heartbeats in seconds rather than the production defaults, so a dead
# worker's trial is failed quickly.
FAST_HEARTBEAT = {"HPSEARCH_HEARTBEAT_INTERVAL": "1", "HPSEARCH_GRACE_PERIOD": "3"}


def _study_exists(url: str, name: str) -> bool:
    """Read-only check: never creates Optuna's tables, which would race the workers doing so."""
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table("studies"):
            return False
        with engine.connect() as con:
            found = con.execute(sa.text("SELECT 1 FROM studies WHERE study_name = :n"), {"n": name})
            return found.first() is not None
    finally:
        engine.dispose()


def _wait_for_study(url: str, name: str, workers, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _study_exists(url, name):
        if any(p.poll() is not None for p in workers.procs):
            pytest.fail(f"a process exited before study {name!r} existed:\n{workers.output()}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"study {name!r} not created within {timeout}s:\n{workers.output()}", pytrace=False)
        time.sleep(0.2)


def _wait_for_trial(url: str, name: str, workers, timeout: float = 60) -> None:
    """Until the study holds a trial, i.e. some worker process is at work on it."""
    _wait_for_study(url, name, workers, timeout)
    deadline = time.monotonic() + timeout
    while not _trials(url, name):
        if time.monotonic() > deadline:
            pytest.fail(f"no trial of {name!r} started within {timeout}s:\n{workers.output()}", pytrace=False)
        time.sleep(0.1)


def _wait_until_both_machines_run_a_trial(url: str, name: str, workers, other_pid: int, timeout: float = 120) -> None:
    """Until the process ``other_pid`` and some other process each hold a RUNNING trial."""
    _wait_for_study(url, name, workers, timeout)
    deadline = time.monotonic() + timeout
    while True:
        pids = {t.system_attrs.get("hpsearch_pid") for t in _trials(url, name) if t.state == TrialState.RUNNING}
        if other_pid in pids and pids - {other_pid}:
            return
        if any(p.poll() is not None for p in workers.procs) or time.monotonic() > deadline:
            pytest.fail(
                f"both machines never ran a trial at once:\n{workers.output()}\n{_state(url, name)}", pytrace=False
            )
        time.sleep(0.1)


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def _state(url: str, name: str) -> str:
    """The study's trials, one per line, for failure messages."""
    try:
        trials = _trials(url, name)
    except Exception as exc:  # the failure message must not hide the real failure
        return f"(could not read study {name!r}: {exc})"
    return "\n".join(
        f"#{t.number} {t.state.name} {t.params} worker={t.user_attrs.get('worker')} "
        f"host={t.system_attrs.get('hpsearch_host')} pid={t.system_attrs.get('hpsearch_pid')}"
        for t in trials
    )


def _other_machine(host: str) -> list[str]:
    """A prefix running the command in a private UTS namespace named `host` ([] if impossible)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return []
    if subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode != 0:
        return []
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host]


@pytest.mark.slow
def test_three_workers_one_killed_mid_trial_each_grid_point_once(pg_url, workers, tmp_path):
    """`run` + 2 `worker`s on a 9-point grid; one worker SIGKILLed inside a trial."""
    name = "dist-grid"
    (tmp_path / "slow_objective.py").write_text(SLOW_OBJECTIVE)
    spec = tmp_path / "spec" / "grid.toml"
    spec.parent.mkdir()
    spec.write_text(GRID_SPEC.format(name=name))
    hold = tmp_path / "hold"
    hold.touch()  # the runner and the survivor wait at their first trial until the doomed one has its own

    def env(label: str) -> dict[str, str]:
        return {**FAST_HEARTBEAT, "TEST_WORKER_LABEL": label, "HP_TEST_HOLD": str(hold)}

    runner = workers.start("run", str(spec), "--storage", pg_url, env=env("runner"))
    _wait_for_study(pg_url, name, workers)
    shutil.rmtree(spec.parent)  # from now on the spec exists only in the database
    worker_args = ("worker", name, "--storage", pg_url)
    elsewhere = _other_machine("doomed-box")
    doomed = workers.start(*worker_args, env=env("doomed"), prefix=elsewhere)
    survivor = workers.start(*worker_args, env=env("survivor"))

    deadline = time.monotonic() + 120
    victim = None
    while victim is None:
        assert time.monotonic() < deadline, f"the doomed worker never ran a trial:\n{workers.output()}"
        assert doomed.poll() is None, f"the doomed worker exited early:\n{workers.output()}"
        running = [
            t for t in _trials(pg_url, name) if t.state == TrialState.RUNNING and t.user_attrs.get("worker") == "doomed"
        ]
        victim = running[0] if running else None
        time.sleep(0.05)
    workers.kill(doomed)  # SIGKILL to its whole process group: a dead machine
    hold.unlink()

    for proc in (runner, survivor):
        try:
            assert proc.wait(timeout=120) == 0, workers.output()
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"workers did not finish after the kill:\n{workers.output()}\n{_state(pg_url, name)}", pytrace=False
            )

    trials = _trials(pg_url, name)
    assert [t.number for t in trials if t.state == TrialState.RUNNING] == [], workers.output()
    killed = trials[victim.number]
    assert killed.state == TrialState.FAIL
    assert "diverged" not in killed.user_attrs  # a crash, not a result
    if elsewhere:  # freed by its heartbeat expiring, not by a same-host pid check
        assert killed.system_attrs.get("fail_reason", "").startswith("heartbeat expired"), killed.system_attrs

    finished = [t for t in trials if t.state == TrialState.COMPLETE]
    points = sorted((t.params["a"], t.params["b"]) for t in finished)
    assert points == sorted((a, b) for a in "pqr" for b in (1, 2, 3))  # each grid point exactly once
    # Nothing else failed and no trial beyond the re-run was created.
    assert [t.number for t in trials if t.state != TrialState.COMPLETE] == [victim.number]
    assert len(trials) == 10
    # The killed configuration was re-run by a live worker, and both live workers did work.
    # killed, not victim: the snapshot that found it running may predate its params (PostgreSQL reads
    # the trial, its params and its attrs in separate statements, each seeing the latest commits).
    rerun = next(t for t in finished if t.params == killed.params)
    assert rerun.number > victim.number
    assert rerun.user_attrs["worker"] in {"runner", "survivor"}
    assert {t.user_attrs["worker"] for t in finished} >= {"runner", "survivor"}


@pytest.mark.parametrize(
    ("sampler", "jobs", "second"),
    [
        ("random", 2, "run"),  # `run` on two machines at once, one with --jobs 2
        ("tpe", 1, "worker"),  # `worker` joins with the study name only; the spec file is gone
        ("tpe", 1, "run"),
    ],
)
@pytest.mark.slow
def test_two_workers_reach_exactly_n_trials(pg_url, workers, tmp_path, sampler, jobs, second):
    """Two machines on one study: exactly n_trials finished trials between them, none repeated."""
    name = f"dist-{sampler}-{second}"
    n_trials = 16
    spec = tmp_path / "spec.toml"
    spec.write_text(HELD_SPEC.format(name=name, sampler=sampler, n_trials=n_trials))
    (tmp_path / "held_objective.py").write_text(HELD_OBJECTIVE)
    # Every first trial waits while this file exists, so neither machine can do the
    # whole budget alone in the seconds the other one takes to start, however slow.
    hold = tmp_path / "hold"
    hold.touch()
    env = {"HP_TEST_HOLD": str(hold)}

    first = workers.start("run", str(spec), "--storage", pg_url, "--jobs", str(jobs), env=env)
    if second == "run":
        if jobs > 1:  # spawned children take seconds to start: let them begin before the other machine
            _wait_for_trial(pg_url, name, workers)
        other = workers.start("run", str(spec), "--storage", pg_url, env=env)
    else:
        _wait_for_study(pg_url, name, workers)
        spec.unlink()
        other = workers.start("worker", name, "--storage", pg_url, env=env)
    _wait_until_both_machines_run_a_trial(pg_url, name, workers, other.pid)
    hold.unlink()
    for proc in (first, other):
        try:
            assert proc.wait(timeout=120) == 0, workers.output()
        except subprocess.TimeoutExpired:
            pytest.fail(f"workers did not finish:\n{workers.output()}\n{_state(pg_url, name)}", pytrace=False)

    trials = _trials(pg_url, name)
    assert len(trials) == n_trials, _state(pg_url, name)  # no crashed or surplus trials
    assert all(t.state == TrialState.COMPLETE and 0.0 <= t.value <= 1.0 for t in trials), _state(pg_url, name)
    # Both machines took part (with --jobs 2 the trials run in first's child
    # processes), and no configuration was tried twice: two samplers drawing
    # in lock-step would waste half the budget on repeats.
    pids = {t.system_attrs["hpsearch_pid"] for t in trials}
    assert other.pid in pids, _state(pg_url, name)
    first_pids = pids - {other.pid}
    assert first_pids, _state(pg_url, name)
    assert (first.pid in first_pids) == (jobs == 1), _state(pg_url, name)
    configs = [(t.params["learning_rate"], t.params["width"]) for t in trials]
    assert len(set(configs)) == n_trials, _state(pg_url, name)


def test_worker_for_unknown_study_exits_2_with_one_line(pg_url, workers):
    """A typo in the study name is bad input: exit 2, one line naming it, no study created."""
    done = workers.run("worker", "no-such-study", "--storage", pg_url)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "no-such-study" in lines[0]
    assert "Traceback" not in lines[0]
    assert not _study_exists(pg_url, "no-such-study")


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_many_workers_opening_a_fresh_database_at_once(backend, request, tmp_path):
    """Workers started together all create the schema of an empty database: none may fail.

    Both servers answer a concurrent CREATE of the same table or type with an
    error ("already exists", a unique violation) instead of waiting, so
    whoever loses the race must retry, not crash or report bad input.
    """
    from hpsearch.storage import open_storage

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'new.db'}"
    n = 4
    barrier = threading.Barrier(n)

    def open_at_once(_: int) -> str:
        barrier.wait()
        try:
            open_storage(url).engine.dispose()
            return "ok"
        except Exception as exc:  # the assertion below shows every failure
            return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

    with ThreadPoolExecutor(n) as pool:
        outcomes = list(pool.map(open_at_once, range(n)))
    assert outcomes == ["ok"] * n
