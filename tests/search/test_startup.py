"""Start-up of a run: workers forked with the data split loaded once, no scikit-learn on the trial path."""

from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.search import _workers
from hpsearch.spec import spec_from_dict


def _spec(name="fork", n_trials=6):
    return spec_from_dict(
        {
            "study": {"name": name, "metric": "accuracy", "sampler": "random", "n_trials": n_trials, "seed": 1},
            "data": {"dataset": "iris"},
            "training": {"max_epochs": 2, "batch_size": 32, "patience": 0},
            "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        }
    )


FORKED_RUN = """
import os, sys
import objectives.mlp
from hpsearch.search import _workers, run_study
from hpsearch.spec import spec_from_dict

loads, url = sys.argv[1], sys.argv[2]
real = objectives.mlp.load_problem

def counting_load(data, seed):
    with open(loads, "a") as handle:
        handle.write(f"{os.getpid()}\\n")
    return real(data, seed)

objectives.mlp.load_problem = counting_load
print(_workers.start_method())
spec = spec_from_dict({
    "study": {"name": "fork", "metric": "accuracy", "sampler": "random", "n_trials": 6, "seed": 1},
    "data": {"dataset": "iris"},
    "training": {"max_epochs": 2, "batch_size": 32, "patience": 0},
    "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
})
run_study(spec, url, jobs=2, progress=False)
print(os.getpid())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_pool_workers_are_forked_and_share_the_data_the_parent_loaded(tmp_path):
    # A fresh process: this one may run other tests' leftover threads, and then the pool spawns (rightly).
    loads, url = tmp_path / "loads", f"sqlite:///{tmp_path / 'f.db'}"
    env = {k: v for k, v in os.environ.items() if k != "HPSEARCH_START_METHOD"}
    done = subprocess.run(
        [sys.executable, "-c", FORKED_RUN, str(loads), url], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    method, parent = done.stdout.split()[-2:]
    assert method == "fork"
    trials = optuna.load_study(study_name="fork", storage=url).trials
    assert len(trials) == 6 and all(t.state == TrialState.COMPLETE for t in trials)
    assert loads.read_text().split() == [parent]  # loaded once, in the parent; both workers used it
    pids = {str(t.system_attrs["hpsearch_pid"]) for t in trials}
    assert parent not in pids and 1 <= len(pids) <= 2


def test_workers_are_spawned_when_other_threads_run(monkeypatch):
    import threading

    monkeypatch.delenv("HPSEARCH_START_METHOD", raising=False)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert _workers.start_method() == "spawn"
    finally:
        stop.set()
        thread.join()


def test_a_preloaded_objective_is_used_only_for_the_same_spec(monkeypatch):
    monkeypatch.setattr(_workers, "_PRELOADED", {})
    spec = _spec()
    _workers.preload_objectives([spec])
    key, objective = _workers._PRELOADED["fork"]
    assert key == spec.to_dict() and objective.problem.name == "iris"
    _workers.preload_objectives([spec])  # the same spec again: not rebuilt
    assert _workers._PRELOADED["fork"][1] is objective


def _fresh(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    return f"sqlite:///{path}"


def test_a_new_sqlite_file_gets_the_schema_and_version_stamp_optuna_gives_it(tmp_path):
    import sqlite3

    from hpsearch.storage import open_storage
    from hpsearch.storage._rdb import _head_revision

    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    open_storage(_fresh(ours))
    reference = optuna.storages.RDBStorage(_fresh(theirs))
    assert _head_revision() == reference._version_manager.get_head_version()

    def schema(path):
        with sqlite3.connect(path) as con:
            tables = con.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'hpsearch%' ORDER BY name"
            ).fetchall()
            return tables, con.execute("SELECT version_num FROM alembic_version").fetchall()

    assert schema(ours) == schema(theirs)
    # Plain Optuna opens and checks our file; we open a file Optuna made.
    optuna.storages.RDBStorage(f"sqlite:///{ours}")._version_manager.check_table_schema_compatibility()
    study = optuna.create_study(storage=open_storage(f"sqlite:///{theirs}"), study_name="x")
    assert study.study_name == "x"


def test_opening_a_sqlite_storage_does_not_import_alembic(tmp_path):
    import subprocess

    url = _fresh(tmp_path / "n.db")
    code = (
        "import sys\n"
        "from hpsearch.storage import open_storage\n"
        f"open_storage({url!r})\n"  # a new file
        f"open_storage({url!r})\n"  # an existing one
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_old_schema_stamp_still_gets_optunas_own_error(tmp_path):
    import sqlite3

    from hpsearch.errors import UserError
    from hpsearch.storage import open_storage

    url = _fresh(tmp_path / "old.db")
    open_storage(url)
    with sqlite3.connect(tmp_path / "old.db") as con:
        con.execute("UPDATE alembic_version SET version_num = 'v3.0.0.d'")
    with pytest.raises((RuntimeError, UserError), match="optuna storage upgrade|no longer compatible"):
        open_storage(url)


def test_pool_wait_watches_the_workers_it_found_alive(monkeypatch):
    """Every wait is on the sentinels of workers just seen alive, never on none (a whole poll of
    sleep after the last worker exited: two workers ending together made runs end 0.5 s late)."""
    import multiprocessing

    class Worker:
        exitcode = 0

        def __init__(self):
            self.looks, self.sentinel = 0, object()

        def is_alive(self):  # alive at the first look only: it exits between two looks
            self.looks += 1
            return self.looks == 1

        def join(self, timeout=None):
            pass

    class NoErrors:
        def empty(self):
            return True

    pool = _workers.Pool.__new__(_workers.Pool)
    pool.jobs, pool.procs = 2, [Worker(), Worker()]
    pool.errors, pool.stop = NoErrors(), multiprocessing.Event()
    waited = []
    monkeypatch.setattr(_workers.multiprocessing.connection, "wait", lambda objs, timeout: waited.append(objs))
    pool.wait()
    assert waited == [[w.sentinel for w in pool.procs]]


def test_an_idle_pool_worker_wakes_when_another_tells_a_trial(
    storage_url, spec_factory, objectives_module, monkeypatch
):
    """A worker whose study has only running slots left waits on the pool's ``told`` event (set after
    each trial a worker finishes), so at the study's end it exits with the last worker, not a poll later."""
    from hpsearch.search import ask_trial, prepare_study, tell_trial
    from hpsearch.storage import open_storage

    storage = open_storage(storage_url)
    study, spec = prepare_study(storage, spec_factory(name="idle", n_trials=1))
    trial, _ = ask_trial(study, spec)  # the only slot, running in "another worker"

    def no_sleep(seconds):
        raise AssertionError("a pool worker waits on `told`, not time.sleep")

    class Told:
        def __init__(self):
            self.calls = []

        def wait(self, timeout):
            self.calls.append("wait")
            tell_trial(study, trial, value=1.0)  # the other worker finishes the last trial
            return True

        def clear(self):
            self.calls.append("clear")

        def set(self):
            self.calls.append("set")

    told = Told()
    monkeypatch.setattr(_workers.time, "sleep", no_sleep)
    assert _workers.work(storage, ["idle"], told=told) == 0
    assert told.calls == ["wait", "clear"]


