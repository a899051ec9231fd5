"""Crash safety with real `hpsearch run` processes: kill -9 and Ctrl-C mid-study, then resume at once.

No wall-clock margins: the run is caught inside a trial that waits on a file
(conftest's HP_TEST_HOLD), and "resumed at once" is checked by what freed the
killed trials (their dead pid, with a heartbeat grace period of an hour), not
by a stopwatch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import optuna
import pytest
from optuna.trial import TrialState

ALL_POINTS = sorted((a, b) for a in "pqr" for b in (1, 2, 3))


def _trials(workdir):
    try:
        return optuna.load_study(study_name="grid9", storage=f"sqlite:///{workdir / 'hpsearch.db'}").trials
    except KeyError:
        return []


def _wait_mid_study(workdir, proc, timeout=120):
    """Until 2 trials completed and a trial is held mid-run (see HP_TEST_HOLD): the moment to pull the plug."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited early"
        try:
            trials = _trials(workdir)
        except Exception:  # the database is being created
            trials = []
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        held = [t for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("held")]
        if len(done) >= 2 and held:
            return
        time.sleep(0.05)
    pytest.fail("the study never got going")


def _check_complete_once(workdir):
    trials = _trials(workdir)
    assert [t.number for t in trials if t.state == TrialState.RUNNING] == []
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted((t.params["a"], t.params["b"]) for t in done) == ALL_POINTS  # each point exactly once
    crashed = [t for t in trials if t.state == TrialState.FAIL]
    assert all("diverged" not in t.user_attrs and "error" not in t.user_attrs for t in crashed)
    assert len(trials) == 9 + len(crashed)
    return crashed


@pytest.fixture
def hold(workdir, monkeypatch):
    """A file that holds trials 2+ mid-run while it exists (inherited by every hpsearch process)."""
    path = workdir / "hold"
    path.touch()
    monkeypatch.setenv("HP_TEST_HOLD", str(path))
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.slow
def test_kill_9_mid_study_then_rerun_resumes_to_exactly_n_trials(workdir, hp, hpsearch_command, hold, jobs):
    cmd = [*hpsearch_command, "run", "grid9.toml", "--jobs", jobs, "--quiet"]
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        _wait_mid_study(workdir, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, like a power cut
        proc.wait()
    killed = [t.number for t in _trials(workdir) if t.state == TrialState.RUNNING]
    assert killed  # the kill really interrupted trials (a held trial cannot have finished)
    hold.unlink()
    # An hour's grace: only the dead local pids can free the killed trials, at once.
    again = hp(
        "run", "grid9.toml", "--jobs", jobs, "--quiet", env={"HP_TEST_SLEEP": "0.05", "HPSEARCH_GRACE_PERIOD": "3600"}
    )
    assert again.returncode == 0, again.stdout + again.stderr
    crashed = _check_complete_once(workdir)
    assert sorted(t.number for t in crashed) == killed
    assert all(t.system_attrs["fail_reason"].startswith("worker died") for t in crashed)


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.slow
def test_ctrl_c_fails_the_running_trial_and_rerun_resumes(workdir, hp, hpsearch_command, hold, jobs):
    """SIGINT to the `run` process only: with --jobs 2 it must pass it on to its workers."""
    proc = subprocess.Popen(
        [*hpsearch_command, "run", "grid9.toml", "--quiet", "--jobs", jobs],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HP_TEST_SLEEP": "0.05"},
    )
    try:
        _wait_mid_study(workdir, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    interrupted = [t for t in _trials(workdir) if t.state == TrialState.FAIL]
    assert 1 <= len(interrupted) <= int(jobs)
    assert all("interrupted" in t.system_attrs["fail_reason"] for t in interrupted)
    assert not [t for t in _trials(workdir) if t.state == TrialState.RUNNING]
    hold.unlink()
    again = hp("run", "grid9.toml", "--quiet", env={"HP_TEST_SLEEP": "0.05"})
    assert again.returncode == 0, again.stderr
    _check_complete_once(workdir)
