"""The Python API's study control: hpsearch.enqueue, hpsearch.stop and hpsearch.copy_study."""

from __future__ import annotations

import optuna
import pytest

import hpsearch
from hpsearch.search import stop_requested
from hpsearch.storage import open_storage

SPEC = {
    "study": {"name": "tiny", "metric": "accuracy", "sampler": "random", "n_trials": 3, "seed": 1},
    "data": {"dataset": "iris"},
    "training": {"max_epochs": 2, "batch_size": 32},
    "space": {
        "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
        "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"optimizer": ["sgd"]}},
    },
}


def test_enqueue_stop_and_copy_from_python(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    hpsearch.run(SPEC, storage=url, n_trials=1)
    wanted = {"learning_rate": 0.02, "optimizer": "sgd", "momentum": 0.9}
    done = hpsearch.enqueue("tiny", [wanted], storage=url)
    assert done.positions == [1]
    with pytest.raises(hpsearch.UserError, match="configuration 1: missing parameter 'momentum'"):
        hpsearch.enqueue("tiny", [{"learning_rate": 0.02, "optimizer": "sgd"}], storage=url)
    hpsearch.stop("tiny", storage=url)
    st = open_storage(url)
    assert stop_requested(st, st.get_study_id_from_name("tiny"))
    study = hpsearch.run(SPEC, storage=url)  # clears the stop; the spec's 3 raise the budget of 1
    assert not stop_requested(st, st.get_study_id_from_name("tiny"))
    by_slot = {t.system_attrs["hpsearch_slot"]: t for t in study.trials}
    assert sorted(by_slot) == [0, 1, 2] and by_slot[1].params == wanted
    assert hpsearch.copy_study("tiny", "tiny2", storage=url) == 3
    copied = optuna.load_study(study_name="tiny2", storage=url).trials
    assert [(t.params, t.values) for t in copied] == [(t.params, t.values) for t in study.trials]
    with pytest.raises(hpsearch.UserError, match="study 'tiny2' already exists"):
        hpsearch.copy_study("tiny", "tiny2", storage=url)
