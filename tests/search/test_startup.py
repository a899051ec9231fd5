"""Start-up of a run: workers forked with the data split loaded once, no scikit-learn on the trial path."""

from __future__ import annotations

import os
import sys

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.search import _workers, run_study
from hpsearch.spec import spec_from_dict


def _spec(name="fork", n_trials=6):
    return spec_from_dict({
        "study": {"name": name, "metric": "accuracy", "sampler": "random", "n_trials": n_trials, "seed": 1},
        "data": {"dataset": "iris"},
        "training": {"max_epochs": 2, "batch_size": 32, "patience": 0},
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
    })


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_pool_workers_are_forked_and_share_the_data_the_parent_loaded(tmp_path, monkeypatch):
    import objectives.mlp

    loads = tmp_path / "loads"
    real = objectives.mlp.load_problem

    def counting_load(data, seed):
        with open(loads, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return real(data, seed)

    monkeypatch.setattr(objectives.mlp, "load_problem", counting_load)
    monkeypatch.delenv("HPSEARCH_START_METHOD", raising=False)
    monkeypatch.setattr(_workers, "_PRELOADED", {})
    assert _workers.start_method() == "fork"
    url = f"sqlite:///{tmp_path / 'f.db'}"
    run_study(_spec(), url, jobs=2, progress=False)
    trials = optuna.load_study(study_name="fork", storage=url).trials
    assert len(trials) == 6 and all(t.state == TrialState.COMPLETE for t in trials)
    assert loads.read_text().split() == [str(os.getpid())]  # loaded once, here; both workers used it
    pids = {t.system_attrs["hpsearch_pid"] for t in trials}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_a_preloaded_objective_is_used_only_for_the_same_spec(monkeypatch):
    monkeypatch.setattr(_workers, "_PRELOADED", {})
    spec = _spec()
    _workers.preload_objectives([spec])
    key, objective = _workers._PRELOADED["fork"]
    assert key == spec.to_dict() and objective.problem.name == "iris"
    _workers.preload_objectives([spec])  # the same spec again: not rebuilt
    assert _workers._PRELOADED["fork"][1] is objective
