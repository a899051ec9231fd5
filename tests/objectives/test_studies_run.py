"""Every ready-made study in studies/ builds its objective and trains one short trial."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import optuna
import pytest

from hpsearch.space import suggest
from hpsearch.spec import load_spec, spec_from_dict
from objectives import build_objective

STUDIES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.toml"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_study_runs_one_short_trial(path):
    spec = load_spec(path)
    d = spec.to_dict()
    d["training"] = {**d["training"], "max_epochs": 2}
    if "max_epochs" in d["space"]:
        del d["training"]["max_epochs"]
    short = spec_from_dict(d)
    objective = build_objective(short)
    study = optuna.create_study(direction=short.study.direction, sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    value = objective(trial, suggest(trial, short.space))
    if short.study.objective == "command":  # the user's own program: a value, and a trial folder to remove
        shutil.rmtree(Path(trial.user_attrs["trial_dir"]).parent)
        assert math.isfinite(value)
        return
    assert math.isfinite(value) or trial.user_attrs["diverged"]
    assert trial.user_attrs["epochs_run"] <= 2
