"""The storage seam: search's six operations on a study's storage, through TrialStore (issue 22)."""

from __future__ import annotations

from datetime import datetime

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from hpsearch.storage import OptunaTrialStore, SlotStatus, TrialStore, open_storage, trial_id_of, trial_store
from hpsearch.storage._store import TrialStore as ProtocolItself


def _template(slot: int) -> FrozenTrial:
    return FrozenTrial(
        number=-1,
        state=TrialState.RUNNING,
        value=None,
        datetime_start=datetime.now(),
        datetime_complete=None,
        params={},
        distributions={},
        user_attrs={},
        system_attrs={"hpsearch_slot": slot},
        intermediate_values={},
        trial_id=-1,
    )


@pytest.fixture
def study(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    return optuna.create_study(study_name="s", storage=storage, direction="maximize")


def test_the_optuna_store_is_a_trial_store(study):
    store = trial_store(study)
    assert isinstance(store, OptunaTrialStore) and isinstance(store, TrialStore)
    assert TrialStore is ProtocolItself
    methods = {"claim", "start", "finish", "set_attributes", "slot_statuses", "overviews"}
    assert methods <= {name for name in dir(TrialStore) if not name.startswith("_")}


def test_claim_start_attributes_finish_then_the_slots_are_done(study):
    store = trial_store(study)
    assert store.slot_statuses(2) == [SlotStatus.FREE, SlotStatus.FREE]
    for slot, value in enumerate((0.25, 0.75)):
        claim = store.claim(2)
        assert not isinstance(claim, SlotStatus) and claim.slot == slot
        frozen = store.start(claim, _template(claim.slot), heartbeat=False)
        assert frozen is not None and frozen.state == TrialState.RUNNING
        assert store.slot_statuses(2)[slot] is SlotStatus.BUSY
        trial = optuna.Trial(study, trial_id_of(frozen))
        store.set_attributes(trial, {"epochs_run": 3, "diverged": False})
        done = store.finish(trial, TrialState.COMPLETE, value)
        assert done.state == TrialState.COMPLETE and done.values == [value]
    assert store.claim(2) is SlotStatus.DONE
    assert store.slot_statuses(2) == [SlotStatus.DONE, SlotStatus.DONE]
    trials = study.get_trials(deepcopy=False)
    assert [t.user_attrs for t in trials] == [{"epochs_run": 3, "diverged": False}] * 2
    (overview,) = store.overviews(["s"])
    assert overview.name == "s" and overview.best is not None and overview.best.value == 0.75


def test_finishing_a_trial_twice_is_refused(study):
    store = trial_store(study)
    claim = store.claim(1)
    frozen = store.start(claim, _template(0), heartbeat=False)
    trial = optuna.Trial(study, trial_id_of(frozen))
    store.finish(trial, TrialState.COMPLETE, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        store.finish(trial, TrialState.FAIL)
