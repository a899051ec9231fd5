"""Enqueued configurations with every sampler the issue names, conditional parameters and two workers."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.errors import UserError
from hpsearch.search import enqueue, new_study, run_study
from hpsearch.storage import open_storage, queued

# x exists only when a is "p" (a `when` condition)
SPACE = {
    "a": {"type": "categorical", "choices": ["p", "q", "r"]},
    "b": {"type": "int", "low": 1, "high": 3},
    "x": {"type": "float", "low": 0.0, "high": 1.0, "when": {"a": ["p"]}},
}
QUEUE = [{"a": "q", "b": 2}, {"a": "p", "b": 3, "x": 0.123}, {"a": "r", "b": 1}]


@pytest.mark.parametrize("sampler", ["grid", "random", "tpe"])
@pytest.mark.parametrize("jobs", [1, 2])
def test_enqueued_configurations_run_first_once_each_and_count_toward_the_budget(
    tmp_path, objectives_module, spec_factory, sampler, jobs
):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    spec = spec_factory(name="q", sampler=sampler, n_trials=8, space=SPACE)
    new_study(open_storage(url), spec)
    done = enqueue(url, "q", QUEUE)
    assert done.positions == [1, 2, 3] and done.waiting == 3 and done.free_slots == 8
    run_study(spec, url, jobs=jobs, progress=False)
    trials = optuna.load_study(study_name="q", storage=url).trials
    assert len(trials) == 8 and all(t.state == TrialState.COMPLETE for t in trials)
    by_slot = {t.system_attrs["hpsearch_slot"]: t for t in trials}
    assert sorted(by_slot) == list(range(8))
    # the first three slots run the queue, in queue order: a configuration is bound to a slot when the
    # slot is claimed, and fresh claims commit in slot order (with two workers, the trial of slot 3 may
    # still start a moment before the trial of slot 2, so trial numbers need not follow the slots)
    enqueued = sorted(
        (t for t in trials if "fixed_params" in t.system_attrs), key=lambda t: t.system_attrs["hpsearch_slot"]
    )
    assert [t.system_attrs["hpsearch_slot"] for t in enqueued] == [0, 1, 2]
    assert [t.params for t in enqueued] == QUEUE
    if jobs == 1:
        assert [t.number for t in enqueued] == [0, 1, 2]  # one worker: the first three trials
    slots = [slot for _, _, slot in queued(open_storage(url).engine, _study_id(url))]
    assert slots == [t.system_attrs["hpsearch_slot"] for t in enqueued]


def _study_id(storage_url):
    return open_storage(storage_url).get_study_id_from_name("q")


def test_a_bad_configuration_stores_none_of_them(tmp_path, objectives_module, spec_factory):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    new_study(open_storage(url), spec_factory(name="q", space=SPACE))
    with pytest.raises(UserError, match=r"configuration 2: 'x' does not exist at this point \(it needs a in"):
        enqueue(url, "q", [{"a": "q", "b": 2}, {"a": "q", "b": 2, "x": 0.5}])
    with pytest.raises(UserError, match=r"configuration 1: missing parameter 'x'"):
        enqueue(url, "q", [{"a": "p", "b": 2}])
    assert queued(open_storage(url).engine, _study_id(url)) == []
