"""Several objectives through the command line: run, show, best (front and --pick), export, kill -9.

The kill test catches the run inside a trial held on a file (as tests/cli/test_crash.py
does), so no wall-clock margin decides anything.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

STUDIES = Path(__file__).resolve().parents[2] / "studies"

# Two objectives of a 3 x 3 grid, known in advance: quality (maximised) and cost (minimised), with
# a constraint on a reported user attr (size = 100 b <= 250), so the front is known by brute force.
TWO_OBJECTIVES = textwrap.dedent("""
    import os
    import time

    def objective(trial, params):
        hold = os.environ.get("HP_TEST_HOLD")
        if hold and trial.number >= 2 and os.path.exists(hold):
            trial.set_user_attr("held", True)
            while os.path.exists(hold):
                time.sleep(0.02)
        quality = {"p": 0.0, "q": 1.0, "r": 2.0}[params["a"]] + params["b"] / 10
        cost = float(params["b"]) + {"p": 0.0, "q": 0.0, "r": 5.0}[params["a"]]
        trial.set_user_attr("size", 100 * params["b"])
        return quality, cost
""")

GRID_SPEC = textwrap.dedent("""
    [study]
    name = "mo9"
    objective = "moobj:objective"
    objectives = ["quality", "cost"]
    directions = ["maximize", "minimize"]
    sampler = "grid"
    n_trials = 9
    seed = 0

    [space]
    a = { type = "categorical", choices = ["p", "q", "r"] }
    b = { type = "int", low = 1, high = 3, grid = [1, 2, 3] }

    [constraints]
    size = { max = 250 }
