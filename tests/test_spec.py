"""Study specs: a table of malformed specs, each naming its key path; round trips; derived values."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest

from hpsearch.errors import SpecError, UserError
from hpsearch.spec import load_spec, spec_from_dict, spec_json_schema

STUDIES = Path(__file__).resolve().parents[1] / "studies"

BASE = {
    "study": {"name": "t", "objective": "mlp", "metric": "accuracy", "sampler": "tpe", "n_trials": 10, "seed": 0},
    "data": {"dataset": "digits", "val_fraction": 0.2, "test_fraction": 0.2},
    "training": {"max_epochs": 5, "activation": "relu"},
    "space": {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "depth": {"type": "int", "low": 1, "high": 3},
        "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
    },
}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def to_toml(d: dict) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for section, table in d.items():
        if not isinstance(table, dict):
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def edit(**changes):
    """A copy of BASE with dotted-path changes; value None deletes the key."""
    d = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = d
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return d


# (id, spec dict, key path in the message, words that must appear)
MALFORMED = [
    ("unknown top-level key", edit(trainig={"max_epochs": 3}), "trainig", ["did you mean 'training'"]),
    ("unknown study key", edit(study__samplr="tpe"), "study.samplr", ["did you mean 'sampler'"]),
    ("unknown data key", edit(data__datset="digits"), "data.datset", ["did you mean 'dataset'"]),
    ("unknown training key", edit(training__max_epoch=3), "training.max_epoch", ["did you mean 'max_epochs'"]),
    (
        "unknown space name",
        edit(space__lerning_rate={"type": "float", "low": 0.1, "high": 1.0}),
        "space.lerning_rate",
        ["did you mean 'learning_rate'"],
    ),
    (
        "unknown param key",
        edit(space__depth={"type": "int", "low": 1, "hihg": 3}),
        "space.depth.hihg",
        ["did you mean 'high'"],
    ),
    ("bad sampler", edit(study__sampler="bayes"), "study.sampler", ["'grid'", "'tpe'", '"bayes"']),
    ("bad pruner", edit(study__pruner="asha"), "study.pruner", ["'median'", '"asha"']),
    ("bad metric", edit(study__metric="precision"), "study.metric", ["accuracy", '"precision"']),
    ("regression metric on classification", edit(study__metric="r2"), "study.metric", ["classification", '"r2"']),
    ("classification metric on regression", edit(data__dataset="diabetes"), "study.metric", ["regression"]),
    ("roc_auc on 10 classes", edit(study__metric="roc_auc"), "study.metric", ["10 classes"]),
    ("contradicting direction", edit(study__direction="minimize"), "study.direction", ["'maximize'"]),
    ("bad dataset", edit(data__dataset="mnist"), "data.dataset", ["digits", '"mnist"']),
    ("n_trials as string", edit(study__n_trials="10"), "study.n_trials", ["an integer", '"10"']),
    ("n_trials zero", edit(study__n_trials=0), "study.n_trials", [">= 1"]),
    (
        "float where int",
        edit(space__depth={"type": "int", "low": 1.5, "high": 3}),
        "space.depth.low",
        ["an integer", "1.5"],
    ),
    (
        "low >= high",
        edit(space__learning_rate={"type": "float", "low": 0.1, "high": 0.01}),
        "space.learning_rate.high",
        ["> low"],
    ),
    (
        "log with low <= 0",
        edit(space__learning_rate={"type": "float", "low": 0.0, "high": 0.1, "log": True}),
        "space.learning_rate.low",
        ["> 0", "log"],
    ),
    (
        "grid value out of range",
        edit(space__learning_rate={"type": "float", "low": 1e-4, "high": 1e-1, "log": True, "grid": [1e-3, 0.5]}),
        "space.learning_rate.grid[1]",
        ["0.5"],
    ),
    (
        "grid not among choices",
        edit(space__optimizer={"type": "categorical", "choices": ["sgd"], "grid": ["adam"]}),
        "space.optimizer.grid[0]",
        ["choices"],
    ),
    ("missing type", edit(space__depth={"low": 1, "high": 3}), "space.depth", ["'type'"]),
    ("bad type", edit(space__depth={"type": "integer", "low": 1, "high": 3}), "space.depth.type", ['"integer"']),
    ("searched and fixed", edit(training__learning_rate=0.01), "training.learning_rate", ["space.learning_rate"]),
    ("fixed value out of domain", edit(training__dropout=1.5), "training.dropout", ["< 1", "1.5"]),
    ("fixed value wrong type", edit(training__batch_norm="yes"), "training.batch_norm", ["true or false"]),
    (
        "unknown choice",
        edit(space__init={"type": "categorical", "choices": ["he", "lecun"]}),
        "space.init.choices[1]",
        ['"lecun"', "'glorot'"],
    ),
    (
        "int hyperparameter as float",
        edit(space__width={"type": "float", "low": 8, "high": 64}),
        "space.width.type",
        ["'int'"],
    ),
    (
        "dropout range reaching 1",
        edit(space__dropout={"type": "float", "low": 0.0, "high": 1.0}),
        "space.dropout.high",
        ["< 1"],
    ),
    ("csv without path", edit(data__dataset="csv", data__target="y"), "data.path", ["required"]),
    ("option not for dataset", edit(data__noise=0.3), "data.noise", ["digits"]),
    (
        "fractions too large",
        edit(data__val_fraction=0.5, data__test_fraction=0.5),
        "data.test_fraction",
        ["val_fraction + test_fraction"],
    ),
    ("empty name", edit(study__name=""), "study.name", ["non-empty"]),
    ("missing dataset", edit(data__dataset=None), "data.dataset", ["required"]),
    ("data not a table", edit(data=3), "data", ["a table"]),
    ("empty space", edit(space={}), "space", ["at least one"]),
    ("bad objective", edit(study__objective="my objective"), "study.objective", ["package.module:function"]),
    (
        "log with step",
        edit(space__learning_rate={"type": "float", "low": 1e-4, "high": 1e-1, "log": True, "step": 1e-4}),
        "space.learning_rate.step",
        ["log"],
    ),
    (
        "duplicate choices",
        edit(space__optimizer={"type": "categorical", "choices": ["sgd", "sgd"]}),
        "space.optimizer.choices[1]",
        ["distinct"],
    ),
    (
        "external without direction",
        {"study": {"name": "e", "objective": "external"}, "space": BASE["space"]},
        "study.direction",
        ["'maximize'"],
    ),
]


@pytest.mark.parametrize("case, d, path, words", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_spec_names_file_key_and_expectation(tmp_path, case, d, path, words):
    spec_file = tmp_path / "bad.toml"
    spec_file.write_text(to_toml(d))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{spec_file}: {path}: expected "), message
    for word in words:
        assert word in message, message


def test_same_errors_from_dict_with_source():
    with pytest.raises(SpecError, match=r"^<api>: study\.samplr: expected .*did you mean 'sampler'"):
        spec_from_dict(edit(study__samplr="tpe"))


def test_toml_syntax_error_names_line(tmp_path):
    spec_file = tmp_path / "broken.toml"
    spec_file.write_text('[study]\nname = "x"\nn_trials = = 3\n')
    with pytest.raises(SpecError, match=rf"^{re.escape(str(spec_file))}: line 3, column \d+: expected valid TOML"):
        load_spec(spec_file)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.toml")


def test_csv_path_must_exist_relative_to_spec(tmp_path):
    d = edit(data__dataset="csv", data__path="data/missing.csv", data__target="y")
    (tmp_path / "s.toml").write_text(to_toml(d))
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "s.toml")
    assert "data.path: expected an existing file" in str(info.value)
    assert str(tmp_path / "data" / "missing.csv") in str(info.value)


def test_csv_path_resolved_relative_to_spec_file(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(12)))
    d = edit(data__dataset="csv", data__path="data/x.csv", data__target="y")
    (tmp_path / "s.toml").write_text(to_toml(d))
    monkeypatch.chdir("/")
    spec = load_spec(tmp_path / "s.toml")
    assert spec.data.path == str(tmp_path / "data" / "x.csv")
    assert spec.data.task == "classification"


def test_round_trip_to_dict_from_dict():
    spec = spec_from_dict(
        edit(space__optimizer={"type": "categorical", "choices": ["sgd", "adam"], "grid": ["adam"]}, data__seed=3)
    )
    again = spec_from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.to_dict() == spec.to_dict()


def test_derived_values_and_defaults(tmp_path):
    d = edit(study__metric=None, study__name=None, data__dataset="diabetes")
    (tmp_path / "reg.toml").write_text(to_toml(d))
    spec = load_spec(tmp_path / "reg.toml")
    assert spec.study.name == "reg"  # defaults to the file stem
    assert spec.study.metric == "r2" and spec.study.direction == "maximize"
    assert spec.data.task == "regression"
    rmse = spec_from_dict(edit(study__metric="rmse", data__dataset="diabetes"))
    assert rmse.study.direction == "minimize"
    assert rmse.split_seed == 0
    assert spec_from_dict(edit(data__seed=7)).split_seed == 7


def test_api_spec_needs_only_study_with_direction_and_space():
    spec = spec_from_dict(
        {"study": {"name": "ext", "direction": "minimize"}, "space": {"x": {"type": "float", "low": -1, "high": 1}}}
    )
    assert spec.study.objective == "external"
    assert spec.study.direction == "minimize"
    assert spec.data is None
    # any names are fine for external objectives, but ranges are still checked
    with pytest.raises(SpecError, match=r"space\.x\.high"):
        spec_from_dict(
            {"study": {"name": "e", "direction": "minimize"}, "space": {"x": {"type": "float", "low": 1, "high": 1}}}
        )


def test_user_objective_direction_from_known_metric_or_required():
    spec = spec_from_dict(
        {
            "study": {"name": "u", "objective": "mypkg.mod:fn", "metric": "rmse"},
            "space": {"alpha": {"type": "float", "low": 0, "high": 1}},
            "training": {"anything": 3},
        }
    )
    assert spec.study.direction == "minimize"
    with pytest.raises(SpecError, match=r"study\.direction"):
        spec_from_dict(
            {
                "study": {"name": "u", "objective": "mypkg.mod:fn", "metric": "my_score"},
                "space": {"alpha": {"type": "float", "low": 0, "high": 1}},
            }
        )


def test_text_objective_defaults_to_text_dataset():
    spec = spec_from_dict(
        {"study": {"name": "t", "objective": "text"}, "space": {"ngram": {"type": "int", "low": 1, "high": 2}}}
    )
    assert spec.data.dataset == "text" and spec.study.metric == "accuracy"
    with pytest.raises(SpecError, match=r"data\.dataset"):
        spec_from_dict(
            {
                "study": {"name": "t"},
                "data": {"dataset": "text"},
                "space": {"depth": {"type": "int", "low": 0, "high": 2}},
            }
        )


def test_json_schema_describes_sections():
    schema = spec_json_schema()
    assert set(schema["properties"]) == {"study", "data", "training", "space", "command", "constraints"}
    assert "learning_rate" in schema["properties"]["space"]["description"]
    assert "never best" in schema["properties"]["constraints"]["description"]
    study = schema["$defs"]["StudySection"]["properties"]
    assert "objectives" in study and "directions" in study
    assert schema["properties"]["study"]["$ref"].endswith("StudySection")
    json.dumps(schema)


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.toml")), ids=lambda p: p.name)
def test_every_bundled_study_loads(path):
    spec = load_spec(path)
    assert spec.study.name == path.stem
    assert spec.directions and set(spec.directions) <= {"maximize", "minimize"}
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict())), source=str(path)) == spec


def test_load_spec_finds_data_and_code_problems_before_anything_runs(tmp_path):
    lines = ["a,b,y"] + [f"{i},{i},{i % 2}" for i in range(12)]
    lines[5] = "1,2"
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    csv_spec = edit(data__dataset="csv", data__path="d.csv", data__target="y")
    (tmp_path / "c.toml").write_text(to_toml(csv_spec))
    with pytest.raises(UserError, match=rf"^{re.escape(str(tmp_path / 'd.csv'))}:6: expected 3 comma-separated"):
        load_spec(tmp_path / "c.toml")
    assert load_spec(tmp_path / "c.toml", preflight=False).data.dataset == "csv"
    user = {
        "study": {"name": "u", "objective": "no_such_pkg_hps.mod:fn", "direction": "maximize"},
        "space": {"x": {"type": "float", "low": 0, "high": 1}},
    }
    (tmp_path / "u.toml").write_text(to_toml(user))
    with pytest.raises(SpecError, match=rf"^{re.escape(str(tmp_path / 'u.toml'))}: study\.objective: expected"):
        load_spec(tmp_path / "u.toml")


def test_toml_error_at_end_of_file(tmp_path):
    (tmp_path / "eof.toml").write_text('[study]\nname = "x"\nspace = [1,\n')
    with pytest.raises(SpecError, match=r"eof\.toml: end of file: expected valid TOML"):
        load_spec(tmp_path / "eof.toml")


def test_catalog_choices_match_what_the_network_accepts():
    """The spec repeats hpsearch.nn's names (to stay a light import); they must not drift apart."""
    import numpy as np

    from hpsearch import nn
    from hpsearch.nn._validation import check_dtype
    from hpsearch.spec import catalog

    hyper = catalog.MLP_HYPERPARAMETERS
    assert hyper["activation"].choices == tuple(nn.ACTIVATIONS)
    assert hyper["optimizer"].choices == nn.OPTIMIZERS
    assert hyper["init"].choices == nn.INITS
    assert hyper["schedule"].choices == nn.SCHEDULES
    assert {np.dtype(check_dtype(d)) for d in hyper["dtype"].choices} == {np.dtype(np.float32), np.dtype(np.float64)}


