"""Several objectives and constraints in the library: the spec's rules, the samplers, the tell, --jobs."""

from __future__ import annotations

import math
import os
import textwrap

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.errors import SpecError, UserError
from hpsearch.records import SLOT_ATTR, best_trial, constraint_values, is_feasible, pareto_front
from hpsearch.search import ObjectiveFailing, run_study, tell_trial
from hpsearch.spec import spec_from_dict
from hpsearch.spec.models import Bound

MODULE = textwrap.dedent('''
    import math

    def two(trial, params):
        """quality x (max), cost (x - 0.2)^2 + y (min): a front along y = 0."""
        x, y = params["x"], params["y"]
        trial.set_user_attr("size", 1000 * x)
        return x, (x - 0.2) ** 2 + y

    def with_constraints(trial, params):
        x, y = params["x"], params["y"]
        return {"values": (x, y), "constraints": {"x_below_0.5": x - 0.5}}

    def single(trial, params):
        trial.set_user_attr("size", 1000 * params["x"])
        return params["x"]

    def wrong_length(trial, params):
        return (params["x"],)

    def sets_constraint(trial, params):
        trial.set_constraint("y_below_0.4", params["y"] - 0.4)  # Optuna's own API, inside the function
        return params["x"], params["y"]
''')
SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "mo_test_objectives.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    return "mo_test_objectives"


def _spec(module, function="two", sampler="random", n_trials=12, constraints=None, **study):
    d = {
        "study": {
            "name": f"{function}-{sampler}",
            "objective": f"{module}:{function}",
            "objectives": ["quality", "cost"],
            "directions": ["maximize", "minimize"],
            "sampler": sampler,
            "n_trials": n_trials,
            **study,
        },
        "space": SPACE,
    }
    if constraints is not None:
        d["constraints"] = constraints
    return spec_from_dict(d)


# --- the spec -------------------------------------------------------------------------------------

MLP = {"data": {"dataset": "iris"}, "space": {"width": {"type": "int", "low": 4, "high": 8}}}


def _mlp(**study):
    return spec_from_dict({"study": {"name": "m", **study}, **MLP})


def test_directions_follow_from_the_metrics_and_the_spec_round_trips():
    spec = _mlp(objectives=["accuracy", "train_seconds", "n_params", "predict_ms_per_1k"], sampler="nsga2")
    assert spec.directions == ["maximize", "minimize", "minimize", "minimize"]
    assert spec.study.metric == "accuracy" and spec.study.direction is None and spec.is_multi_objective
    assert spec_from_dict(spec.to_dict()) == spec
    assert _mlp(objectives=["log_loss", "accuracy"]).study.metric == "log_loss"  # the first quality metric


@pytest.mark.parametrize(
    ("study", "key", "words"),
    [
        ({"objectives": ["accuracy", "speed"]}, "study.objectives[1]", "a classification metric"),
        ({"objectives": ["accuracy", "accuracy"]}, "study.objectives[1]", "distinct metrics"),
        ({"objectives": ["accuracy", "r2"]}, "study.objectives[1]", "a classification metric"),
        ({"objectives": ["train_seconds", "n_params"]}, "study.objectives", "at least one quality metric"),
        ({"objectives": ["accuracy", "train_seconds"], "direction": "maximize"}, "study.direction", "directions"),
        (
            {"objectives": ["accuracy", "train_seconds"], "directions": ["maximize", "maximize"]},
            "study.directions[1]",
            "'minimize'",
        ),
        ({"objectives": ["accuracy", "train_seconds"], "directions": ["maximize"]}, "study.directions", "at least 2"),
        ({"objectives": ["accuracy", "train_seconds"], "pruner": "median"}, "study.pruner", "'none'"),
        ({"objectives": ["accuracy", "train_seconds"], "sampler": "cmaes"}, "study.sampler", "several objectives"),
        ({"objectives": ["accuracy", "train_seconds"], "metric": "f1"}, "study.metric", "one of the objectives"),
        ({"objectives": ["accuracy"]}, "study.objectives", "at least 2"),
    ],
)
def test_a_bad_objectives_spec_is_one_clear_message(study, key, words):
    with pytest.raises(SpecError) as err:
        _mlp(**study)
    assert key in str(err.value) and words in str(err.value)


