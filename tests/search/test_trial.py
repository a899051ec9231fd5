"""ask_trial / tell_trial: slots, grid points, told-twice and unknown trials, NaN, recovery."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState

from hpsearch.errors import UserError
from hpsearch.search import (
    Heartbeat,
    SlotsBusy,
    StudyComplete,
    TrialAlreadyFinished,
    TrialNotFound,
    ask_trial,
    make_pruner,
    make_sampler,
    recover_study,
    tell_trial,
)
from hpsearch.storage import engine_of, open_storage


def _study(storage_url, spec, **storage_kw):
    storage = open_storage(storage_url, **storage_kw)
    sampler, _ = make_sampler(spec)
    return optuna.create_study(
        study_name=spec.study.name, storage=storage, sampler=sampler, pruner=make_pruner(spec), direction="maximize"
    )


def test_budget_is_exact_busy_then_complete(storage_url, spec_factory):
    spec = spec_factory(n_trials=3)
    study = _study(storage_url, spec)
    asked = [ask_trial(study, spec) for _ in range(3)]
    assert [t.number for t, _ in asked] == [0, 1, 2]
    assert all(0.0 <= p["x"] <= 1.0 for _, p in asked)
    with pytest.raises(SlotsBusy):
        ask_trial(study, spec)
    for trial, params in asked:
        tell_trial(study, trial.number, params["x"])
    with pytest.raises(StudyComplete):
        ask_trial(study, spec)
    assert len(study.trials) == 3


def test_tell_errors_for_the_http_api(storage_url, spec_factory):
    spec = spec_factory(n_trials=2)
    study = _study(storage_url, spec)
    trial, _ = ask_trial(study, spec)
    with pytest.raises(TrialNotFound):
        tell_trial(study, 99, 1.0)
    with pytest.raises(UserError, match="needs a number"):
        tell_trial(study, trial.number)
    with pytest.raises(UserError, match="state"):
        tell_trial(study, trial.number, state="done")
    tell_trial(study, trial.number, 0.5)
    with pytest.raises(TrialAlreadyFinished, match=r"already finished \(complete\)"):
        tell_trial(study, trial.number, 0.7)
    with pytest.raises(TrialAlreadyFinished):  # not marked diverged after the fact
        tell_trial(study, trial.number, math.nan)
    with pytest.raises(TrialAlreadyFinished):  # "finished" is said before "bad input"
        tell_trial(study, trial.number, state="done")
    assert study.trials[0].value == 0.5 and "diverged" not in study.trials[0].user_attrs
    assert issubclass(TrialAlreadyFinished, UserError) and issubclass(TrialNotFound, UserError)


def test_nan_is_a_diverged_result_and_a_crash_is_rerun_with_the_same_params(storage_url, spec_factory):
    spec = spec_factory(n_trials=2)
    study = _study(storage_url, spec)
    (t0, _), (t1, p1) = ask_trial(study, spec), ask_trial(study, spec)
    tell_trial(study, t0.number, math.nan)
    tell_trial(study, t1.number, state="fail")
    first = study.trials[0]
    assert first.state == TrialState.FAIL and first.user_attrs["diverged"] is True
    t2, p2 = ask_trial(study, spec)  # slot 1 crashed: it runs again, slot 0 does not
    assert study._storage.get_trial_system_attrs(t2._trial_id)["hpsearch_slot"] == 1 and p2 == p1
    tell_trial(study, t2.number, state="pruned")
    with pytest.raises(StudyComplete):
        ask_trial(study, spec)


def test_grid_slots_are_the_grid_points_each_once(storage_url, spec_factory):
    spec = spec_factory(sampler="grid", n_trials=9)
    study = _study(storage_url, spec)
    seen = []
    for k in range(9):
        trial, params = ask_trial(study, spec)
        attrs = study._storage.get_trial_system_attrs(trial._trial_id)
        assert attrs["grid_id"] == attrs["hpsearch_slot"] == k
        seen.append((params["a"], params["b"]))
        tell_trial(study, trial.number, 1.0)
    assert sorted(seen) == sorted((a, b) for a in "pqr" for b in (1, 2, 3))
    with pytest.raises(StudyComplete):  # and no study.stop() RuntimeError from GridSampler
        ask_trial(study, spec)


def test_a_grid_ask_reads_nothing_back_and_a_stray_trial_still_gets_its_slots_point(
    storage_url, spec_factory, monkeypatch
):
    """The grid sampler takes the slot from before_trial, not from the lazy attrs view Optuna hands it
    (a database read per parameter); a trial it did not see start (another process's) reads the slot."""
    from optuna.storages._cached_storage import _CachedStorage

    spec = spec_factory(sampler="grid", n_trials=9)
    study = _study(storage_url, spec)
    reads = []
    real = _CachedStorage.get_trial_system_attrs
    monkeypatch.setattr(
        _CachedStorage, "get_trial_system_attrs", lambda self, tid: reads.append(tid) or real(self, tid)
    )
    asked = [ask_trial(study, spec) for _ in range(3)]
    assert reads == []
    sampler = study.sampler
    sampler._current = None  # as if before_trial had seen another trial
    trial, params = asked[1]
    fresh = optuna.Trial(study, trial._trial_id)  # reads the trial (and runs before_trial) again
    sampler._current = None
    a = sampler.sample_independent(study, fresh._get_latest_trial(), "a", trial.distributions["a"])
    assert a == params["a"] and reads == [trial._trial_id]


def test_truncated_grid_is_a_seeded_random_subset(storage_url, tmp_path, spec_factory):
    picks = []
    for seed in (0, 0, 1):
        spec = spec_factory(
            name=f"g{len(picks)}",
            sampler="grid",
            n_trials=4,
            seed=seed,
            space={"a": {"type": "categorical", "choices": list("pqrstuvw"), "grid": list("pqrstuvw")}},
        )
        study = _study(storage_url, spec)
        picks.append([ask_trial(study, spec)[1]["a"] for _ in range(4)])
    assert picks[0] == picks[1] and len(set(picks[0])) == 4
    assert picks[0] != picks[2]


def test_random_and_qmc_params_depend_on_the_slot_only(storage_url, spec_factory):
    for sampler in ("random", "qmc"):
        spec = spec_factory(name=sampler, sampler=sampler, n_trials=8)
        a, b = _study(storage_url, spec), _study(storage_url.replace("study.db", f"{sampler}2.db"), spec)
        xa = [ask_trial(a, spec)[1]["x"] for _ in range(8)]
        xb = [ask_trial(b, spec)[1]["x"] for _ in range(8)]
        assert xa == xb and len(set(xa)) == 8


def test_sampler_args_record_every_tpe_argument(spec_factory):
    _, args = make_sampler(spec_factory(sampler="tpe", seed=7))
    assert args["multivariate"] is True and args["constant_liar"] is True and args["seed"] == 7
    assert {"n_startup_trials", "n_ei_candidates", "group", "gamma"} <= set(args)


def test_dead_local_worker_trial_is_failed_and_its_slot_reclaimed(storage_url, spec_factory):
    spec = spec_factory(n_trials=1)
    study = _study(storage_url, spec)
    trial, params = ask_trial(study, spec)
    dead = int(
        subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    )
    study._storage.set_trial_system_attr(trial._trial_id, "hpsearch_pid", dead)
    again, params2 = ask_trial(study, spec)  # recovery runs first: the slot is free again
    assert study.trials[0].state == TrialState.FAIL
    assert "diverged" not in study.trials[0].user_attrs
    assert study.trials[0].system_attrs["fail_reason"].startswith("worker died")
    assert again.number == 1 and params2 == params


def test_a_trial_asked_without_pid_is_not_tied_to_the_asking_process(storage_url, spec_factory):
    """The HTTP API's trials run in remote clients: recovery must not judge them by the server's pid."""
    spec = spec_factory(n_trials=2)
    study = _study(storage_url, spec)
    trial, _ = ask_trial(study, spec, record_pid=False)
    attrs = study._storage.get_trial(trial._trial_id).system_attrs
    assert "hpsearch_pid" not in attrs and "hpsearch_host" in attrs
    mine, _ = ask_trial(study, spec)
    assert study._storage.get_trial(mine._trial_id).system_attrs["hpsearch_pid"] > 0


def test_stale_heartbeat_of_another_host_fails_the_trial(storage_url, spec_factory, monkeypatch):
    """The last heartbeat is moved an hour back by hand rather than waited for."""
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("HPSEARCH_GRACE_PERIOD", "60")
    spec = spec_factory(n_trials=1)
    study = _study(storage_url, spec)
    trial, _ = ask_trial(study, spec)
    study._storage.set_trial_system_attr(trial._trial_id, "hpsearch_host", "another-machine")
    study._storage.record_heartbeat(trial._trial_id)
    assert recover_study(study) == [] and study.trials[0].state == TrialState.RUNNING
    with engine_of(study._storage).begin() as con:
        con.execute(
            sa.text("UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour') WHERE trial_id = :t"),
            {"t": trial._trial_id},
        )
    assert recover_study(study) == [0]
    assert study.trials[0].state == TrialState.FAIL
    assert study.trials[0].system_attrs["fail_reason"].startswith("heartbeat expired")


class _BeatLog:
    """A storage stand-in that logs when heartbeats are recorded."""

    def __init__(self, interval: float) -> None:
        self.interval, self.times = interval, []

    def get_heartbeat_interval(self) -> float:
        return self.interval

    def record_heartbeat(self, trial_id: int) -> None:
        self.times.append(time.monotonic())


def test_heartbeat_after_the_asks_beat_is_due_an_interval_later(monkeypatch):
    """What the beating thread is told to wait, read from its arguments instead of timed."""
    plain = _BeatLog(30.0)
    with Heartbeat(plain, 1):
        assert len(plain.times) == 1  # no beat recorded yet: beat at once
    waits = []
    monkeypatch.setattr(Heartbeat, "_beat", lambda self, first, interval: waits.append((first, interval)))
    with Heartbeat(_BeatLog(30.0), 1):
        pass
    log = _BeatLog(30.0)
    asked = time.monotonic()  # ask_trial(heartbeat=True) beat just after this
    with Heartbeat(log, 1, beaten_at=asked):
        pass
    assert log.times == []  # not a second beat right away
    (first_plain, interval), (first_after_ask, _) = waits
    assert first_plain == interval == 30.0
    # Due an interval after the ask's beat, less the (any) time that has passed since.
    assert 0.0 < first_after_ask <= 30.0 and first_after_ask > 30.0 - (time.monotonic() - asked) - 1e-6


def test_two_tpe_processes_with_the_same_seed_never_propose_in_lock_step(storage_url, spec_factory):
    """Two `run`s of one spec (same seed, both worker 0) share a study: no repeated points."""
    spec = spec_factory(sampler="tpe", n_trials=6)
    a = _study(storage_url, spec)
    b = optuna.load_study(study_name="s", storage=open_storage(storage_url), sampler=make_sampler(spec)[0])
    xs = [ask_trial(study, spec)[1]["x"] for _ in range(3) for study in (a, b)]
    assert len(set(xs)) == 6


def test_the_claims_table_and_is_finished_agree_on_every_outcome(storage_url, spec_factory):
    """What a finished trial is lives in _outcomes; the claims table's SQL must say the same."""
    from hpsearch.search import is_crashed, is_error, is_finished
    from hpsearch.storage import SlotStatus, slot_statuses

    spec = spec_factory(n_trials=6)
    study = _study(storage_url, spec)
    trials = [ask_trial(study, spec)[0] for _ in range(6)]
    tell_trial(study, trials[0].number, 0.5)
    tell_trial(study, trials[1].number, state="pruned")
    tell_trial(study, trials[2].number, math.nan)  # diverged
    study._storage.set_trial_user_attr(trials[3]._trial_id, "error", "ValueError: boom")
    tell_trial(study, trials[3].number, state="fail")  # the objective raised
    tell_trial(study, trials[4].number, state="fail")  # a crash
    # trials[5] stays RUNNING
    frozen = study.get_trials(deepcopy=False)
    statuses = slot_statuses(engine_of(study._storage), study._study_id, 6)
    slot = {t.number: t.system_attrs["hpsearch_slot"] for t in frozen}
    assert [is_finished(t) for t in frozen] == [True, True, True, True, False, False]
    assert [statuses[slot[t.number]] is SlotStatus.DONE for t in frozen] == [is_finished(t) for t in frozen]
    assert [is_error(t) for t in frozen] == [False, False, False, True, False, False]
    assert [is_crashed(t) for t in frozen] == [False, False, False, False, True, False]
    assert statuses[slot[4]] is SlotStatus.FREE and statuses[slot[5]] is SlotStatus.BUSY
    again, _ = ask_trial(study, spec)  # only the crashed slot runs again
    assert study._storage.get_trial_system_attrs(again._trial_id)["hpsearch_slot"] == slot[4]


class _BeatEvents:
    """A storage stand-in whose heartbeats are recorded with the trial id, and announced."""

    def __init__(self, interval: float) -> None:
        import threading

        self.interval, self.ids, self.beat = interval, [], threading.Event()

    def get_heartbeat_interval(self) -> float:
        return self.interval

    def record_heartbeat(self, trial_id: int) -> None:
        self.ids.append(trial_id)
        self.beat.set()


def test_one_beater_thread_beats_for_whichever_trial_it_tracks():
    """A worker's one heartbeat thread: a beat due now is recorded for the tracked trial, none after untrack."""
    from hpsearch.search._recovery import Beater

    log = _BeatEvents(3600.0)
    with Beater() as beater:
        beater.track(log, 1, 0.0, 3600.0)
        assert log.beat.wait(120)  # a generous deadline, not a margin: it is due at once
        log.beat.clear()
        beater.untrack(1)
        beater.track(log, 2, 0.0, 3600.0)  # due now: the thread, asleep for an hour, is woken
        assert log.beat.wait(120)
        beater.untrack(2)
        thread = beater._thread
    assert thread is not None and not thread.is_alive()  # leaving the block ends the thread
    assert log.ids == [1, 2]  # each beat once, the next an hour later


def test_heartbeat_with_a_beater_tracks_instead_of_starting_a_thread():
    from hpsearch.search._recovery import Beater

    calls = []

    class _Recorder(Beater):
        def track(self, storage, trial_id, first, interval):
            calls.append(("track", trial_id, first, interval))

        def untrack(self, trial_id):
            calls.append(("untrack", trial_id))

    log = _BeatLog(30.0)
    asked = time.monotonic()
    with Heartbeat(log, 7, beaten_at=asked, beater=_Recorder()) as hb:
        assert hb._thread is None
    (kind, trial_id, first, interval), untrack = calls
    assert (kind, trial_id, interval) == ("track", 7, 30.0) and untrack == ("untrack", 7)
    assert 0.0 < first <= 30.0 and log.times == []  # due an interval after the ask's beat
