"""Study control from the command line: enqueue, stop and copy, and a spec's larger budget (issue 25).

Real `hpsearch` processes where workers matter (stop, kill -9): no wall-clock
margins, trials are held on a file (conftest's HP_TEST_HOLD) and the tests
poll the database with generous deadlines.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import textwrap
import time

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.cli import main
from hpsearch.storage import open_storage, queued

ALL_POINTS = sorted((a, b) for a in "pqr" for b in (1, 2, 3))

RANDOM_SPEC = textwrap.dedent("""
    [study]
    name = "rand8"
    objective = "slowobj:objective"
    direction = "maximize"
    sampler = "random"
    n_trials = 8
    seed = 0

    [space]
    a = { type = "categorical", choices = ["p", "q", "r"] }
    b = { type = "int", low = 1, high = 3 }
""")


def db_dump(path):
    """Every row of every table, as SQL: equal dumps = the database was not written."""
    with sqlite3.connect(path) as con:
        return list(con.iterdump())


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _trials(workdir, name="grid9", db="hpsearch.db"):
    try:
        return optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / db}").trials
    except KeyError:
        return []


def _wait_for(predicate, procs, what, timeout=180):
    """Poll until ``predicate()`` holds, failing at once if a process exits early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"exited early while waiting for {what}: {p.communicate()}"
        try:
            if predicate():
                return
        except Exception:  # the database is being created
            pass
        time.sleep(0.05)
    pytest.fail(f"never saw {what}")


@pytest.fixture
def hold(workdir, monkeypatch):
    """A file that holds trials 2+ mid-run while it exists (inherited by every hpsearch process)."""
    path = workdir / "hold"
    path.touch()
    monkeypatch.setenv("HP_TEST_HOLD", str(path))
    return path


# --- item 5: --n-trials, then the spec's larger budget ---------------------------------------


def test_a_plain_run_after_a_smaller_n_trials_goes_on_to_the_specs_budget(workdir, capsys, monkeypatch):
    monkeypatch.setenv("HP_TEST_SLEEP", "0")
    (workdir / "rand8.toml").write_text(RANDOM_SPEC)
    code, _, err = _run(capsys, "run", "rand8.toml", "--n-trials", "3", "--quiet")
    assert code == 0, err
    assert len(_trials(workdir, "rand8")) == 3
    code, out, err = _run(capsys, "run", "rand8.toml")  # the spec says 8: a budget only grows
    assert code == 0, err
    assert "already complete" not in out and "8 finished trials" in out
    assert _slots(_trials(workdir, "rand8")) == list(range(8))


def test_a_plain_run_of_a_grid_whose_grid_the_specs_budget_would_change_keeps_its_budget_and_says_why(
    workdir, capsys, monkeypatch
):
    """grid9 at --n-trials 4 runs a 1 x 3 grid; the spec's 9 would make it 3 x 3, mixing two grids:
    a plain re-run keeps the 4 (exit 0) and says how to get the larger grid."""
    monkeypatch.setenv("HP_TEST_SLEEP", "0")
    assert _run(capsys, "run", "grid9.toml", "--n-trials", "4", "--quiet")[0] == 0
    before = len(_trials(workdir))
    code, out, err = _run(capsys, "run", "grid9.toml")
    assert code == 0, err
    assert "keeps its budget of 4" in out and "spec's study.n_trials (9) would change the grid" in out
    assert len(_trials(workdir)) == before


def _slots(trials):
    return sorted(t.system_attrs["hpsearch_slot"] for t in trials)


# --- enqueue -----------------------------------------------------------------------------------


@pytest.fixture
def rand8(workdir, capsys, monkeypatch):
    """Study rand8 created with one finished trial (budget 1), and its spec file."""
    monkeypatch.setenv("HP_TEST_SLEEP", "0")
    (workdir / "rand8.toml").write_text(RANDOM_SPEC)
    code, _, err = _run(capsys, "run", "rand8.toml", "--n-trials", "1", "--quiet")
    assert code == 0, err
    return workdir


BAD_CONFIGURATIONS = [
    (["--params", '{"a": "p"}'], "configuration 1: missing parameter 'b'"),
    (["--params", '{"a": "p", "b": 4}'], "configuration 1: 'b': 4 is out of range (a whole number in [1, 3])"),
    (["--params", '{"a": "s", "b": 1}'], "configuration 1: 'a': 's' is not one of the choices ['p', 'q', 'r']"),
    (["--params", '{"a": "p", "b": 1, "c": 2}'], "configuration 1: unknown parameter 'c'"),
    (["--params", '{"a": "p", "b": 1}', "--params", '{"a": "p", "b": 1.5}'], "configuration 2: 'b': expected a whole"),
    (["--params", '{"a": "p", "b": 1'], "--params #1: not valid JSON"),
    (["--csv", "bad.csv"], "bad.csv, row 3: 'b': expected a number, got 'two'"),
    (["--csv", "badcol.csv"], "badcol.csv: column 'width' is not a parameter"),
    (["--csv", "missing.csv"], "missing.csv: cannot read the file"),
    ([], "expected --params JSON (repeatable) or --csv FILE"),
]