def test_a_user_objective_needs_directions_its_names_do_not_say():
    base = {"name": "u", "objective": "pkg.mod:fn", "objectives": ["loss", "latency"]}
    with pytest.raises(SpecError, match=r"study\.directions.*no known metric says which way 'loss' goes"):
        spec_from_dict({"study": base, "space": SPACE})
    spec = spec_from_dict({"study": {**base, "directions": ["minimize", "minimize"]}, "space": SPACE})
    assert spec.objective_names == ["loss", "latency"]
    named = spec_from_dict({"study": {**base, "objectives": ["accuracy", "train_seconds"]}, "space": SPACE})
    assert named.directions == ["maximize", "minimize"]  # known names: no directions needed
    unnamed = spec_from_dict({"study": {"name": "v", "directions": ["minimize", "maximize"]}, "space": SPACE})
    assert unnamed.objective_names == ["value_0", "value_1"]


@pytest.mark.parametrize(
    ("constraints", "key", "words"),
    [
        ({"n_params": {}}, "constraints.n_params", "min = x"),
        ({"size": {"max": 3}}, "constraints", "metrics a trial reports"),
        ({"n_params": {"min": 5, "max": 3}}, "constraints.n_params.max", ">= min"),
        ({"n_params": {"maximum": 3}}, "constraints.n_params", "maximum"),
    ],
)
def test_bad_constraints_are_one_clear_message(constraints, key, words):
    with pytest.raises(SpecError) as err:
        spec_from_dict(
            {"study": {"name": "m", "objectives": ["accuracy", "n_params"]}, **MLP, "constraints": constraints}
        )
    assert key in str(err.value) and words in str(err.value)


def test_constraint_values_follow_optunas_sign_convention():
    bounds = {"n": Bound(max=10), "q": Bound(min=0.5, max=0.9)}
    values = constraint_values(bounds, {"n": 12, "q": 0.7})
    assert values == pytest.approx({"n <= 10": 2.0, "q <= 0.9": -0.2, "q >= 0.5": -0.2})
    missing = constraint_values(bounds, {"q": float("nan")})
    assert missing["n <= 10"] == math.inf and missing["q >= 0.5"] == math.inf  # unchecked = infeasible


# --- running ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["random", "grid", "tpe", "tpe-univariate", "nsga2", "nsga3", "qmc"])
def test_every_multi_objective_sampler_runs_and_no_infeasible_trial_is_on_the_front(module, storage_url, sampler):
    spec = _spec(module, sampler=sampler, n_trials=16, constraints={"size": {"max": 600}})
    study = run_study(spec, storage_url)
    trials = study.trials
    assert len(trials) == 16 and all(t.state == TrialState.COMPLETE and len(t.values) == 2 for t in trials)
    assert study.metric_names == ["quality", "cost"]
    for t in trials:
        assert t.constraints == pytest.approx({"size <= 600": 1000 * t.params["x"] - 600})
    front = pareto_front(trials, study.directions)
    assert front and all(t.params["x"] <= 0.6 for t in front)
    # brute force over the feasible trials: the front is exactly the non-dominated ones
    feasible = [t for t in trials if t.params["x"] <= 0.6]

    def dominated(t):
        return any(o.values[0] >= t.values[0] and o.values[1] <= t.values[1] and o.values != t.values for o in feasible)

    assert {t.number for t in front} == {t.number for t in feasible if not dominated(t)}


def test_tpe_prefers_feasible_trials(module, storage_url):
    """TPE reads the stored constraints: after its start-up trials, most proposals are feasible,
    though quality pulls x up and only x <= 0.3 is feasible (30 % of a uniform draw)."""
    spec = _spec(module, sampler="tpe", n_trials=40, constraints={"size": {"max": 300}}, seed=3)
    trials = run_study(spec, storage_url).trials
    late = trials[20:]
    assert sum(is_feasible(t) for t in late) / len(late) >= 0.6


def test_a_user_function_may_return_its_own_constraints(module, storage_url):
    spec = _spec(module, function="with_constraints", n_trials=10)
    trials = run_study(spec, storage_url).trials
    assert all(t.constraints == pytest.approx({"x_below_0.5": t.params["x"] - 0.5}) for t in trials)
    assert all(t.params["x"] <= 0.5 for t in pareto_front(trials, ["maximize", "minimize"]))


def test_a_user_function_may_call_optunas_set_constraint(module, storage_url):
    trials = run_study(_spec(module, function="sets_constraint", n_trials=10), storage_url).trials
    assert all(t.constraints == pytest.approx({"y_below_0.4": t.params["y"] - 0.4}) for t in trials)
    front = pareto_front(trials, ["maximize", "minimize"])
    assert front and all(t.params["y"] <= 0.4 for t in front)


