"""A trial's user attributes in one write (hpsearch.storage._attrs), equal to Optuna's per-key writes."""

from __future__ import annotations

import optuna
import pytest

from hpsearch.storage import open_storage
from hpsearch.storage._attrs import set_user_attrs, trial_slot

ATTRS = {
    "train_seconds": 0.25,
    "epochs_run": 20,
    "n_parameters": 1234,
    "learning_curve": [0.5, None, 0.75],
    "best_epoch": None,
    "stop_reason": "max_epochs",
    "diverged": False,
}


@pytest.fixture
def study(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(f"sqlite:///{tmp_path / 'a.db'}", heartbeat=False)
    return optuna.create_study(storage=storage, study_name="a")


def test_one_write_stores_what_set_user_attr_stores(study):
    batched, plain = study.ask(), study.ask()
    set_user_attrs(batched, ATTRS)
    for key, value in ATTRS.items():
        plain.set_user_attr(key, value)
    stored = {t.number: t.user_attrs for t in study.get_trials()}
    assert stored[batched.number] == stored[plain.number] == ATTRS == batched.user_attrs


def test_keys_written_again_are_replaced(study):
    trial = study.ask()
    set_user_attrs(trial, ATTRS)
    set_user_attrs(trial, {"epochs_run": 5, "extra": "x"})
    assert study.get_trials()[0].user_attrs == {**ATTRS, "epochs_run": 5, "extra": "x"}


def test_a_finished_trial_is_refused_as_optuna_refuses_it(study):
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        set_user_attrs(trial, ATTRS)


def test_other_trials_and_storages_get_plain_writes():
    in_memory = optuna.create_study()
    trial = in_memory.ask()
    set_user_attrs(trial, ATTRS)
    assert in_memory.trials[0].user_attrs == ATTRS
    fixed = optuna.trial.FixedTrial({}, number=7)
    set_user_attrs(fixed, ATTRS)
    assert fixed.user_attrs == ATTRS and trial_slot(fixed) == 7
