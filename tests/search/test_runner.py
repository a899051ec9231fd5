"""run_study / run_studies end to end: budgets, resume, parallel workers, crashes, determinism."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState
from rich.console import Console

from hpsearch.cli._progress import ConsoleProgress
from hpsearch.errors import UserError
from hpsearch.search import MAX_FAILURES, ObjectiveFailing, _workers, is_finished, make_pruner, run_studies, run_study
from hpsearch.search._workers import FIRST_FAILURES
from hpsearch.spec import spec_from_dict


def _console():
    return Console(file=io.StringIO(), width=120)


def _trials(storage_url, name):
    return optuna.load_study(study_name=name, storage=storage_url).trials


def _running(db) -> int:
    """RUNNING trials in a SQLite file, read without creating anything (the run is creating it)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = 'RUNNING'").fetchone()[0]
    except sqlite3.OperationalError:  # no file or no table yet
        return 0


def test_two_worker_processes_on_a_grid_cover_every_point_once(
    storage_url, spec_factory, objectives_module, monkeypatch, tmp_path
):
    hold = tmp_path / "hold"  # the first trials wait until both workers hold one: both surely work
    hold.touch()
    monkeypatch.setenv("HP_TEST_HOLD", str(hold))
    spec = spec_factory(sampler="grid", n_trials=9)
    runner = threading.Thread(target=run_study, args=(spec, storage_url), kwargs={"jobs": 2, "progress": False})
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and runner.is_alive() and _running(tmp_path / "study.db") < 2:
        time.sleep(0.05)
    hold.unlink()
    runner.join(120)
    assert not runner.is_alive()
    trials = _trials(storage_url, "s")
    assert len(trials) == 9 and all(t.state == TrialState.COMPLETE for t in trials)
    assert sorted((t.params["a"], t.params["b"]) for t in trials) == sorted((a, b) for a in "pqr" for b in (1, 2, 3))
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # both workers did work


def test_same_spec_and_seed_give_the_same_trials_end_to_end(tmp_path):
    spec = spec_from_dict(
        {
            "study": {"name": "det", "metric": "accuracy", "sampler": "tpe", "n_trials": 12, "seed": 5},
            "data": {"dataset": "iris"},
            "training": {"max_epochs": 3, "batch_size": 32},
            "space": {
                "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
                "width": {"type": "int", "low": 4, "high": 16},
            },
        }
    )
    runs = []
    for k in range(2):
        url = f"sqlite:///{tmp_path / f'd{k}.db'}"
        run_study(spec, url, progress=False)
        runs.append([(t.params, t.value) for t in _trials(url, "det")])
    assert runs[0] == runs[1]
    assert len(runs[0]) == 12 and len({tuple(p.items()) for p, _ in runs[0]}) == 12


def test_random_search_gives_the_same_trials_at_jobs_1_and_jobs_2(tmp_path):
    """A slot's parameters and its training seeds depend on the slot, not on the trial number
    (which depends on which worker created its trial first): same spec, same results, any --jobs."""
    spec = spec_from_dict(
        {
            "study": {"name": "rep", "metric": "accuracy", "sampler": "random", "n_trials": 10, "seed": 3},
            "data": {"dataset": "iris"},
            "training": {"max_epochs": 4, "batch_size": 16, "patience": 0},
            "space": {
                "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
                "width": {"type": "int", "low": 2, "high": 64, "log": True},
            },
        }
    )
    by_slot = []
    for jobs in (1, 2):
        url = f"sqlite:///{tmp_path / f'j{jobs}.db'}"
        study = run_study(spec, url, jobs=jobs, progress=False)
        trials = _trials(url, "rep")
        assert len(trials) == 10 and all(t.state == TrialState.COMPLETE for t in trials)
        by_slot.append({t.system_attrs["hpsearch_slot"]: (t.params, t.value) for t in trials})
        by_slot[-1]["best"] = (study.best_params, study.best_value)
    assert by_slot[0] == by_slot[1]


def test_resume_keeps_the_stored_spec_and_n_trials_raises_the_budget(storage_url, spec_factory, objectives_module):
    spec = spec_factory(n_trials=3)
    run_study(spec, storage_url, progress=False)
    console = _console()
    run_study(spec, storage_url, progress=ConsoleProgress(console))
    assert "already complete (3 finished trials); nothing to do" in console.file.getvalue()
    run_study(spec, storage_url, n_trials=5, progress=False)
    assert len(_trials(storage_url, "s")) == 5
    run_study(spec, storage_url, progress=False)  # the spec file still says 3: the stored budget (5) wins
    assert len(_trials(storage_url, "s")) == 5
    study = optuna.load_study(study_name="s", storage=storage_url)
    assert study.user_attrs["hpsearch_spec"]["study"]["n_trials"] == 5


