"""The CLI when objectives fail, budgets are lowered, and foreign studies share the database."""

from __future__ import annotations

import sqlite3
import textwrap

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.cli import main

DB = "hpsearch.db"
URL = f"sqlite:///{DB}"

FLAKY = textwrap.dedent("""
    def partly(trial, params):
        if params["x"] > 0.6:
            raise ValueError(f"x = {params['x']:.3f} is [too] big")
        return params["x"]

    def always(trial, params):
        raise RuntimeError("no GPU here\\nsecond line of the message")
""")

SPEC = textwrap.dedent("""
    [study]
    name = "{name}"
    objective = "flakyobj:{function}"
    direction = "maximize"
    sampler = "random"
    n_trials = {n_trials}

    [space]
    x = {{ type = "float", low = 0.0, high = 1.0 }}
""")


@pytest.fixture
def flaky(workdir):
    (workdir / "flakyobj.py").write_text(FLAKY)
    (workdir / "partly.toml").write_text(SPEC.format(name="partly", function="partly", n_trials=12))
    (workdir / "always.toml").write_text(SPEC.format(name="always", function="always", n_trials=12))
    return workdir


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _dump(path):
    with sqlite3.connect(path) as con:
        return list(con.iterdump())


def test_an_objective_failing_for_part_of_the_space_fails_those_trials_and_finishes(flaky, capsys):
    code, out, err = _run(capsys, "run", "partly.toml")
    assert code == 0, err
    trials = optuna.load_study(study_name="partly", storage=URL).trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(trials) == 12 and failed and all(t.params["x"] > 0.6 for t in failed)
    assert all(t.user_attrs["error"].startswith("ValueError: x = ") for t in failed)
    assert "Traceback" not in out + err
    code, out, _ = _run(capsys, "show", "partly")
    assert code == 0 and f"12 of 12 trials finished (complete {12 - len(failed)}, failed {len(failed)})" in out
    assert "is [too] big" in out  # the last error, as text (not eaten as markup)
    code, out, _ = _run(capsys, "studies")
    assert code == 0 and f"failed {len(failed)}" in out
    code, out, _ = _run(capsys, "run", "partly.toml")  # the failed configurations are not retried
    assert code == 0 and "already complete (12 finished trials)" in out


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_objective_that_always_fails_exits_1_with_one_line_and_the_last_error(flaky, hp, jobs):
    done = hp("run", "always.toml", "--quiet", "--jobs", jobs)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: study 'always': the objective failed on every trial so far")
    assert "RuntimeError: no GPU here second line of the message" in lines[0]
    trials = optuna.load_study(study_name="always", storage=f"sqlite:///{flaky / DB}").trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert all(
        t.user_attrs.get("error", "").startswith("RuntimeError: no GPU here")
        or "interrupted" in t.system_attrs.get("fail_reason", "")
        for t in trials
    )


def test_max_failures_stops_a_run_of_failures_in_a_row(flaky, capsys):
    (flaky / "always.toml").write_text(SPEC.format(name="always", function="always", n_trials=12))
    code, _, err = _run(capsys, "run", "always.toml", "--max-failures", "2", "--quiet")
    assert code == 1 and "failed on 2 trials in a row" in err and "--max-failures 2" in err
    assert len(optuna.load_study(study_name="always", storage=URL).trials) == 2
    code, _, err = _run(capsys, "run", "always.toml", "--max-failures", "0")
    assert code == 2 and "--max-failures: expected a whole number >= 1, got 0" in err


def test_n_trials_never_lowers_a_budget(flaky, capsys):
    assert _run(capsys, "run", "partly.toml", "--n-trials", "6", "--quiet")[0] == 0
    before = _dump(flaky / DB)
    code, out, _ = _run(capsys, "run", "partly.toml", "--n-trials", "4")
    assert code == 0
    assert "already holds 6 finished trials (>= --n-trials 4); nothing to do. Its budget stays 6" in out
    assert _dump(flaky / DB) == before
    # A budget of 12 with 6 finished: 8 would lower it, and is refused before any write.
    study = optuna.load_study(study_name="partly", storage=URL)
    spec = dict(study.user_attrs["hpsearch_spec"])
    spec["study"] = {**spec["study"], "n_trials": 12}
    study.set_user_attr("hpsearch_spec", spec)
    before = _dump(flaky / DB)
    code, _, err = _run(capsys, "run", "partly.toml", "--n-trials", "8")
    assert code == 2 and err.count("\n") == 1
    assert "study 'partly' has a budget of 12 trials (6 finished); --n-trials 8 would lower it" in err
    assert _dump(flaky / DB) == before
    code, out, _ = _run(capsys, "show", "partly")
    assert "6 of 12 trials finished" in out


