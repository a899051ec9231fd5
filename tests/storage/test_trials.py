"""A worker's trial in few transactions: the same rows and errors as Optuna's own path, fewer writes."""

from __future__ import annotations

import threading
from datetime import datetime

import optuna
import pytest
import sqlalchemy as sa
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from hpsearch.storage import (
    SlotStatus,
    batched_params,
    claim_slot,
    finish_trial,
    open_storage,
    own_trial,
    slot_trial_ids,
    start_trial,
)
from hpsearch.storage._claims import claims_table

SPACE = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "width": IntDistribution(8, 64),
    "act": CategoricalDistribution(["relu", "tanh"]),
}


@pytest.fixture
def worker_storage(storage_url):
    """The fresh database opened as a worker opens it: with heartbeats (a trial's first one is
    part of its start)."""
    storage = open_storage(storage_url)
    yield storage
    storage.engine.dispose()


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
        system_attrs={"hpsearch_slot": slot, "note": ["a", 1]},
        intermediate_values={},
        trial_id=-1,
    )


def _start(study: optuna.Study, n_slots: int = 100) -> optuna.Trial:
    claim = claim_slot(study._storage._backend.engine, study._study_id, n_slots)
    assert not isinstance(claim, SlotStatus), claim
    frozen = start_trial(study, claim, _template(claim.slot), heartbeat=True)
    assert frozen is not None
    return own_trial(study, frozen)


def _suggest(trial: optuna.trial.BaseTrial) -> None:
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_int("width", 8, 64)
    trial.suggest_categorical("act", ["relu", "tanh"])


def _write_transactions(engine: sa.Engine) -> list[int]:
    """A list that counts the engine's committed transactions that wrote something, from now on.

    (Optuna's reads commit too, e.g. the sampler reading the study's trials.)
    """
    seen: list[int] = []
    wrote: set[int] = set()

    def statement(conn, cursor, sql, *args):
        if sql.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            wrote.add(id(conn))

    def commit(conn):
        if id(conn) in wrote:
            wrote.discard(id(conn))
            seen.append(1)

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", commit)
    return seen


def _comparable(t: FrozenTrial) -> dict:
    return {
        "number": t.number,
        "state": t.state,
        "values": t.values,
        "params": t.params,
        "distributions": t.distributions,
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "intermediate_values": t.intermediate_values,
        "started": t.datetime_start is not None,
        "completed": t.datetime_complete is not None,
    }


@pytest.mark.parametrize("outcome", ["complete", "pruned", "fail", "inf"])
def test_a_trial_stored_here_reads_back_as_the_same_trial_made_by_optuna(worker_storage, outcome):
    ours = optuna.create_study(study_name="ours", storage=worker_storage, sampler=optuna.samplers.RandomSampler(seed=3))
    theirs = optuna.create_study(
        study_name="theirs", storage=worker_storage, sampler=optuna.samplers.RandomSampler(seed=3)
    )
    trial = _start(ours)
    with batched_params(trial):
        _suggest(trial)
    trial.report(0.25, step=1)
    template = _template(0)
    template.datetime_start = datetime.now()
    other = optuna.Trial(theirs, theirs._storage.create_new_trial(theirs._study_id, template_trial=template))
    _suggest(other)
    other.report(0.25, step=1)
    state, value = {
        "complete": (TrialState.COMPLETE, 0.75),
        "pruned": (TrialState.PRUNED, None),
        "fail": (TrialState.FAIL, None),
        "inf": (TrialState.COMPLETE, float("inf")),
    }[outcome]
    told = finish_trial(ours, trial, state, value)
    theirs.tell(other, value, state=state)
    (mine,) = optuna.load_study(study_name="ours", storage=worker_storage.url).trials
    (optunas,) = optuna.load_study(study_name="theirs", storage=worker_storage.url).trials
    assert _comparable(mine) == _comparable(optunas)
    assert _comparable(told) == _comparable(mine)
    assert mine.params == other.params  # the same seeded draws: the same values were written
    if outcome == "pruned":
        assert mine.values == [0.25]  # the last intermediate value, as Optuna's tell does


