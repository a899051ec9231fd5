"""The claims table: lowest free slot, unique per study, stale slots taken over by compare-and-swap."""

from __future__ import annotations

import subprocess
import sys

import optuna
import sqlalchemy as sa
from optuna.trial import TrialState

from hpsearch.storage import (
    SlotStatus,
    attach_trial,
    claim_slot,
    delete_claims,
    slot_statuses,
    slot_trial_ids,
)
from hpsearch.storage._claims import claims_table


def _start(env, n_slots):
    """Claim a slot and attach a fresh RUNNING trial to it, as ask_trial does."""
    storage, engine, study = env
    claim = claim_slot(engine, study._study_id, n_slots)
    assert not isinstance(claim, SlotStatus), claim
    trial_id = storage.create_new_trial(study._study_id)
    assert attach_trial(engine, claim, trial_id)
    return claim, trial_id


def test_slots_are_claimed_lowest_first_then_busy_then_done(env):
    storage, engine, study = env
    (c0, t0), (c1, t1) = _start(env, 2), _start(env, 2)
    assert (c0.slot, c1.slot) == (0, 1)
    assert claim_slot(engine, study._study_id, 2) is SlotStatus.BUSY
    storage.set_trial_state_values(t0, TrialState.COMPLETE, [1.0])
    assert claim_slot(engine, study._study_id, 2) is SlotStatus.BUSY
    storage.set_trial_state_values(t1, TrialState.PRUNED)
    assert claim_slot(engine, study._study_id, 2) is SlotStatus.DONE
    assert slot_statuses(engine, study._study_id, 3) == [SlotStatus.DONE, SlotStatus.DONE, SlotStatus.FREE]


def test_a_crashed_slot_is_taken_over_but_a_diverged_one_is_done(env):
    storage, engine, study = env
    (_, t0), (_, t1) = _start(env, 2), _start(env, 2)
    storage.set_trial_user_attr(t1, "diverged", True)
    storage.set_trial_state_values(t1, TrialState.FAIL)  # diverged: a result
    storage.set_trial_state_values(t0, TrialState.FAIL)  # crash: run again
    again, t2 = _start(env, 2)
    assert again.slot == 0
    assert slot_trial_ids(engine, study._study_id) == {0: t2, 1: t1}
    assert claim_slot(engine, study._study_id, 2) is SlotStatus.BUSY


def test_compare_and_swap_lets_exactly_one_worker_take_a_stale_slot(env):
    storage, engine, study = env
    claim, t0 = _start(env, 1)
    storage.set_trial_state_values(t0, TrialState.FAIL)
    with engine.connect() as con:
        old_token = con.execute(sa.select(claims_table.c.token)).scalar_one()
    takeover = (
        claims_table.update()
        .where(claims_table.c.slot == 0)
        .where(claims_table.c.token == old_token)
        .values(token="mine")
    )
    with engine.begin() as con:  # a rival wins the race first...
        assert con.execute(takeover).rowcount == 1
    with engine.begin() as con:  # ...so the same swap from stale knowledge matches nothing
        assert con.execute(takeover.values(token="late")).rowcount == 0
    assert not attach_trial(engine, claim, t0)  # the original claim is void too


def test_an_abandoned_claim_of_a_dead_local_process_is_taken_over(env):
    storage, engine, study = env
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    import socket
    import time

    with engine.begin() as con:  # claimed, then died before its trial existed
        con.execute(
            claims_table.insert().values(
                study_id=study._study_id,
                slot=0,
                token="t",
                trial_id=None,
                host=socket.gethostname(),
                pid=int(dead),
                claimed_at=time.time(),
            )
        )
        con.execute(
            claims_table.insert().values(
                study_id=study._study_id,
                slot=1,
                token="u",
                trial_id=None,
                host="elsewhere",
                pid=1,
                claimed_at=time.time(),
            )
        )
    claim = claim_slot(engine, study._study_id, 2)
    assert claim.slot == 0  # slot 1 belongs to a live-looking claim of another host
    assert claim_slot(engine, study._study_id, 2) is SlotStatus.BUSY


def test_slots_are_per_study_and_deleted_with_it(env):
    storage, engine, study = env
    other = optuna.create_study(study_name="other", storage=storage)
    _start(env, 3)
    assert claim_slot(engine, other._study_id, 3).slot == 0
    delete_claims(engine, study._study_id)
    assert slot_trial_ids(engine, study._study_id) == {}
    assert slot_trial_ids(engine, other._study_id) == {0: None}


def test_running_trials_are_found_by_a_system_attr_in_one_query(env):
    from hpsearch.storage import running_attr_values, running_trial_with_attr

    storage, engine, study = env
    a, b, done = (storage.create_new_trial(study._study_id) for _ in range(3))
    other = optuna.create_study(study_name="other", storage=storage)
    elsewhere = storage.create_new_trial(other._study_id)
    for trial_id, key in ((a, "k1"), (b, "k2"), (done, "k1"), (elsewhere, "k1")):
        storage.set_trial_system_attr(trial_id, "hpsearch_ask_key", key)
    storage.set_trial_state_values(done, state=TrialState.COMPLETE, values=[1.0])
    assert running_trial_with_attr(engine, study._study_id, "hpsearch_ask_key", "k1") == a
    assert running_trial_with_attr(engine, study._study_id, "hpsearch_ask_key", "k3") is None
    assert running_attr_values(engine, study._study_id, "hpsearch_ask_key") == {a: "k1", b: "k2"}
    assert running_attr_values(engine, study._study_id, "absent") == {}