@pytest.fixture
def foreign(flaky, capsys):
    """Besides an hpsearch study: a multi-objective, a plain and an empty Optuna study."""
    assert _run(capsys, "run", "partly.toml", "--quiet")[0] == 0
    multi = optuna.create_study(study_name="pareto", storage=URL, directions=["maximize", "minimize"])
    multi.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1)), n_trials=3)
    multi.ask()  # and one left RUNNING
    plain = optuna.create_study(study_name="plain", storage=URL)
    plain.optimize(lambda t: t.suggest_float("a", 0, 1), n_trials=2)
    plain.enqueue_trial({"a": 0.5})  # WAITING
    optuna.create_study(study_name="empty", storage=URL)
    return flaky


def test_studies_lists_foreign_studies_with_what_is_known(foreign, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one line per row
    code, out, err = _run(capsys, "studies")
    assert code == 0 and err == ""
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert {"partly", "pareto", "plain", "empty"} <= set(rows)
    assert "multi-objective, front of" in rows["pareto"] and "maximize, minimize" in rows["pareto"]
    assert "complete 3" in rows["pareto"] and "running 1" in rows["pareto"]
    assert "waiting 1" in rows["plain"] and "complete 2" in rows["plain"]


def test_studies_shows_long_names_whole_on_an_80_column_terminal(foreign, capsys, monkeypatch):
    names = [f"hpobench-credit-g-budget-200-comparison-random-s{s}" for s in (12, 13)]
    for name in names:
        optuna.create_study(study_name=name, storage=URL)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run(capsys, "studies")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in out  # nothing cut, nothing off screen
    # each name folds onto several lines of its cell: joined again, the two arms' seeds tell them apart
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert all(name in cells for name in names)


@pytest.mark.parametrize("command", ["show", "best"])
def test_a_foreign_multi_objective_study_shows_its_front_and_writes_nothing(foreign, capsys, command):
    before = _dump(foreign / DB)
    code, out, err = _run(capsys, command, "pareto")
    assert code == 0 and err == "", out + err
    assert "Pareto front" in out if command == "show" else "on the Pareto front" in out
    assert "value_0" in out or "value_0 = " in out  # no metric names stored: value_0, value_1
    assert _dump(foreign / DB) == before


def test_a_foreign_multi_objective_study_gets_a_report_and_nothing_is_written_to_it(foreign, capsys, tmp_path):
    before = _dump(foreign / DB)
    out_file = tmp_path / "pareto.html"
    code, out, err = _run(capsys, "report", "pareto", "-o", str(out_file))
    assert code == 0 and err == "", out + err
    html = out_file.read_text(encoding="utf-8")
    assert 'id="pareto-section"' in html and "value_0 (maximize), value_1 (minimize)" in html
    assert _dump(foreign / DB) == before


@pytest.mark.parametrize("command", ["show", "best"])
def test_a_study_without_a_spec_is_shown_but_not_evaluated(foreign, capsys, command):
    code, out, err = _run(capsys, command, "plain")
    assert code == 0 and err == "" and "value = " in out  # any single-objective Optuna study (issue 13)
    code, _, err = _run(capsys, "best", "plain", "--evaluate")
    assert code == 2 and err.count("\n") == 1 and "no stored hpsearch spec" in err


GRID = textwrap.dedent("""
    [study]
    name = "g"
    objective = "flakyobj:partly"
    direction = "maximize"
    sampler = "grid"
    n_trials = 4

    [space]
    x = { type = "float", low = 0.0, high = 0.5 }
    y = { type = "float", low = 0.0, high = 0.5 }
    c = { type = "categorical", choices = ["a", "b"], grid = ["a", "b"] }
""")


def test_raising_a_grid_study_budget_that_would_change_its_grid_is_refused(flaky, capsys):
    (flaky / "grid.toml").write_text(GRID)
    assert _run(capsys, "run", "grid.toml", "--n-trials", "2", "--quiet")[0] == 0  # c fixed: x and y get 1 point
    before = _dump(flaky / DB)
    code, _, err = _run(capsys, "run", "grid.toml", "--n-trials", "8")  # 2 points for x and y: a new grid
    assert code == 2 and err.count("\n") == 1
    assert "is a grid search whose grid (x 1, y 1, c 2 points per axis)" in err and "mix two grids" in err
    assert _dump(flaky / DB) == before
    code, _, err = _run(capsys, "run", "grid.toml", "--n-trials", "3", "--quiet")  # the same grid: allowed
    assert code == 0, err
    trials = optuna.load_study(study_name="g", storage=URL).trials
    assert len({(t.params["x"], t.params["y"]) for t in trials}) == 1 and {t.params["c"] for t in trials} == {"a", "b"}