@pytest.mark.parametrize(("args", "message"), BAD_CONFIGURATIONS)
def test_enqueue_refuses_a_configuration_outside_the_space_and_stores_nothing(rand8, capsys, args, message):
    (rand8 / "bad.csv").write_text("a,b\np,1\nq,two\n")
    (rand8 / "badcol.csv").write_text("a,width\np,1\n")
    before = db_dump(rand8 / "hpsearch.db")
    code, out, err = _run(capsys, "enqueue", "rand8", *args)
    assert code == 2, out + err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert db_dump(rand8 / "hpsearch.db") == before


def test_enqueue_of_an_unknown_study_is_exit_2(rand8, capsys):
    code, _, err = _run(capsys, "enqueue", "nope", "--params", '{"a": "p", "b": 1}')
    assert code == 2 and "nope" in err


def test_enqueued_configurations_run_first_and_count_toward_the_budget(rand8, capsys):
    (rand8 / "good.csv").write_text("a,b\nr,3\nq,1\n")
    code, out, err = _run(capsys, "enqueue", "rand8", "--params", '{"a": "p", "b": 2}', "--csv", "good.csv")
    assert code == 0, err
    assert "enqueued 3 configurations" in out and "only 0 slots of its budget are left" in out
    code, out, err = _run(capsys, "show", "rand8")
    assert code == 0 and "3 enqueued configurations wait to run first" in out, err
    code, out, err = _run(capsys, "run", "rand8.toml", "--quiet")  # the spec's 8 raises the budget of 1
    assert code == 0, err
    trials = sorted(_trials(rand8, "rand8"), key=lambda t: t.system_attrs["hpsearch_slot"])
    assert len(trials) == 8 and all(t.state == TrialState.COMPLETE for t in trials)
    assert [(t.params["a"], t.params["b"]) for t in trials[1:4]] == [("p", 2), ("r", 3), ("q", 1)]
    assert [t.number for t in trials if "fixed_params" in t.system_attrs] == [1, 2, 3]


@pytest.mark.slow
def test_enqueued_configurations_run_exactly_once_after_a_kill_9_with_two_jobs(rand8, hp, hpsearch_command, hold):
    """Trials 2+ hold; kill -9 the run and its workers while two enqueued configurations are held,
    then re-run: each enqueued configuration finishes exactly once, in the slot it was bound to."""
    queue = [{"a": "p", "b": 3}, {"a": "q", "b": 2}, {"a": "r", "b": 1}, {"a": "p", "b": 1}]
    done = hp("enqueue", "rand8", *[x for c in queue for x in ("--params", json.dumps(c))])
    assert done.returncode == 0, done.stderr
    proc = subprocess.Popen(
        [*hpsearch_command, "run", "rand8.toml", "--jobs", "2", "--quiet"],
        cwd=rand8,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "HP_TEST_SLEEP": "0.05"},
    )

    def two_held():
        trials = _trials(rand8, "rand8")
        return len([t for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("held")]) == 2

    try:
        _wait_for(two_held, [proc], "two held trials")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, like a power cut
        proc.wait()
    killed = [t for t in _trials(rand8, "rand8") if t.state == TrialState.RUNNING]
    assert len(killed) == 2 and all("fixed_params" in t.system_attrs for t in killed)
    hold.unlink()
    again = hp("run", "rand8.toml", "--jobs", "2", "--quiet", env={"HP_TEST_SLEEP": "0.05"})
    assert again.returncode == 0, again.stdout + again.stderr
    trials = _trials(rand8, "rand8")
    finished = sorted(
        (t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.system_attrs["hpsearch_slot"]
    )
    assert len(finished) == 8 and not [t for t in trials if t.state == TrialState.RUNNING]
    st = open_storage(f"sqlite:///{rand8 / 'hpsearch.db'}")
    bound = queued(st.engine, st.get_study_id_from_name("rand8"))  # (position, params, slot)
    assert [t.system_attrs["hpsearch_slot"] for t in finished] == list(range(8))
    assert [params for _, params, _ in bound] == queue and len({slot for _, _, slot in bound} - {None, 0}) == 4
    assert all(finished[slot].params == params for _, params, slot in bound)  # each in its bound slot, once
    assert sum("fixed_params" in t.system_attrs for t in finished) == 4


# --- stop --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_stop_lets_run_and_worker_finish_their_trials_and_exit_and_a_later_run_resumes(
    workdir, hp, hpsearch_command, hold
):
    """A `run` and a `worker` (two processes, as on two machines) each hold a trial; `hpsearch stop`;
    the held trials are let go: both finish them, start no more, exit 0. A later run finishes the study."""

    def start(*args):
        return subprocess.Popen(
            [*hpsearch_command, *args],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HP_TEST_SLEEP": "0.05"},
        )

    procs = [start("run", "grid9.toml")]
    try:
        _wait_for(lambda: len(_trials(workdir)) >= 1, procs, "the study")
        procs.append(start("worker", "grid9"))

        def held_by_both():
            held = [t for t in _trials(workdir) if t.state == TrialState.RUNNING and t.user_attrs.get("held")]
            return len({t.user_attrs["pid"] for t in held}) == 2

        _wait_for(held_by_both, procs, "a held trial in each process")
        stopped = hp("stop", "grid9")
        assert stopped.returncode == 0, stopped.stderr
        assert "stop requested" in stopped.stdout
        hold.unlink()
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all("stopped by 'hpsearch stop'" in out for out, _ in outputs), outputs
    trials = _trials(workdir)
    assert not [t for t in trials if t.state != TrialState.COMPLETE]  # the held trials finished, none crashed
    assert len(trials) < 9
    shown = hp("show", "grid9")
    assert shown.returncode == 0 and "stopped by 'hpsearch stop'" in shown.stdout, shown.stderr
    again = hp("run", "grid9.toml", env={"HP_TEST_SLEEP": "0"})
    assert again.returncode == 0, again.stderr
    assert "cleared the stop" in again.stdout
    trials = _trials(workdir)
    assert sorted((t.params["a"], t.params["b"]) for t in trials) == ALL_POINTS