def test_own_trial_is_the_trial_optuna_would_build_by_reading_it(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    trial = _start(study)
    read = optuna.Trial(study, trial._trial_id)
    mine, theirs = vars(trial), vars(read)
    assert mine.keys() == theirs.keys()
    for key in mine:
        assert mine[key] == theirs[key], key


def test_a_trial_starts_in_one_transaction_and_its_parameters_in_one_more(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    claim = claim_slot(worker_storage.engine, study._study_id, 10)
    commits = _write_transactions(worker_storage.engine)
    frozen = start_trial(study, claim, _template(claim.slot), heartbeat=True)
    assert len(commits) == 1
    trial = own_trial(study, frozen)
    with batched_params(trial):
        _suggest(trial)
    assert len(commits) == 2
    stored = worker_storage.get_trial(frozen._trial_id)
    assert stored.params == trial.params and set(stored.params) == set(SPACE)
    assert stored.system_attrs == {"hpsearch_slot": 0, "note": ["a", 1]}
    assert slot_trial_ids(worker_storage.engine, study._study_id) == {0: frozen._trial_id}
    with worker_storage.engine.connect() as con:
        beats = con.exec_driver_sql("SELECT count(*) FROM trial_heartbeats WHERE trial_id = ?", (frozen._trial_id,))
        assert beats.scalar() == 1


def test_a_lost_claim_rolls_the_whole_trial_back(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    claim = claim_slot(worker_storage.engine, study._study_id, 10)
    with worker_storage.engine.begin() as con:  # another worker took the slot over meanwhile
        con.execute(claims_table.update().where(claims_table.c.slot == claim.slot).values(token="someone-else"))
    assert start_trial(study, claim, _template(claim.slot), heartbeat=True) is None
    assert study.trials == []
    with worker_storage.engine.connect() as con:
        for table in ("trial_system_attributes", "trial_heartbeats"):
            assert con.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0


def test_parameters_are_written_only_if_the_block_succeeds(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    trial = _start(study)
    with pytest.raises(RuntimeError), batched_params(trial):
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        raise RuntimeError("the sampler broke")
    assert worker_storage.get_trial(trial._trial_id).params == {}


def test_a_distribution_that_clashes_with_the_studys_is_refused_and_nothing_is_written(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    first = _start(study)
    with batched_params(first):
        first.suggest_float("lr", 1e-4, 1e-1, log=True)
    # A fresh process (an empty cache) must find the clash in the database, as Optuna does.
    fresh = optuna.load_study(study_name=study.study_name, storage=open_storage(worker_storage.url))
    second = _start(fresh)
    with pytest.raises(ValueError, match="distribution"), batched_params(second):
        second.suggest_categorical("lr", ["a", "b"])
    assert worker_storage.get_trial(second._trial_id).params == {}


def test_parameters_of_a_trial_finished_meanwhile_are_refused(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    trial = _start(study)
    worker_storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # e.g. failed as stale by another worker
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError), batched_params(trial):
        _suggest(trial)
    assert worker_storage.get_trial(trial._trial_id).params == {}


def test_telling_a_trial_finished_by_someone_else_raises_and_changes_nothing(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    trial = _start(study)
    worker_storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        finish_trial(study, trial, TrialState.COMPLETE, 1.0)
    (stored,) = study.trials
    assert stored.state == TrialState.FAIL and stored.values is None


def test_a_complete_trial_needs_a_value(worker_storage):
    study = optuna.create_study(storage=worker_storage)
    trial = _start(study)
    with pytest.raises(ValueError, match="required"):
        finish_trial(study, trial, TrialState.COMPLETE, None)
    assert study.trials[0].state == TrialState.RUNNING


def test_the_samplers_after_trial_sees_the_outcome(worker_storage):
    seen = []

    class Spy(optuna.samplers.RandomSampler):
        def after_trial(self, study, trial, state, values):
            seen.append((trial.number, trial.params, state, values))

    study = optuna.create_study(storage=worker_storage, sampler=Spy(seed=0))
    trial = _start(study)
    with batched_params(trial):
        trial.suggest_int("width", 8, 64)
    finish_trial(study, trial, TrialState.COMPLETE, 0.5)
    assert seen == [(0, trial.params, TrialState.COMPLETE, [0.5])]


def test_workers_starting_trials_at_once_number_them_without_gaps_or_repeats(worker_storage):
    """Numbering (the count of earlier trials) happens under SQLite's write lock, as in Optuna."""
    study = optuna.create_study(study_name="race", storage=worker_storage)
    per_worker, n_workers = 15, 3
    barrier = threading.Barrier(n_workers)
    errors: list[BaseException] = []

    def worker() -> None:
        mine = optuna.load_study(study_name="race", storage=open_storage(worker_storage.url))
        barrier.wait()
        try:
            for _ in range(per_worker):
                trial = _start(mine, n_slots=per_worker * n_workers)
                finish_trial(mine, trial, TrialState.COMPLETE, 1.0)
        except BaseException as exc:  # shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(per_worker * n_workers))
    assert sorted(t.system_attrs["hpsearch_slot"] for t in trials) == list(range(per_worker * n_workers))