@pytest.mark.parametrize(
    "name",
    [
        "learning_rate",
        "momentum",
        "dropout",
        "weight_decay",
        "l1",
        "clip_norm",
        "time_budget",
        "batch_size",
        "max_epochs",
        "patience",
    ],
)
def test_catalog_limits_match_what_the_network_accepts(name):
    """One set of limits: the spec accepts a training setting exactly when hpsearch.nn does
    (plus 0 where the spec documents "0 = off"); learning rates have no upper cap in either."""
    from hpsearch.nn._validation import check_param
    from hpsearch.spec import catalog

    setting = catalog.MLP_HYPERPARAMETERS[name]
    off_at_zero = "0 = " in setting.doc
    probes = (
        [-1, 0, 1, 2, 8, 10, 1e4]
        if setting.kind == "int"
        else [-1.0, 0.0, 1e-9, 0.5, 0.999, 1.0, 10.0, 1e4, math.inf, -math.inf, math.nan]
    )
    for v in probes:
        try:
            check_param(name, v)
            nn_accepts = True
        except ValueError:
            nn_accepts = False
        expected = nn_accepts or (off_at_zero and v == 0)
        assert setting.accepts(v) == expected, (name, v)


@pytest.mark.parametrize(
    ("param", "field"),
    [
        ({"type": "float", "low": 1.0, "high": 0.5}, "high"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "low"),
        ({"type": "int", "low": 1, "high": 8, "step": 9}, "step"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True, "step": 0.1}, "low"),
        ({"type": "int", "low": 1, "high": 8, "step": 2, "grid": [1, 4]}, "grid"),
        ({"type": "categorical", "choices": ["a", "b", "a"]}, "choices"),
        ({"type": "categorical", "choices": ["a", "b"], "grid": ["c"]}, "grid"),
    ],
)
def test_one_parameters_ranges_are_the_models_own(param, field):
    """Checks within one parameter are pydantic validators on its model, whatever the objective."""
    from pydantic import ValidationError

    from hpsearch.spec.models import PARAM_TYPES

    with pytest.raises(ValidationError) as info:
        PARAM_TYPES[param["type"]].model_validate(param)
    assert info.value.errors()[0]["loc"] == (field,)