def test_stop_of_an_unknown_study_is_exit_2(workdir, capsys, monkeypatch):
    monkeypatch.setenv("HP_TEST_SLEEP", "0")
    assert _run(capsys, "run", "grid9.toml", "--quiet")[0] == 0
    code, _, err = _run(capsys, "stop", "nope")
    assert code == 2 and "nope" in err


# --- copy --------------------------------------------------------------------------------------


def _comparable(trials):
    return [
        (t.number, t.state, t.values, t.params, t.intermediate_values, t.user_attrs, t.system_attrs)
        for t in sorted(trials, key=lambda t: t.number)
    ]


def test_copy_within_and_across_databases_is_usable_and_refuses_an_existing_name(workdir, capsys, monkeypatch):
    monkeypatch.setenv("HP_TEST_SLEEP", "0")
    (workdir / "rand8.toml").write_text(RANDOM_SPEC)
    assert _run(capsys, "run", "rand8.toml", "--n-trials", "4", "--quiet")[0] == 0
    original = _trials(workdir, "rand8")
    code, out, err = _run(capsys, "copy", "rand8", "rand8b")
    assert code == 0, err
    assert "copied study 'rand8' to 'rand8b'" in out and "(4 trials)" in out
    assert _comparable(_trials(workdir, "rand8b")) == _comparable(original)
    before = db_dump(workdir / "hpsearch.db")
    code, _, err = _run(capsys, "copy", "rand8", "rand8b")
    assert code == 2 and "study 'rand8b' already exists" in err
    assert db_dump(workdir / "hpsearch.db") == before
    code, _, err = _run(capsys, "copy", "rand8", "rand8", "--storage-to", "sqlite:///other.db")
    assert code == 0, err
    assert _comparable(_trials(workdir, "rand8", "other.db")) == _comparable(original)
    code, out, err = _run(capsys, "show", "rand8b")
    assert code == 0 and "4 of 4 trials finished" in out, out + err
    code, out, err = _run(capsys, "report", "rand8b", "--output", str(workdir / "r.html"))
    assert code == 0 and (workdir / "r.html").stat().st_size > 0, out + err
    # a resumed run of the copy takes up where the original stopped: its slots came along
    code, _, err = _run(capsys, "run", "rand8.toml", "--study-name", "rand8b", "--quiet")
    assert code == 0, err
    resumed = _trials(workdir, "rand8b")
    assert len(resumed) == 8 and _slots(resumed) == list(range(8))
    assert _comparable(resumed[:4]) == _comparable(original)
    assert len(_trials(workdir, "rand8")) == 4  # the original is untouched