@pytest.mark.parametrize("objective", ["command", "external"])
def test_a_program_or_client_can_only_bound_its_own_objectives(objective):
    study = {"name": "c", "objective": objective, "objectives": ["loss", "ms"], "directions": ["minimize"] * 2}
    extra = {"command": {"run": "python train.py --x {x}"}} if objective == "command" else {}
    with pytest.raises(SpecError, match=r"constraints: expected one of the objectives \(loss, ms\)"):
        spec_from_dict({"study": study, "space": SPACE, "constraints": {"memory": {"max": 3}}, **extra})
    ok = spec_from_dict({"study": study, "space": SPACE, "constraints": {"ms": {"max": 3}}, **extra})
    assert ok.constraints is not None and ok.constraints["ms"].max == 3


def test_a_single_objective_constrained_study_never_picks_an_infeasible_best(module, storage_url):
    spec = spec_from_dict(
        {
            "study": {"name": "one", "objective": f"{module}:single", "direction": "maximize", "n_trials": 12},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
            "constraints": {"size": {"max": 500}},
        }
    )
    study = run_study(spec, storage_url)
    best = best_trial(study.trials, study.directions)
    feasible = [t for t in study.trials if t.params["x"] <= 0.5]
    assert best is not None and best.number == max(feasible, key=lambda t: t.value).number
    assert any(t.params["x"] > 0.5 for t in study.trials)  # there was an infeasible trial with a higher value
    from hpsearch.storage import storage_of, study_id_of, study_overview  # the SQL path agrees

    overview = study_overview(storage_of(study), study_id_of(study), "one")
    assert overview.best is not None and overview.best.number == best.number
    from hpsearch.export import trial_rows

    columns, rows = trial_rows(storage_of(study), "one")  # kept and shown: feasible and the bound's value
    assert columns[:6] == ["number", "state", "value", "seconds", "feasible", "constraint: size <= 500"]
    assert [r[4] for r in rows] == [t.params["x"] <= 0.5 for t in study.trials]


def test_a_wrong_number_of_values_fails_that_trial_with_a_clear_error(module, storage_url):
    spec = _spec(module, function="wrong_length", n_trials=2)
    with pytest.raises(ObjectiveFailing, match="expected 2 numbers"):  # every trial fails alike: stop, say why
        run_study(spec, storage_url, max_failures=2)
    errors = [
        t.user_attrs.get("error", "") for t in optuna.load_study(study_name=spec.study.name, storage=storage_url).trials
    ]
    assert errors and all("expected 2 numbers" in e for e in errors)


def test_jobs_2_runs_exactly_n_trials_each_with_every_value(module, storage_url):
    spec = _spec(module, sampler="tpe", n_trials=10)
    study = run_study(spec, storage_url, jobs=2)
    trials = study.trials
    assert len(trials) == 10 and all(t.state == TrialState.COMPLETE for t in trials)
    assert all(t.values == pytest.approx([t.params["x"], (t.params["x"] - 0.2) ** 2 + t.params["y"]]) for t in trials)
    assert sorted(t.system_attrs[SLOT_ATTR] for t in trials) == list(range(10))


def test_tell_checks_the_number_of_values(module, storage_url):
    from hpsearch.search import ask_trial, new_study
    from hpsearch.storage import open_storage

    spec = _spec(module, n_trials=3)
    study = new_study(open_storage(storage_url), spec)
    trial, _ = ask_trial(study, spec)
    with pytest.raises(UserError, match="expected 2 numbers"):
        tell_trial(study, trial.number, value=0.5)
    with pytest.raises(UserError, match="expected 2 numbers"):
        tell_trial(study, trial.number, value=[0.5, 0.1, 0.2])
    done = tell_trial(study, trial.number, value=[0.5, math.nan])
    assert done.state == TrialState.FAIL and done.user_attrs["diverged"] is True


def test_the_mlp_reports_each_objective_by_name(storage_url):
    spec = spec_from_dict(
        {
            "study": {"name": "m4", "objectives": ["f1", "accuracy", "n_params", "predict_ms_per_1k"], "n_trials": 2},
            "data": {"dataset": "iris"},
            "training": {"max_epochs": 2},
            "space": {"width": {"type": "int", "low": 4, "high": 8}},
        }
    )
    assert spec.study.metric == "f1"  # the first quality metric: what early stopping watches
    study = run_study(spec, storage_url)
    assert study.metric_names == ["f1", "accuracy", "n_params", "predict_ms_per_1k"]
    for t in study.trials:
        f1, accuracy, n_params, predict_ms = t.values
        width = t.params["width"]
        assert n_params == t.user_attrs["n_parameters"] == 4 * width + width + width * 3 + 3
        assert predict_ms == t.user_attrs["predict_ms_per_1k"] > 0
        assert 0 <= f1 <= 1 and 0 <= accuracy <= 1
        assert t.user_attrs["learning_curve"][-1] == pytest.approx(f1)  # early stopping's metric is f1
