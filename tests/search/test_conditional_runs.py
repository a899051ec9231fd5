"""Conditional parameters end to end: real runs at --jobs 2, exports, and `hpsearch check`."""

from __future__ import annotations

import csv
import io
import itertools

import optuna
import pytest

from hpsearch.export import to_csv, trial_rows
from hpsearch.search import budget, run_study
from hpsearch.storage import open_storage

SPACE = {
    "a": {"type": "categorical", "choices": ["p", "q", "r"]},
    "x": {"type": "float", "low": 0.0, "high": 1.0, "when": {"a": ["p", "q"]}},
    "b": {"type": "int", "low": 1, "high": 3},
}


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["grid", "random", "tpe"])
def test_two_worker_processes_run_a_conditional_space(tmp_path, spec_factory, objectives_module, sampler):
    spec = spec_factory(name="cond", sampler=sampler, n_trials=14, space=SPACE, seed=1)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = run_study(spec, url, jobs=2, progress=False)
    trials = study.get_trials(deepcopy=False)
    # grid: a 3, b 2, x 3 points; x exists for p and q only: 2 x 3 + 2 x 3 + 2 = 14 points, each once
    # (sized as a full product, a 3 x 2 x 2 grid of 10 points would have been all that fits)
    assert len(trials) == 14 == budget(spec)
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    for t in trials:
        assert ("x" in t.params) == (t.params["a"] in ("p", "q"))
    if sampler == "grid":
        points = sorted(repr(sorted(t.params.items())) for t in trials)
        assert len(set(points)) == len(points)
    columns, rows = trial_rows(open_storage(url), "cond")
    text = list(csv.reader(io.StringIO(to_csv(columns, rows))))
    a, x = text[0].index("a"), text[0].index("x")
    for row in text[1:]:
        assert (row[x] == "") == (row[a] == "r")  # empty exactly where x does not exist


def test_check_prints_the_condition_and_the_conditional_grid(tmp_path, capsys):
    from hpsearch.cli import main

    path = tmp_path / "c.toml"
    path.write_text(
        '[study]\nname = "c"\nobjective = "mlp"\nsampler = "grid"\nn_trials = 24\n'
        '[data]\ndataset = "iris"\n[training]\nmax_epochs = 2\n[space]\n'
        'optimizer = { type = "categorical", choices = ["sgd", "momentum", "adam"] }\n'
        'learning_rate = { type = "float", low = 1e-3, high = 1e-1, log = true }\n'
        'momentum = { type = "float", low = 0.5, high = 0.99, when = { optimizer = ["sgd", "momentum"] } }\n'
    )
    assert main(["check", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "exists when" in out and "optimizer in {sgd, momentum}" in out.replace("│ ", "").replace(" │", "")
    # optimizer 3 x learning_rate 3 x momentum 3 = 27 combinations; adam has no momentum: 9 + 9 + 3 = 21
    assert "27 combinations, of which 21 are points" in out
    assert "grid for a budget of 24: 21 points" in out


def test_mlp_objective_trains_without_an_absent_parameter(tmp_path):
    """A trial without momentum (adam) still trains: the objective falls back to its default."""
    import hpsearch

    spec = {
        "study": {"name": "m", "objective": "mlp", "sampler": "grid", "n_trials": 6, "seed": 0},
        "data": {"dataset": "iris"},
        "training": {"max_epochs": 2},
        "space": {
            "optimizer": {"type": "categorical", "choices": ["momentum", "adam"]},
            "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"optimizer": ["momentum"]}},
        },
    }
    study = hpsearch.run(spec, storage=f"sqlite:///{tmp_path / 'm.db'}")
    trials = study.get_trials(deepcopy=False)
    kinds = sorted((t.params["optimizer"], "momentum" in t.params) for t in trials)
    assert [k for k, _ in itertools.groupby(kinds)] == [("adam", False), ("momentum", True)]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


def _command_spec(tmp_path, training=""):
    path = tmp_path / "cmd.toml"
    path.write_text(
        '[study]\nname = "cmd"\nobjective = "command"\ndirection = "maximize"\nsampler = "random"\nn_trials = 6\n'
        "[command]\nrun = \"python3 -c 'print({x})'\"\n"
        + training
        + '[space]\na = { type = "categorical", choices = ["p", "q"] }\n'
        'x = { type = "float", low = 0.0, high = 1.0, when = { a = ["p"] } }\n'
    )
    return path


def test_a_command_placeholder_needs_a_value_in_every_trial(tmp_path, capsys):
    from hpsearch.cli import main

    assert main(["check", str(_command_spec(tmp_path))]) == 2
    err = capsys.readouterr().err.strip()
    assert "cmd.toml: command.run: expected placeholders of parameters every trial has" in err
    assert "[training] x = ..." in err and "\n" not in err


def test_training_gives_a_conditional_parameter_its_value_where_it_is_absent(tmp_path):
    import hpsearch

    path = _command_spec(tmp_path, training="[training]\nx = 0.25\n")
    study = hpsearch.run(str(path), storage=f"sqlite:///{tmp_path / 'cmd.db'}")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 6 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    for t in trials:
        assert t.value == (t.params["x"] if t.params["a"] == "p" else 0.25)
    assert {t.params["a"] for t in trials} == {"p", "q"}
