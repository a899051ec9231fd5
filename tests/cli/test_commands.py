"""The CLI commands in-process: bad input -> exit 2 and one line; studies/show/delete/best/check/worker work."""

from __future__ import annotations

import sqlite3

import optuna
import pytest

from hpsearch.cli import main

DB = "hpsearch.db"


def _dump(path):
    with sqlite3.connect(path) as con:
        return list(con.iterdump())


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


BAD_INPUT = [
    (("run", "missing.toml"), "missing.toml: expected an existing spec file"),
    (("run", "broken.toml"), "broken.toml: line"),
    (("run", "typo.toml"), "typo.toml: study.n_trails"),
    (("run", "tiny.toml", "--jobs", "0"), "--jobs"),
    (("run", "tiny.toml", "--n-trials", "0"), "--n-trials"),
    (("run", "tiny.toml", "--sampler", "bogus"), "'bogus' is not one of"),
    (("run", "tiny.toml", "--seed", "7"), "different spec (study.seed differ)"),
    (("run", "tiny.toml", "--storage", "nonsense"), "not a database URL"),
    (("run",), "Missing argument 'SPEC'"),
    (("show", "tiyn"), "did you mean 'tiny'"),
    (("best", "nope", "--evaluate"), "no study named 'nope'"),
    (("delete", "nope", "--yes"), "no study named 'nope'"),
    (("worker", "nope"), "no study named 'nope'"),
    (("check", "typo.toml"), "typo.toml: study.n_trails"),
    (("bogus-command",), "No such command"),
]


@pytest.fixture
def ran(workdir, capsys):
    """A finished 3-trial MLP study 'tiny' in ./hpsearch.db, plus malformed specs beside it."""
    (workdir / "broken.toml").write_text("[study\nname = 1\n")
    (workdir / "typo.toml").write_text((workdir / "tiny.toml").read_text().replace("n_trials", "n_trails"))
    assert _run(capsys, "run", "tiny.toml", "--quiet")[0] == 0
    return workdir


@pytest.mark.parametrize("args, words", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_line_and_leaves_the_db_alone(ran, capsys, args, words):
    before = _dump(ran / DB)
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert words in err
    assert "Traceback" not in out + err
    assert _dump(ran / DB) == before


@pytest.mark.parametrize(
    "args", [("show", "x"), ("best", "x"), ("worker", "x"), ("delete", "x", "--yes"), ("run", "typo.toml")]
)
def test_bad_input_does_not_create_a_database(workdir, capsys, args):
    (workdir / "typo.toml").write_text("[study]\nnme = 'x'\n")
    assert _run(capsys, *args)[0] == 2
    assert not (workdir / DB).exists()


def test_studies_show_best_evaluate_and_delete(ran, capsys):
    code, out, _ = _run(capsys, "studies")
    assert code == 0 and "tiny" in out and "random" in out and "complete 3" in out
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{DB}")
    code, out, _ = _run(capsys, "show", "tiny", "--top", "2")
    assert code == 0 and f"best: trial #{study.best_trial.number}" in out and "top 2 trials" in out
    code, out, _ = _run(capsys, "best", "tiny", "--evaluate")
    assert code == 0 and "test_accuracy" in out
    attrs = optuna.load_study(study_name="tiny", storage=f"sqlite:///{DB}").user_attrs
    assert 0.0 <= attrs["test_score"] <= 1.0
    assert attrs["test_metrics"]["test_accuracy"] == attrs["test_score"]
    assert f"test_accuracy = {attrs['test_score']:.6g}" in out
    code, out, _ = _run(capsys, "delete", "tiny", "--yes")
    assert code == 0 and "deleted study 'tiny' (3 trials)" in out
    assert optuna.get_all_study_names(f"sqlite:///{DB}") == []
    with sqlite3.connect(DB) as con:
        assert con.execute("SELECT COUNT(*) FROM hpsearch_claims").fetchone()[0] == 0


def test_delete_asks_first(ran, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    code, out, _ = _run(capsys, "delete", "tiny")
    assert code == 0 and "not deleted" in out
    assert optuna.get_all_study_names(f"sqlite:///{DB}") == ["tiny"]


def test_rerunning_a_finished_study_says_so(ran, capsys):
    before = _dump(ran / DB)
    code, out, _ = _run(capsys, "run", "tiny.toml")
    assert code == 0 and "already complete (3 finished trials); nothing to do" in out
    assert _dump(ran / DB) == before


def test_check_shows_space_grid_and_gradient_check(workdir, capsys):
    code, out, _ = _run(capsys, "check", "tiny.toml")
    assert code == 0
    assert "learning_rate" in out and "0.001 .. 0.1" in out
    from hpsearch.space import grid_size
    from hpsearch.spec import load_spec

    assert f"grid for a budget of 3: {grid_size(load_spec('tiny.toml').space, 3)} points" in out
    error = float(out.split("max relative error ")[1].split()[0])
    assert error < 1e-5
    assert not (workdir / DB).exists()


def test_worker_finishes_a_study_from_its_stored_spec(workdir, capsys):
    assert _run(capsys, "run", "tiny.toml", "--timeout", "0.000001", "--quiet")[0] == 0
    assert optuna.load_study(study_name="tiny", storage=f"sqlite:///{DB}").trials == []
    (workdir / "tiny.toml").unlink()  # the worker needs only the name
    code, out, _ = _run(capsys, "worker", "tiny")
    assert code == 0 and "finished" in out
    trials = optuna.load_study(study_name="tiny", storage=f"sqlite:///{DB}").trials
    assert len(trials) == 3 and all(t.state.name == "COMPLETE" for t in trials)


def test_help_has_examples_everywhere(capsys):
    for command in ("run", "worker", "studies", "show", "check", "delete", "best"):
        code, out, _ = _run(capsys, command, "--help")
        assert code == 0 and "Examples:" in out and "--storage" in out or command == "check"


def test_run_lists_a_csv_targets_classes_and_warns_about_a_typo(workdir, capsys):
    body = "".join(f"{i % 7},{i % 5},{'pass' if i % 3 else 'fail'}\n" for i in range(60))
    (workdir / "d.csv").write_text("a,b,result\n" + body + "3,1,Pass\n")
    (workdir / "csv.toml").write_text(
        '[study]\nname = "c"\nn_trials = 1\n[data]\ndataset = "csv"\npath = "d.csv"\ntarget = "result"\n'
        '[training]\nmax_epochs = 2\n[space]\nwidth = { type = "int", low = 4, high = 8 }\n'
    )
    code, out, err = _run(capsys, "run", "csv.toml")
    assert code == 0, err
    assert "classes: 'pass' 40, 'fail' 20, 'Pass' 1" in out
    assert "warning: classes 'pass' (40 rows), 'Pass' (1 rows) differ only in case or spaces" in out