""")


def _points(a, b):
    return {"p": 0.0, "q": 1.0, "r": 2.0}[a] + b / 10, float(b) + {"p": 0.0, "q": 0.0, "r": 5.0}[a]


def _brute_front():
    """The feasible (size = 100 b <= 250: b <= 2) non-dominated points, by brute force."""
    pts = {(a, b): _points(a, b) for a in "pqr" for b in (1, 2)}
    front = set()
    for k, (q, c) in pts.items():
        if not any((q2 >= q and c2 <= c) and (q2, c2) != (q, c) for q2, c2 in pts.values()):
            front.add(k)
    return front


@pytest.fixture
def mo_dir(workdir):
    (workdir / "moobj.py").write_text(TWO_OBJECTIVES)
    (workdir / "mo9.toml").write_text(GRID_SPEC)
    return workdir


def _study(workdir, name="mo9"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'hpsearch.db'}")


def test_run_show_best_pick_export_of_a_constrained_two_objective_grid(mo_dir, hp):
    ran = hp("run", "mo9.toml", "--quiet")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    study = _study(mo_dir)
    assert study.metric_names == ["quality", "cost"]
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    trials = study.trials
    assert len(trials) == 9 and all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:  # every value, and the constraint stored the way Optuna's samplers read it
        assert t.values == pytest.approx(list(_points(t.params["a"], t.params["b"])))
        assert t.constraints == {"size <= 250": 100 * t.params["b"] - 250.0}
    expected = _brute_front()
    # b = 3 is infeasible: (q, 3) and (r, 3) would be on the front, and are not
    assert expected == {("q", 1), ("q", 2), ("r", 1), ("r", 2)}

    best = hp("best", "mo9", "--json")
    assert best.returncode == 0, best.stderr
    front = json.loads(best.stdout)
    assert {(r["params"]["a"], r["params"]["b"]) for r in front} == expected
    assert all(r["objectives"] == ["quality", "cost"] for r in front)

    shown = hp("show", "mo9")
    assert shown.returncode == 0, shown.stderr
    assert "Pareto front" in shown.stdout and "3 infeasible" in shown.stdout

    picked = hp("best", "mo9", "--pick", "quality>=1.1,min cost", "--json")
    assert picked.returncode == 0, picked.stderr
    record = json.loads(picked.stdout)
    # among the front with quality >= 1.1, the cheapest: brute force over the same points
    want = min((k for k in expected if _points(*k)[0] >= 1.1), key=lambda k: _points(*k)[1])
    assert (record["params"]["a"], record["params"]["b"]) == want
    text = hp("best", "mo9", "--pick", "max quality")
    assert text.returncode == 0 and "picked trial" in text.stdout

    exported = hp("export", "mo9")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert list(rows[0])[:7] == ["number", "state", "quality", "cost", "seconds", "feasible", "constraint: size <= 250"]
    for row in rows:
        t = trials[int(row["number"])]
        assert (float(row["quality"]), float(row["cost"])) == tuple(t.values)
        assert row["feasible"] == str(t.params["b"] <= 2)


@pytest.mark.parametrize(
    ("pick", "says"),
    [
        ("quality>=99,min cost", "no trial of the front"),
        ("qualty>=1,min cost", "expected a metric"),
        ("quality>=1", "exactly 1"),
        ("quality=>1,min cost", "expected a number"),
        ("quality ~ 1,min cost", "expected clauses"),
        ("min cost,max quality", "exactly 1"),
    ],
)
def test_a_bad_pick_is_one_line_and_exit_2(mo_dir, hp, pick, says):
    assert hp("run", "mo9.toml", "--quiet").returncode == 0
    out = hp("best", "mo9", "--pick", pick)
    assert out.returncode == 2, out.stdout + out.stderr
    assert says in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_pick_on_a_single_objective_study_is_refused(workdir, hp):
    assert hp("run", "grid9.toml", "--quiet", env={"HP_TEST_SLEEP": "0"}).returncode == 0
    out = hp("best", "grid9", "--pick", "min value")
    assert out.returncode == 2 and "several objectives" in out.stderr


def test_digits_tradeoff_runs_end_to_end(workdir, hp):
    """The bundled study, shortened: run, show, best, best --pick, export (accuracy and train_seconds)."""
    spec = (STUDIES / "digits-tradeoff.toml").read_text().replace("n_trials = 24", "n_trials = 6")
    (workdir / "digits-tradeoff.toml").write_text(spec)
    ran = hp("run", "digits-tradeoff.toml", "--jobs", "2", "--quiet", timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    study = _study(workdir, "digits-tradeoff")
    assert study.metric_names == ["accuracy", "train_seconds"]
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 6
    for t in done:
        accuracy, seconds = t.values
        assert 0.0 <= accuracy <= 1.0 and seconds == t.user_attrs["train_seconds"] > 0
        assert t.user_attrs["n_parameters"] > 0 and t.user_attrs["predict_ms_per_1k"] > 0
        assert list(t.constraints) == ["n_params <= 40000"]
        assert t.constraints["n_params <= 40000"] == t.user_attrs["n_parameters"] - 40000
    shown = hp("show", "digits-tradeoff")
    assert shown.returncode == 0 and "Pareto front" in shown.stdout, shown.stderr
    front = json.loads(hp("best", "digits-tradeoff", "--json").stdout)
    assert front and {r["number"] for r in front} <= {t.number for t in done if t.user_attrs["n_parameters"] <= 40000}
    picked = hp("best", "digits-tradeoff", "--pick", "max accuracy", "--json")
    assert picked.returncode == 0, picked.stderr
    top = max((r for r in front), key=lambda r: (r["values"][0], -r["number"]))
    assert json.loads(picked.stdout)["number"] == top["number"]
    exported = hp("export", "digits-tradeoff", "--format", "json")
    records = json.loads(exported.stdout)
    assert all(r["objectives"] == ["accuracy", "train_seconds"] for r in records)


@pytest.fixture
def hold(mo_dir, monkeypatch):
    path = mo_dir / "hold"
    path.touch()
    monkeypatch.setenv("HP_TEST_HOLD", str(path))
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.slow
def test_kill_9_mid_study_then_rerun_gives_exactly_n_trials_with_every_value(mo_dir, hp, hpsearch_command, hold, jobs):
    proc = subprocess.Popen(
        [*hpsearch_command, "run", "mo9.toml", "--jobs", jobs, "--quiet"],
        cwd=mo_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited early"
            try:
                trials = _study(mo_dir).trials
            except Exception:  # the database is being created
                trials = []
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            if len(done) >= 2 and any(t.state == TrialState.RUNNING and t.user_attrs.get("held") for t in trials):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the study never got going")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = [t.number for t in _study(mo_dir).trials if t.state == TrialState.RUNNING]
    assert killed
    hold.unlink()
    again = hp("run", "mo9.toml", "--jobs", jobs, "--quiet", env={"HPSEARCH_GRACE_PERIOD": "3600"})
    assert again.returncode == 0, again.stdout + again.stderr
    trials = _study(mo_dir).trials
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted((t.params["a"], t.params["b"]) for t in done) == sorted((a, b) for a in "pqr" for b in (1, 2, 3))
    assert all(
        len(t.values) == 2 and t.values == pytest.approx(list(_points(t.params["a"], t.params["b"]))) for t in done
    )
    assert sorted(t.number for t in trials if t.state == TrialState.FAIL) == killed
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_a_constrained_single_objective_study_shows_and_picks_feasible_trials_only(workdir, hp):
    spec = (workdir / "grid9.toml").read_text() + "\n[constraints]\nvalue = { max = 2.5 }\n"
    (workdir / "grid9.toml").write_text(spec)
    assert hp("run", "grid9.toml", "--quiet", env={"HP_TEST_SLEEP": "0"}).returncode == 0
    shown = hp("show", "grid9")
    assert shown.returncode == 0, shown.stderr
    # values b + {p: 0, q: .1, r: .2}: 3.0, 3.1 and 3.2 break the bound; the best within it is r, b = 2
    assert "best: trial #" in shown.stdout and "value = 2.2" in shown.stdout
    assert "3 completed trials break a constraint" in shown.stdout and "3.2" not in shown.stdout
    best = json.loads(hp("best", "grid9", "--json").stdout)
    assert best["value"] == pytest.approx(2.2) and best["params"] == {"a": "r", "b": 2}
