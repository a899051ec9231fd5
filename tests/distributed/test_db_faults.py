"""A PostgreSQL that blinks: backends terminated every 50 ms, then a server restart, mid-study (issue 26).

`run` and a `worker` share a 64-point grid on a real server. For 15 s every
connection the two hold is terminated every 50 ms (``pg_terminate_backend``:
what a failover, a pooler restart or an idle timeout does to them), then the
server is restarted (``pg_ctl restart -m fast``). Both must ride it out and
exit 0, with every grid point COMPLETE exactly once, and no trial may carry a
database error as its objective's error.

The objective writes to the database the way the MLP objective does
(intermediate values, ``set_user_attrs``' one-transaction upsert, a plain
``trial.set_user_attr``), so the terminations hit those writes too. Trials of
the grid's upper part wait until the restart is done (a hold file), so the
restart surely lands mid-study however fast the machine is.
"""

from __future__ import annotations

import time
from collections import Counter

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState

pytestmark = pytest.mark.postgres

OBJECTIVE = '''
"""Test objective: writes like the MLP objective; slots >= HOLD_FROM wait while the hold file exists."""
import os
import time

from hpsearch.storage._attrs import set_user_attrs, trial_slot

def objective(trial, params):
    hold = os.environ["HP_TEST_HOLD"]
    if trial_slot(trial) >= int(os.environ["HP_TEST_HOLD_FROM"]):
        while os.path.exists(hold):
            time.sleep(0.02)
    for step in range(3):
        time.sleep(0.03)
        trial.report(float(step), step)
    trial.set_user_attr("worker", os.environ["TEST_WORKER_LABEL"])
    set_user_attrs(trial, {"train_seconds": 0.1, "epochs_run": 3, "diverged": False})
    return float(params["x"]) + 0.01 * float(params["y"])
'''

SPEC = """
[study]
name = "{name}"
objective = "blink_objective:objective"
direction = "maximize"
sampler = "grid"
n_trials = 64
seed = 0

[space]
x = {{ type = "int", low = 0, high = 7, grid = [0, 1, 2, 3, 4, 5, 6, 7] }}
y = {{ type = "int", low = 0, high = 7, grid = [0, 1, 2, 3, 4, 5, 6, 7] }}
"""

HOLD_FROM = 40  # slots from here on wait for the restart
CHAOS_SECONDS = 15.0
KILL_EVERY = 0.05


def _terminate_backends(admin: sa.Engine, database: str) -> int:
    with admin.connect() as con:
        return len(
            con.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": database},
            ).all()
        )


def _count_trials(url: str, name: str) -> Counter:
    trials = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    return Counter(t.state for t in trials)


