"""`hpsearch copy` from SQLite to PostgreSQL and back: every trial, its slots and its queue travel."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from hpsearch.cli import main
from hpsearch.search import enqueue, run_study
from hpsearch.spec import spec_from_dict

SPEC = {
    "study": {"name": "tiny", "metric": "accuracy", "sampler": "tpe", "n_trials": 3, "seed": 2},
    "data": {"dataset": "iris"},
    "training": {"max_epochs": 2, "batch_size": 32},
    "space": {
        "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "width": {"type": "int", "low": 4, "high": 16},
    },
}


def _comparable(url, name):
    trials = optuna.load_study(study_name=name, storage=url).trials
    return [
        (t.number, t.state, t.values, t.params, t.intermediate_values, t.user_attrs, t.system_attrs)
        for t in sorted(trials, key=lambda t: t.number)
    ]


def test_copy_sqlite_to_postgresql_and_back_keeps_everything_and_resumes(pg_url, tmp_path, capsys):
    lite = f"sqlite:///{tmp_path / 'lite.db'}"
    spec = spec_from_dict(SPEC)
    run_study(spec, lite, progress=False)
    enqueue(lite, "tiny", [{"learning_rate": 0.02, "width": 7}])  # waits: the budget of 3 is used up
    assert main(["copy", "tiny", "tiny", "--storage", lite, "--storage-to", pg_url]) == 0
    assert _comparable(pg_url, "tiny") == _comparable(lite, "tiny")
    assert main(["copy", "tiny", "tiny", "--storage", lite, "--storage-to", pg_url]) == 2
    assert "study 'tiny' already exists" in capsys.readouterr().err
    run_study(spec, pg_url, n_trials=5, progress=False)  # resumed on PostgreSQL: 2 more, the queued one first
    trials = optuna.load_study(study_name="tiny", storage=pg_url).trials
    assert len(trials) == 5 and all(t.state == TrialState.COMPLETE for t in trials)
    by_slot = {t.system_attrs["hpsearch_slot"]: t for t in trials}
    assert sorted(by_slot) == list(range(5)) and by_slot[3].params == {"learning_rate": 0.02, "width": 7}
    assert main(["copy", "tiny", "back", "--storage", pg_url, "--storage-to", lite]) == 0
    assert _comparable(lite, "back") == _comparable(pg_url, "tiny")
    assert main(["show", "back", "--storage", lite]) == 0
    assert "5 of 5 trials finished" in capsys.readouterr().out
