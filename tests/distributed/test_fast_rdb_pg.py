"""On PostgreSQL too, hpsearch's Core read of trials equals Optuna's ORM read (tests/storage/test_fast_rdb.py)."""

from __future__ import annotations

import math

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.storages import RDBStorage
from optuna.trial import TrialState, create_trial

from hpsearch.storage import open_storage
from hpsearch.storage._fast_rdb import FastRDBStorage


def test_core_read_equals_optunas_on_postgresql(pg_url):
    storage = open_storage(pg_url, heartbeat=False)
    assert isinstance(storage, FastRDBStorage)
    dists = {"x": FloatDistribution(-1.0, 1.0), "c": CategoricalDistribution(["a", None, 3])}
    study = optuna.create_study(study_name="reads", storage=storage)
    for i in range(5):
        study.add_trial(
            create_trial(
                params={"x": i / 10, "c": ["a", None, 3][i % 3]},
                distributions=dists,
                value=float(i) if i != 2 else -math.inf,
                intermediate_values={0: 1.0, 1: math.inf if i == 1 else float(i)},
                user_attrs={"u": {"k": [i]}},
                system_attrs={"s": i},
            )
        )
    study.add_trial(create_trial(params={"x": 0.5}, distributions={"x": dists["x"]}, state=TrialState.FAIL))
    running = study.ask()
    running.suggest_float("x", -1.0, 1.0)
    sid = study._study_id
    ids = [t._trial_id for t in RDBStorage.get_all_trials(storage, sid)]
    for states, included, above in [
        (None, set(), -1),
        ((TrialState.COMPLETE, TrialState.RUNNING), set(), -1),
        (None, {ids[0]}, ids[3]),
    ]:
        found = storage._get_trials(sid, states, included, above)
        expected = RDBStorage._get_trials(storage, sid, states, included, above)
        assert found == expected
        assert [t._trial_id for t in found] == [t._trial_id for t in expected]
        assert [t.system_attrs for t in found] == [t.system_attrs for t in expected]