@pytest.mark.slow
def test_terminated_backends_and_a_restart_lose_nothing(pg_url, pg_control, workers, tmp_path):
    name = "blinking"
    (tmp_path / "blink_objective.py").write_text(OBJECTIVE)
    spec = tmp_path / "grid.toml"
    spec.write_text(SPEC.format(name=name))
    hold = tmp_path / "hold"
    hold.touch()
    env = {
        "HPSEARCH_HEARTBEAT_INTERVAL": "1",
        "HPSEARCH_GRACE_PERIOD": "3",
        "HP_TEST_HOLD": str(hold),
        "HP_TEST_HOLD_FROM": str(HOLD_FROM),
    }
    runner = workers.start("run", str(spec), "--storage", pg_url, "-q", env={**env, "TEST_WORKER_LABEL": "run"})
    database = sa.engine.make_url(pg_url).database
    admin = sa.create_engine(sa.engine.make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        deadline = time.monotonic() + 120
        while True:  # until the study has trials: `run` created it and works on it
            try:
                if _count_trials(pg_url, name):
                    break
            except KeyError:
                pass
            assert runner.poll() is None, f"run exited early:\n{workers.output()}"
            assert time.monotonic() < deadline, f"no trial started:\n{workers.output()}"
            time.sleep(0.1)
        other = workers.start("worker", name, "--storage", pg_url, "-q", env={**env, "TEST_WORKER_LABEL": "worker"})

        killed = 0
        chaos_end = time.monotonic() + CHAOS_SECONDS
        while time.monotonic() < chaos_end:
            killed += _terminate_backends(admin, database)
            time.sleep(KILL_EVERY)
        assert killed > 0, "no backend was ever terminated: the chaos did not reach the workers"
        assert runner.poll() is None and other.poll() is None, (
            f"a process exited during the terminations:\n{workers.output()}"
        )
        pg_control.restart()
        assert runner.poll() is None and other.poll() is None, f"a process exited at the restart:\n{workers.output()}"
        hold.unlink()  # the held upper part of the grid runs now, after the restart

        codes = workers.wait_all(timeout=300)
    finally:
        admin.dispose()
    assert codes == [0, 0], f"exit codes {codes}:\n{workers.output()}"
    assert "Traceback" not in workers.output(), workers.output()

    trials = optuna.load_study(study_name=name, storage=pg_url).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    points = Counter((t.params["x"], t.params["y"]) for t in complete)
    assert len(points) == 64 and set(points.values()) == {1}, (
        f"grid points not COMPLETE exactly once: {sorted(p for p, n in points.items() if n != 1)}, "
        f"{64 - len(points)} missing"
    )
    assert not [t for t in trials if t.state == TrialState.RUNNING], "trials left RUNNING"
    errors = [t.user_attrs["error"] for t in trials if "error" in t.user_attrs]
    assert errors == [], f"database errors recorded as the objective's: {errors[:3]}"
    # The crashed attempts (if any) say why, and none of them counted.
    for t in trials:
        if t.state == TrialState.FAIL:
            assert "diverged" not in t.user_attrs or t.user_attrs["diverged"] is False
    print(f"terminated {killed} backends; {len(trials) - 64} attempts crashed and were re-run")


@pytest.mark.slow
def test_a_database_gone_longer_than_the_patience_is_one_line_without_its_password(
    pg_url, pg_control, workers, tmp_path
):
    name = "patience"
    (tmp_path / "blink_objective.py").write_text(OBJECTIVE)
    spec = tmp_path / "grid.toml"
    spec.write_text(SPEC.format(name=name))
    hold = tmp_path / "hold"
    hold.touch()
    env = {"HP_TEST_HOLD": str(hold), "HP_TEST_HOLD_FROM": "0", "TEST_WORKER_LABEL": "run"}
    runner = workers.start("run", str(spec), "--storage", pg_url, "-q", env={**env, "HPSEARCH_DB_PATIENCE": "3"})
    deadline = time.monotonic() + 120
    while True:  # until `run` holds a trial (which waits on the hold file)
        try:
            if _count_trials(pg_url, name)[TrialState.RUNNING]:
                break
        except KeyError:
            pass
        assert runner.poll() is None, f"run exited early:\n{workers.output()}"
        assert time.monotonic() < deadline, f"no trial started:\n{workers.output()}"
        time.sleep(0.1)
    pg_control.stop()
    try:
        probe = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
        with pytest.raises(sa.exc.OperationalError):  # the server is really gone
            probe.connect().close()
        assert runner.poll() is None, f"run exited before the trial could tell:\n{workers.output()}"
        hold.unlink()  # the trial ends now and must tell its outcome to a database that is gone
        codes = workers.wait_all(timeout=120)
    finally:
        pg_control.start()
    url = sa.engine.make_url(pg_url)
    if codes != [1]:  # say what the study holds: did the trial's tell reach a database?
        print(f"study after the outage: {dict(_count_trials(pg_url, name))}")
    output = workers.output().split("\n", 1)[1].strip()  # past the log's "--- worker0.log ---" header
    assert codes == [1], output
    assert output.count("\n") == 0, f"more than one line:\n{output}"
    assert output.startswith(f"error: database unreachable at {url.host}:{url.port} for 3.0 s"), output
    if url.password:
        assert url.password not in output
