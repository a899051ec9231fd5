"""hpsearch.run and hpsearch.compare from Python: specs as dicts or paths, objectives as callables."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest

import hpsearch
from hpsearch.errors import UserError


def _spec(name: str, objective: str = "unused:placeholder", n_trials: int = 3) -> dict:
    return {
        "study": {
            "name": name,
            "objective": objective,
            "direction": "minimize",
            "n_trials": n_trials,
            "seed": 1,
            "sampler": "random",
        },
        "space": {"x": {"type": "float", "low": -1.0, "high": 1.0}},
    }


def test_run_with_a_notebook_callable_returns_the_study(tmp_path):
    seen = []

    def parabola(trial, params):  # a closure, as in a notebook: not importable by reference
        seen.append(params["x"])
        return (params["x"] - 0.25) ** 2

    study = hpsearch.run(_spec("nb"), objective=parabola, storage=f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(study, optuna.Study) and study.study_name == "nb"
    assert len(study.trials) == 3 and len(seen) == 3
    assert study.best_value == pytest.approx(min((x - 0.25) ** 2 for x in seen))
    with pytest.raises(UserError, match="jobs=1"):
        hpsearch.run(
            _spec("nb2"), objective=lambda trial, params: 0.0, jobs=2, storage=f"sqlite:///{tmp_path / 'a.db'}"
        )


def test_run_with_an_importable_callable_stores_its_reference(cheap_objectives, tmp_path):
    import importlib

    sharp = importlib.import_module(cheap_objectives).sharp
    spec = {**_spec("imp"), "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)}}
    spec["study"]["direction"] = "maximize"
    study = hpsearch.run(spec, objective=sharp, storage=f"sqlite:///{tmp_path / 'b.db'}", n_trials=2)
    assert study.user_attrs["hpsearch_spec"]["study"]["objective"] == f"{cheap_objectives}:sharp"
    assert len(study.trials) == 2


def test_compare_rejects_bad_input_before_touching_the_database(tmp_path):
    db = tmp_path / "c.db"
    with pytest.raises(UserError, match="samplers: expected"):
        hpsearch.compare(_spec("c"), samplers=("grid", "bayes"), storage=f"sqlite:///{db}")
    with pytest.raises(UserError, match="spec"):
        hpsearch.compare(42, storage=f"sqlite:///{db}")
    assert not db.exists()


def test_import_hpsearch_stays_cheap_and_compare_is_callable():
    code = (
        "import sys, hpsearch; assert 'optuna' not in sys.modules and 'scipy' not in sys.modules; "
        "assert callable(hpsearch.compare) and callable(hpsearch.run); "
        "from hpsearch import compare; import hpsearch.comparison; assert compare is hpsearch.compare"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_from_a_spec_file(cheap_objectives, tmp_path):
    spec = tmp_path / "sharp.toml"
    spec.write_text(
        f'[study]\nobjective = "{cheap_objectives}:sharp"\ndirection = "maximize"\nn_trials = 2\n'
        'sampler = "random"\n[space]\n'
        + "".join(f'x{i} = {{ type = "float", low = 0.0, high = 1.0 }}\n' for i in range(6))
    )
    study = hpsearch.run(spec, storage=f"sqlite:///{tmp_path / 'f.db'}")
    assert study.study_name == "sharp" and len(study.trials) == 2  # the name defaults to the file's stem


QUIET_SCRIPT = """
import sys
import hpsearch

spec = {
    "study": {"name": "q", "objective": "cheap_objectives:noise", "direction": "minimize", "n_trials": 3,
              "seed": 1, "sampler": "random"},
    "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(2)},
}
verbose = sys.argv[1] == "verbose"
hpsearch.run(spec, storage="sqlite:///q.db", verbose=verbose)
hpsearch.compare(dict(spec, study=dict(spec["study"], name="qc")), samplers=("random", "tpe"), seeds=2,
                 storage="sqlite:///q.db", verbose=verbose)
import optuna
print("verbosity", optuna.logging.get_verbosity())
"""


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_the_python_api_keeps_optunas_info_lines_for_verbose(cheap_objectives, tmp_path, mode):
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", QUIET_SCRIPT, mode], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    # one run study, then four arm studies (2 samplers x 2 seeds): Optuna's INFO line for each only when verbose
    assert done.stderr.count("A new study created in RDB") == (0 if mode == "quiet" else 5), done.stderr
    if mode == "quiet":
        assert "[I " not in done.stderr, done.stderr  # no Optuna INFO line of any kind
    assert f"verbosity {20}" in done.stdout  # the caller's own Optuna verbosity (INFO) is restored after
