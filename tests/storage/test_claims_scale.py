"""claim_slot stays the lowest-free-slot rule while reading only the open claims (issue 17)."""

from __future__ import annotations

import random
import time

from optuna.trial import TrialState

from hpsearch.storage import SlotStatus, _claims, attach_trial, claim_slot, slot_statuses
from hpsearch.storage._claims import claims_table


def _claim_row(engine, study_id, slot, trial_id=None, claimed_at=None):
    with engine.begin() as con:
        con.execute(
            claims_table.insert().values(
                study_id=study_id,
                slot=slot,
                token=f"t{slot}",
                trial_id=trial_id,
                host="elsewhere",
                pid=1,
                claimed_at=time.time() if claimed_at is None else claimed_at,
            )
        )


def _lowest_free_by_hand(statuses):
    return next((i for i, s in enumerate(statuses) if s is SlotStatus.FREE), None)


def test_gaps_and_random_histories_claim_the_lowest_free_slot(env):
    storage, engine, study = env
    rng = random.Random(7)
    n_slots = 40
    outcomes = [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
        "diverged",
        "error",
        "running",
        "gap",
        "abandoned",
    ]
    for slot in range(n_slots):
        kind = rng.choice(outcomes)
        if kind == "gap":
            continue
        if kind == "abandoned":  # an unattached claim older than the grace period: free
            _claim_row(engine, study._study_id, slot, claimed_at=time.time() - 10 * _claims.CLAIM_GRACE)
            continue
        trial_id = storage.create_new_trial(study._study_id)
        _claim_row(engine, study._study_id, slot, trial_id)
        if kind == "diverged":
            storage.set_trial_user_attr(trial_id, "diverged", True)
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        elif kind == "error":
            storage.set_trial_user_attr(trial_id, "error", "boom")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        elif kind == TrialState.COMPLETE:
            storage.set_trial_state_values(trial_id, kind, [1.0])
        elif kind != "running":
            storage.set_trial_state_values(trial_id, kind)
    while True:
        expected = _lowest_free_by_hand(slot_statuses(engine, study._study_id, n_slots))
        claim = claim_slot(engine, study._study_id, n_slots)
        if expected is None:
            assert claim is SlotStatus.BUSY or claim is SlotStatus.DONE
            break
        assert claim.slot == expected
        trial_id = storage.create_new_trial(study._study_id)
        assert attach_trial(engine, claim, trial_id)
    # the open claims are exactly the not-done ones
    statuses = slot_statuses(engine, study._study_id, n_slots)
    opened = {r.slot for r in _claims._open_claim_rows(engine, study._study_id, n_slots)}
    assert opened == {i for i, s in enumerate(statuses) if s is not SlotStatus.DONE}


def test_an_ask_late_in_a_long_study_reads_only_open_claims(env, monkeypatch):
    storage, engine, study = env
    ids = []
    for slot in range(300):
        trial_id = storage.create_new_trial(study._study_id)
        storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [float(slot)])
        _claim_row(engine, study._study_id, slot, trial_id)
        ids.append(trial_id)
    seen = []
    real = _claims._open_claim_rows

    def counting(*args, **kwargs):
        rows = real(*args, **kwargs)
        seen.append(len(rows))
        return rows

    monkeypatch.setattr(_claims, "_open_claim_rows", counting)
    monkeypatch.setattr(_claims, "_claim_rows", None)  # the read of every claim is not used by an ask
    claim = claim_slot(engine, study._study_id, 1000)
    assert claim.slot == 300 and seen == [0]
    assert claim_slot(engine, study._study_id, 300) is SlotStatus.DONE
    trial_id = storage.create_new_trial(study._study_id)  # slot 300 running: the one open claim
    assert attach_trial(engine, claim, trial_id)
    seen.clear()
    assert claim_slot(engine, study._study_id, 301) is SlotStatus.BUSY and seen == [1]