def test_a_larger_n_trials_in_the_spec_raises_a_budget_that_n_trials_set_lower(
    storage_url, spec_factory, objectives_module
):
    """run --n-trials 2 on a spec that says 4, then a plain run: it goes on to the spec's 4, since
    a budget only grows (it used to stop at 2 as 'already complete')."""
    spec = spec_factory(n_trials=4)
    run_study(spec, storage_url, n_trials=2, progress=False)
    assert len(_trials(storage_url, "s")) == 2
    run_study(spec, storage_url, progress=False)
    assert len(_trials(storage_url, "s")) == 4
    assert optuna.load_study(study_name="s", storage=storage_url).user_attrs["hpsearch_spec"]["study"]["n_trials"] == 4


def test_a_different_spec_under_the_same_name_is_refused_before_any_write(storage_url, spec_factory, objectives_module):
    run_study(spec_factory(n_trials=2), storage_url, progress=False)
    with pytest.raises(UserError, match=r"different spec \(study.seed differ\)"):
        run_study(spec_factory(n_trials=2), storage_url, seed=9, progress=False)
    with pytest.raises(UserError, match="space.x.high"):
        run_study(spec_factory(space={"x": {"type": "float", "low": 0.0, "high": 2.0}}), storage_url, progress=False)
    assert len(_trials(storage_url, "s")) == 2


def test_an_objective_that_raises_for_part_of_the_space_fails_those_trials_only(
    storage_url, spec_factory, objectives_module
):
    spec = spec_factory(n_trials=20, objective="hp_test_objectives:raise_above")
    console = _console()
    run_study(spec, storage_url, progress=ConsoleProgress(console))
    trials = _trials(storage_url, "s")
    assert len(trials) == 20 and all(is_finished(t) for t in trials)  # the budget, no re-runs
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all(t.params["x"] > 0.6 for t in failed)
    assert all(t.user_attrs["error"] == f"ValueError: x = {t.params['x']:.3f} is too big" for t in failed)
    assert all("Traceback" in t.system_attrs["fail_reason"] for t in failed)
    assert all(t.state == TrialState.COMPLETE and t.params["x"] <= 0.6 for t in trials if t not in failed)
    assert len({t.params["x"] for t in trials}) == 20  # no configuration was tried twice
    out = console.file.getvalue()
    assert f"failed {len(failed)}" in out and "is too big" in out  # the summary shows them
    run_study(spec, storage_url, progress=False)  # a re-run has nothing left to do
    assert len(_trials(storage_url, "s")) == 20


def test_an_objective_that_always_raises_stops_after_the_first_five(storage_url, spec_factory, objectives_module):
    spec = spec_factory(n_trials=20, objective="hp_test_objectives:crash")
    with pytest.raises(
        ObjectiveFailing,
        match=r"failed on every trial so far \(5; last error, trial #4: "
        r"ValueError: boom\)",
    ):
        run_study(spec, storage_url, progress=False)
    trials = _trials(storage_url, "s")
    assert Counter(t.state for t in trials) == {TrialState.FAIL: FIRST_FAILURES}
    assert all(t.user_attrs["error"] == "ValueError: boom" for t in trials)
    # A re-run of the still-broken objective stops after one more trial, not five.
    with pytest.raises(ObjectiveFailing, match="every trial so far \\(6;"):
        run_study(spec, storage_url, progress=False)
    assert len(_trials(storage_url, "s")) == FIRST_FAILURES + 1


def test_a_budget_smaller_than_five_that_all_fails_stops_too(storage_url, spec_factory, objectives_module):
    with pytest.raises(ObjectiveFailing, match="every trial so far \\(3;"):
        run_study(spec_factory(n_trials=3, objective="hp_test_objectives:crash"), storage_url, progress=False)


def test_many_failures_in_a_row_stop_the_run_at_max_failures(storage_url, spec_factory, objectives_module):
    spec = spec_factory(n_trials=30, objective="hp_test_objectives:fail_from_trial_3")
    with pytest.raises(
        ObjectiveFailing,
        match=r"failed on 4 trials in a row \(last error, trial #6: "
        r"RuntimeError: disk full\); stopping \(max_failures 4\)",
    ):
        run_study(spec, storage_url, progress=False, max_failures=4)
    states = [t.state for t in _trials(storage_url, "s")]
    assert states == [TrialState.COMPLETE] * 3 + [TrialState.FAIL] * 4
    with pytest.raises(ObjectiveFailing, match="in a row"):  # the default limit, MAX_FAILURES
        run_study(spec, storage_url, progress=False)
    assert len(_trials(storage_url, "s")) == 7 + MAX_FAILURES
    with pytest.raises(UserError, match="max_failures: expected a whole number >= 1, got 0"):
        run_study(spec, storage_url, progress=False, max_failures=0)


