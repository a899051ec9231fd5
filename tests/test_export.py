"""hpsearch.export: every trial as CSV / JSON rows, exact numbers, any Optuna study."""

from __future__ import annotations

import csv
import io
import json
import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from hpsearch.errors import StudyNotFound
from hpsearch.export import (
    best_record,
    csv_data_uri,
    export_text,
    rows_of,
    to_csv,
    to_json,
    trial_records,
    trial_rows,
)

LR = FloatDistribution(1e-5, 1.0, log=True)
WIDTH = IntDistribution(4, 512)
OPT = CategoricalDistribution(["sgd", "adam", 'a,b "q"'])
LR_VALUE = 0.00012345678901234567  # more digits than any short format keeps


def _add(study, state, *, value=None, params, attrs=None):
    dists = {"learning_rate": LR, "width": WIDTH, "optimizer": OPT}
    study.add_trial(
        create_trial(
            state=state, value=value, params=params, distributions={k: dists[k] for k in params}, user_attrs=attrs or {}
        )
    )


@pytest.fixture
def storage():
    """A study with every kind of trial; trial 1 uses a parameter the others do not."""
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="mixed", storage=storage, direction="maximize")
    _add(
        study,
        TrialState.COMPLETE,
        value=0.9312345678901234,
        params={"learning_rate": LR_VALUE, "width": 64},
        attrs={"train_seconds": 1.25},
    )
    _add(study, TrialState.PRUNED, params={"learning_rate": 0.5, "optimizer": 'a,b "q"'}, attrs={"train_seconds": 0.5})
    _add(study, TrialState.FAIL, params={"learning_rate": 0.9, "width": 8}, attrs={"diverged": True})
    _add(study, TrialState.FAIL, params={"learning_rate": 0.01, "width": 9}, attrs={"error": "ValueError: x"})
    _add(study, TrialState.FAIL, params={"learning_rate": 0.02, "width": 10})
    _add(
        study, TrialState.COMPLETE, value=0.5, params={"learning_rate": 1e-5, "width": 4}, attrs={"train_seconds": 3.0}
    )
    study.enqueue_trial({"learning_rate": 0.1, "width": 5})  # WAITING
    return storage


def test_columns_and_rows_one_per_trial(storage):
    columns, rows = trial_rows(storage, "mixed")
    assert columns == ["number", "state", "value", "seconds", "learning_rate", "width", "optimizer", "error"]
    assert [r[:2] for r in rows] == [
        [0, "complete"],
        [1, "pruned"],
        [2, "diverged"],
        [3, "failed"],
        [4, "crashed"],
        [5, "complete"],
        [6, "waiting"],
    ]
    assert rows[0] == [0, "complete", 0.9312345678901234, 1.25, LR_VALUE, 64, None, None]
    assert rows[1][2:] == [None, 0.5, 0.5, None, 'a,b "q"', None]
    assert [r[-1] for r in rows] == [None, None, None, "ValueError: x", None, None, None]  # failed trials' errors
    assert rows[6][2:4] == [None, None]  # not started: no value, no time
    assert all(isinstance(r[3], float) and r[3] >= 0 for r in rows[2:5])  # wall clock when no train_seconds


def test_csv_round_trips_every_digit(storage):
    text = export_text(storage, "mixed", "csv")
    got = list(csv.DictReader(io.StringIO(text)))
    assert len(got) == 7
    assert float(got[0]["learning_rate"]) == LR_VALUE and float(got[0]["value"]) == 0.9312345678901234
    assert got[1]["optimizer"] == 'a,b "q"' and got[1]["value"] == "" and got[1]["width"] == ""
    assert int(got[5]["width"]) == 4 and float(got[5]["learning_rate"]) == 1e-5
    assert [g["state"] for g in got] == ["complete", "pruned", "diverged", "failed", "crashed", "complete", "waiting"]


def test_json_is_a_list_of_records_with_params(storage):
    records = json.loads(export_text(storage, "mixed", "json"))
    assert records == trial_records(storage, "mixed")
    assert list(records[0]) == ["number", "state", "value", "seconds", "params", "error"]
    assert records[3]["error"] == "ValueError: x"
    assert records[0]["params"] == {"learning_rate": LR_VALUE, "width": 64}
    assert records[1] == {
        "number": 1,
        "state": "pruned",
        "value": None,
        "seconds": 0.5,
        "params": {"learning_rate": 0.5, "optimizer": 'a,b "q"'},
        "error": None,
    }


def test_best_record(storage):
    assert best_record(storage, "mixed") == {
        "study": "mixed",
        "direction": "maximize",
        "number": 0,
        "state": "complete",
        "value": 0.9312345678901234,
        "seconds": 1.25,
        "params": {"learning_rate": LR_VALUE, "width": 64},
    }


def test_unknown_study_names_close_matches(storage):
    with pytest.raises(StudyNotFound, match="no study named 'mixd'; did you mean 'mixed'"):
        trial_rows(storage, "mixd")


def test_spec_order_first_and_clashing_names_prefixed():
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="s", storage=storage)
    study.set_user_attr("hpsearch_spec", {"space": {"width": {}, "learning_rate": {}, "unused": {}}})
    d = FloatDistribution(0, 1)
    study.add_trial(
        create_trial(
            value=1.0,
            params={"value": 0.5, "learning_rate": 0.1, "width": 0.2},
            distributions={"value": d, "learning_rate": d, "width": d},
        )
    )
    columns, rows = trial_rows(storage, "s")
    assert columns == ["number", "state", "value", "seconds", "width", "learning_rate", "params_value", "error"]
    assert rows[0][2] == 1.0 and rows[0][-2] == 0.5 and rows[0][-1] is None
    assert trial_records(storage, "s")[0]["params"]["value"] == 0.5


def test_multi_objective_has_one_value_column_per_objective():
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="mo", storage=storage, directions=["maximize", "minimize"])
    study.add_trial(create_trial(values=[0.25, 3.0], params={"a": 0.5}, distributions={"a": FloatDistribution(0, 1)}))
    columns, rows = trial_rows(storage, "mo")
    assert columns == ["number", "state", "value_0", "value_1", "seconds", "a", "error"]
    assert rows[0][2:4] == [0.25, 3.0]
    assert trial_records(storage, "mo")[0]["values"] == [0.25, 3.0]


def test_non_finite_numbers():
    assert to_csv(["x"], [[math.inf], [math.nan], [None]]).splitlines() == ["x", "inf", "nan", '""']
    assert json.loads(to_json([{"value": math.inf, "params": {"a": math.nan}}])) == [
        {"value": None, "params": {"a": None}}
    ]


def test_data_uri_decodes_to_the_csv(storage):
    from urllib.parse import unquote

    columns, rows = trial_rows(storage, "mixed")
    uri = csv_data_uri(columns, rows)
    head, body = uri.split(",", 1)
    assert head == "data:text/csv;charset=utf-8"
    assert unquote(body) == to_csv(columns, rows)
    assert all(c not in body for c in '"<>& \n')


def test_rows_of_trials_already_read_equal_the_storage_rows(storage):
    study = optuna.load_study(study_name="mixed", storage=storage)
    assert rows_of(study.get_trials(), attrs=study.user_attrs) == trial_rows(storage, "mixed")
