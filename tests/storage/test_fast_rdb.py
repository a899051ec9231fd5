"""hpsearch's Core read of trials gives exactly the FrozenTrials of Optuna's ORM read, for every filter."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import RDBStorage
from optuna.trial import TrialState, create_trial

from hpsearch.storage import open_storage
from hpsearch.storage._fast_rdb import FastRDBStorage, trials_where

D = {
    "x": FloatDistribution(-1.0, 1.0),
    "n": IntDistribution(1, 64, log=True),
    "c": CategoricalDistribution(["a", None, 3]),
}


def fill(storage: optuna.storages.BaseStorage, name: str, *, directions=("minimize",)) -> optuna.Study:
    """A study with a trial of every kind: values (inf too), intermediate values, attrs, every state."""
    study = optuna.create_study(study_name=name, storage=storage, directions=list(directions))
    k = len(directions)
    for i in range(7):
        study.add_trial(
            create_trial(
                params={"x": i / 10, "n": 2**i, "c": ["a", None, 3][i % 3]},
                distributions=D,
                values=[float(i) if i != 3 else math.inf] * k,
                intermediate_values={} if k > 1 else {0: 1.0, 2: -math.inf, 1: float(i)},
                user_attrs={"u": i, "nested": {"a": [1, 2]}},
                system_attrs={"s": f"v{i}"},
            )
        )
    study.add_trial(create_trial(params={"x": 0.5}, distributions={"x": D["x"]}, state=TrialState.FAIL))
    if k == 1:
        study.add_trial(create_trial(params={"x": 0.1}, distributions={"x": D["x"]}, state=TrialState.PRUNED))
    running = study.ask()
    running.suggest_float("x", -1.0, 1.0)
    running.set_user_attr("r", True)
    study.enqueue_trial({"x": 0.25})  # WAITING
    return study


def _same(found, expected):
    assert len(found) == len(expected)
    for a, b in zip(found, expected, strict=True):
        assert a == b  # FrozenTrial's own equality: every field
        assert (a._trial_id, a.params, a.distributions, a.system_attrs) == (
            b._trial_id,
            b.params,
            b.distributions,
            b.system_attrs,
        )
        assert list(a.params) == list(b.params)  # the order a sampler iterates them in


@pytest.mark.parametrize("directions", [("minimize",), ("minimize", "maximize")])
def test_every_filter_reads_what_optunas_orm_reads(storage_url, directions):
    storage = open_storage(storage_url, heartbeat=False)
    assert isinstance(storage, FastRDBStorage)
    study = fill(storage, "s", directions=directions)
    fill(storage, "other")  # another study's trials are never read
    sid = study._study_id
    ids = [t._trial_id for t in storage.get_all_trials(sid)]
    filters = [
        (None, set(), -1),
        ((TrialState.COMPLETE,), set(), -1),
        ((TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING), set(), -1),
        (None, set(), ids[4]),
        (None, {ids[1], ids[2]}, ids[4]),
        ((TrialState.RUNNING, TrialState.WAITING), {ids[0], ids[-1]}, ids[5]),
        (None, {ids[-1] + 100}, ids[-1]),  # nothing newer
    ]
    for states, included, above in filters:
        expected = RDBStorage._get_trials(storage, sid, states, included, above)  # Optuna's own read
        _same(storage._get_trials(sid, states, included, above), expected)
        _same(
            trials_where(storage.engine, sid, states=states, included_trial_ids=included, trial_id_greater_than=above),
            expected,
        )
    assert storage.get_all_trials(sid) == RDBStorage.get_all_trials(storage, sid)
    with pytest.raises(KeyError):
        trials_where(storage.engine, sid + 100)


def test_the_cache_layer_sees_the_same_trials_as_with_optunas_read(storage_url):
    """A Study's cache layer (which reads only what changed) holds the trials Optuna's read holds."""
    storage = open_storage(storage_url, heartbeat=False)
    study = fill(storage, "s")
    cached = optuna.load_study(study_name="s", storage=storage)
    before = cached._storage.get_all_trials(cached._study_id, deepcopy=False)
    for _ in range(2):  # the enqueued (waiting) trial, then a new one
        trial = study.ask()
        trial.suggest_float("x", -1.0, 1.0)
        study.tell(trial, 0.5)
    after = cached._storage.get_all_trials(cached._study_id, deepcopy=False)
    assert len(after) == len(before) + 1
    assert [t.state for t in after[-2:]] == [TrialState.COMPLETE] * 2
    _same(after, RDBStorage._get_trials(storage, cached._study_id, None, set(), -1))


def test_system_attrs_are_written_and_refused_as_optuna_does(storage_url):
    storage = open_storage(storage_url, heartbeat=False)
    study = optuna.create_study(study_name="s", storage=storage)
    mine, optunas = study.ask(), study.ask()
    for key, value in (("a", 1), ("b", {"x": [1.5, None]}), ("a", "again"), ("long", "y" * 3000)):
        storage.set_trial_system_attr(mine._trial_id, key, value)
        RDBStorage.set_trial_system_attr(storage, optunas._trial_id, key, value)
    got = RDBStorage.get_trial(storage, mine._trial_id).system_attrs
    assert got == RDBStorage.get_trial(storage, optunas._trial_id).system_attrs
    assert got == {"a": "again", "b": {"x": [1.5, None]}, "long": "y" * 3000}
    study.tell(mine, 1.0)
    for write in (storage.set_trial_system_attr, lambda *a: RDBStorage.set_trial_system_attr(storage, *a)):
        with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
            write(mine._trial_id, "c", 1)
        with pytest.raises(KeyError):
            write(optunas._trial_id + 100, "c", 1)
    assert "c" not in RDBStorage.get_trial(storage, mine._trial_id).system_attrs