def test_a_value_that_is_not_a_number_fails_the_trial_with_that_error(storage_url, spec_factory, objectives_module):
    with pytest.raises(ObjectiveFailing):
        run_study(spec_factory(n_trials=8, objective="hp_test_objectives:bad_value"), storage_url, progress=False)
    trials = _trials(storage_url, "s")
    assert len(trials) == 5
    assert "'not a number'" in trials[0].user_attrs["error"]


def test_in_a_pool_the_failing_objective_is_reported_once(storage_url, spec_factory, objectives_module):
    spec = spec_factory(n_trials=20, objective="hp_test_objectives:crash")
    with pytest.raises(ObjectiveFailing, match="ValueError: boom"):
        run_study(spec, storage_url, jobs=2, progress=False)
    trials = _trials(storage_url, "s")
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert sum(is_finished(t) for t in trials) >= FIRST_FAILURES


def test_diverged_trials_count_as_finished_and_are_not_rerun(storage_url, spec_factory, objectives_module):
    spec = spec_factory(n_trials=8, objective="hp_test_objectives:nan_above_half")
    run_study(spec, storage_url, progress=False)
    trials = _trials(storage_url, "s")
    assert len(trials) == 8 and all(is_finished(t) for t in trials)
    diverged = [t for t in trials if t.state == TrialState.FAIL]
    assert diverged and all(t.user_attrs["diverged"] and t.params["x"] > 0.5 for t in diverged)


def test_pruned_trials_count_as_finished(storage_url, spec_factory, objectives_module):
    spec = spec_factory(n_trials=12, objective="hp_test_objectives:per_epoch", pruner="median")
    run_study(spec, storage_url, progress=False)
    states = Counter(t.state for t in _trials(storage_url, "s"))
    assert states[TrialState.PRUNED] > 0 and sum(states.values()) == 12


def test_hyperband_uses_epochs_as_the_resource(spec_factory):
    spec = spec_from_dict({**spec_factory(pruner="hyperband").to_dict(), "training": {"max_epochs": 27}})
    pruner = make_pruner(spec)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert pruner._max_resource == 27 and pruner._min_resource == 1


def test_timeout_stops_starting_trials(storage_url, spec_factory, objectives_module, monkeypatch):
    """A clock that moves 1 s per look: the deadline (now + 2.5 s) passes after exactly two trials."""
    ticks = iter(range(1000))
    monkeypatch.setattr(_workers, "clock", lambda: float(next(ticks)))
    run_study(spec_factory(n_trials=50), storage_url, timeout=2.5, progress=False)
    trials = _trials(storage_url, "s")
    assert len(trials) == 2 and all(t.state == TrialState.COMPLETE for t in trials)


def test_run_studies_runs_every_study_to_its_budget(storage_url, spec_factory, objectives_module):
    specs = [
        spec_factory(name="arm-grid", sampler="grid", n_trials=9),
        spec_factory(name="arm-random", sampler="random", n_trials=3),
    ]
    studies = run_studies(specs, storage_url, progress=False)
    assert [s.study_name for s in studies] == ["arm-grid", "arm-random"]
    assert [len(_trials(storage_url, n)) for n in ("arm-grid", "arm-random")] == [9, 3]
    run_studies(specs, storage_url, progress=False)  # resumable: nothing left to do
    assert [len(_trials(storage_url, n)) for n in ("arm-grid", "arm-random")] == [9, 3]
    with pytest.raises(UserError, match="must differ"):
        run_studies([specs[0], specs[0]], storage_url, progress=False)


def test_progress_and_summary_show_the_best_trial(storage_url, spec_factory, objectives_module):
    console = _console()
    run_study(spec_factory(n_trials=3), storage_url, progress=ConsoleProgress(console))
    out = console.file.getvalue()
    best = optuna.load_study(study_name="s", storage=storage_url).best_trial
    assert f"#{best.number}: {best.value:.6g}" in out and "complete 3" in out


def test_workers_heartbeat_their_running_trial_from_its_start(
    storage_url, spec_factory, objectives_module, monkeypatch
):
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_INTERVAL", "1")
    run_study(spec_factory(n_trials=1, objective="hp_test_objectives:heartbeats"), storage_url, progress=False)
    first, later = _trials(storage_url, "s")[0].user_attrs["beats"]
    assert first != "None"  # beating before the objective even started
    assert later > first


def test_one_pool_of_two_processes_runs_several_grid_studies_exactly(
    storage_url, spec_factory, objectives_module, monkeypatch
):
    """compare's shape: many arms, one pool of worker processes."""
    monkeypatch.setenv("HP_TEST_SLEEP", "0.05")
    specs = [spec_factory(name=f"arm{k}", sampler="grid", n_trials=9, seed=k) for k in range(2)]
    run_studies(specs, storage_url, jobs=2, progress=False)
    for k in range(2):
        trials = _trials(storage_url, f"arm{k}")
        assert len(trials) == 9 and all(t.state == TrialState.COMPLETE for t in trials)
        assert len({(t.params["a"], t.params["b"]) for t in trials}) == 9
