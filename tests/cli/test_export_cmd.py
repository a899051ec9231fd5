"""hpsearch export, best --json, and show/best on narrow terminals and plain Optuna studies."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import optuna
import pytest

from hpsearch.cli import main
from hpsearch.cli._common import fmt

URL = "sqlite:///hpsearch.db"

QUICK = textwrap.dedent("""
    def objective(trial, params):
        trial.set_user_attr("train_seconds", 0.125)
        return params["learning_rate"] * params["width"] + params["dropout"]
""")

SPEC = textwrap.dedent("""
    [study]
    name = "wide"
    objective = "quickobj:objective"
    direction = "maximize"
    sampler = "random"
    n_trials = 4
    seed = 3

    [space]
    learning_rate = { type = "float", low = 1e-4, high = 1e-1, log = true }
    depth = { type = "int", low = 1, high = 4 }
    width = { type = "int", low = 16, high = 512, log = true }
    dropout = { type = "float", low = 0.0, high = 0.5 }
    optimizer = { type = "categorical", choices = ["sgd", "momentum", "rmsprop", "adam"] }
""")


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def wide(workdir, capsys):
    """An hpsearch study of 4 trials over 5 parameters, in ./hpsearch.db."""
    (workdir / "quickobj.py").write_text(QUICK)
    (workdir / "wide.toml").write_text(SPEC)
    assert _run(capsys, "run", "wide.toml", "--quiet")[0] == 0
    return optuna.load_study(study_name="wide", storage=URL)


@pytest.fixture
def plain(workdir):
    """A study made with plain Optuna: no hpsearch spec, no sampler attr."""
    study = optuna.create_study(study_name="plain", storage=URL, sampler=optuna.samplers.RandomSampler(0))
    study.optimize(
        lambda t: t.suggest_float("learning_rate", 1e-5, 1e-1, log=True) + t.suggest_int("layers", 1, 3), n_trials=3
    )
    return study


def test_export_csv_to_stdout(wide, capsys):
    code, out, err = _run(capsys, "export", "wide")
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "number",
        "state",
        "value",
        "seconds",
        "learning_rate",
        "depth",
        "width",
        "dropout",
        "optimizer",
        "error",
    ]
    assert len(rows) == 4 and {r["state"] for r in rows} == {"complete"}
    for row, t in zip(rows, wide.trials, strict=True):
        assert float(row["value"]) == t.value and float(row["learning_rate"]) == t.params["learning_rate"]
        assert row["optimizer"] == t.params["optimizer"] and float(row["seconds"]) == 0.125


def test_export_json_and_to_a_file(wide, capsys, workdir):
    code, out, _ = _run(capsys, "export", "wide", "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [r["params"] for r in records] == [t.params for t in wide.trials]
    assert [r["value"] for r in records] == [t.value for t in wide.trials]
    code, out, err = _run(capsys, "export", "wide", "--format", "json", "-o", "trials.json")
    assert code == 0 and out == "" and err == "wrote 4 trials to trials.json\n"
    assert json.loads((workdir / "trials.json").read_text()) == records
    code, stdout_csv, _ = _run(capsys, "export", "wide")
    assert _run(capsys, "export", "wide", "-o", "trials.csv")[0] == 0
    assert (workdir / "trials.csv").read_text() == stdout_csv


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "wdie"], "error: no study named 'wdie'; did you mean 'wide'?"),
        (["export", "wide", "--format", "xml"], "'xml' is not one of 'csv', 'json'"),
        (["export", "wide", "-o", "no/such/dir/x.csv"], "error: -o no/such/dir/x.csv: cannot write the file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(wide, capsys, args, message):
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err


def test_export_of_a_missing_database_creates_none(workdir, capsys):
    code, _, err = _run(capsys, "export", "x", "--storage", "sqlite:///nothing.db")
    assert code == 2 and "does not exist" in err and not (workdir / "nothing.db").exists()


def test_plain_optuna_studies_export_show_and_best(plain, capsys):
    code, out, _ = _run(capsys, "export", "plain")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [float(r["learning_rate"]) for r in rows] == [t.params["learning_rate"] for t in plain.trials]
    code, out, err = _run(capsys, "show", "plain")
    assert code == 0 and err == "" and "3 trials finished" in out
    assert f"value = {fmt(plain.best_value)}" in out
    code, out, err = _run(capsys, "best", "plain", "--json")
    assert code == 0 and err == ""
    best = json.loads(out)
    assert best["number"] == plain.best_trial.number and best["value"] == plain.best_value
    assert best["params"] == plain.best_params and best["direction"] == "minimize" and best["metric"] == "value"


def test_multi_objective_exports_one_value_per_objective(workdir, capsys):
    study = optuna.create_study(study_name="pareto", storage=URL, directions=["maximize", "minimize"])
    study.optimize(lambda t: (t.suggest_float("a", 0, 1), 2.0), n_trials=2)
    code, out, _ = _run(capsys, "export", "pareto")
    assert code == 0 and out.splitlines()[0] == "number,state,value_0,value_1,seconds,a,error"
    code, out, _ = _run(capsys, "export", "pareto", "--format", "json")
    assert [r["values"] for r in json.loads(out)] == [t.values for t in study.trials]


def test_best_json_of_an_hpsearch_study(wide, capsys):
    code, out, err = _run(capsys, "best", "wide", "--json")
    assert code == 0 and err == ""
    best = json.loads(out)
    assert best["number"] == wide.best_trial.number and best["value"] == wide.best_value
    assert best["params"] == wide.best_params and best["state"] == "complete" and best["seconds"] == 0.125
    assert best["study"] == "wide" and best["direction"] == "maximize"


def test_show_fits_80_columns_without_eliding_numbers(wide, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run(capsys, "show", "wide")
    assert code == 0
    assert max(map(len, out.splitlines())) <= 80 and "…" not in out
    flat = "".join(line.strip("│ ") for line in out.splitlines())  # undo the cell's wrapping
    for t in wide.trials:
        assert f"learning_rate={fmt(t.params['learning_rate'])}" in flat.replace(" ", "")
        assert f"dropout={fmt(t.params['dropout'])}" in flat.replace(" ", "")
        assert fmt(t.value) in out
    monkeypatch.setenv("COLUMNS", "200")  # wide enough: one column per parameter, as before
    code, out, _ = _run(capsys, "show", "wide")
    assert code == 0 and "│ learning_rate │" in out.replace("┃", "│") and "…" not in out


def test_export_help_has_examples(capsys):
    code, out, _ = _run(capsys, "export", "--help")
    assert code == 0 and "hpsearch export digits --format json -o digits.json" in out


def test_best_evaluate_json_adds_the_test_metrics(workdir, capsys):
    assert _run(capsys, "run", "tiny.toml", "--quiet")[0] == 0  # 3 small MLPs on iris (tests/cli/conftest.py)
    code, out, err = _run(capsys, "best", "tiny", "--evaluate", "--json")
    assert code == 0, err
    best = json.loads(out)
    study = optuna.load_study(study_name="tiny", storage=URL)
    assert best["metric"] == "accuracy" and best["params"] == study.best_params
    assert best["test"] == study.user_attrs["test_metrics"] and 0 <= best["test"]["test_accuracy"] <= 1