def test_a_forked_worker_uses_the_storage_its_parent_left_it(storage_url, spec_factory, objectives_module, monkeypatch):
    """The pool's parent leaves its storage (pool emptied) for the workers it forks: they do not open
    the database again. Here _process_main runs in this process, as a forked worker would."""
    import threadpoolctl

    from hpsearch.search import prepare_study
    from hpsearch.storage import open_storage

    storage = open_storage(storage_url)
    prepare_study(storage, spec_factory(name="inherit", n_trials=2))

    def no_open(*args, **kwargs):
        raise AssertionError("the worker opened the database again")

    monkeypatch.setattr(_workers, "open_storage", no_open)
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda limits: None)
    monkeypatch.setattr(_workers.signal, "signal", lambda signum, handler: None)
    monkeypatch.setitem(_workers._INHERITED_STORAGE, storage_url, storage)
    _workers._process_main(storage_url, ["inherit"], 0, None, os.getppid())  # its "parent": ours
    assert storage_url not in _workers._INHERITED_STORAGE
    trials = optuna.load_study(study_name="inherit", storage=storage_url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2


@pytest.mark.parametrize(
    ("raised", "reason"),
    [(RuntimeError("a bug"), "worker stopped: RuntimeError"), (KeyboardInterrupt(), "interrupted (Ctrl-C)")],
)
def test_whatever_stops_a_worker_mid_trial_its_running_trial_is_failed_at_once(
    storage_url, spec_factory, objectives_module, monkeypatch, raised, reason
):
    """A trial must not stay RUNNING (its slot held until the heartbeat expires) because an error
    escaped the worker's loop while the trial ran, e.g. while an interrupted trial was being failed."""
    from hpsearch.search import prepare_study
    from hpsearch.storage import open_storage

    storage = open_storage(storage_url)
    study, _ = prepare_study(storage, spec_factory(name="escape", n_trials=2))

    def escapes(job, trial, params, asked, policy=None, beater=None):
        raise raised

    monkeypatch.setattr(_workers, "_run_trial", escapes)
    with pytest.raises(type(raised)):
        _workers.work(storage, ["escape"])
    (trial,) = optuna.load_study(study_name="escape", storage=storage_url).trials
    assert (trial.state, trial.system_attrs.get("fail_reason")) == (TrialState.FAIL, reason)
