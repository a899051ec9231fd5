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
    if spec.study.objective == "table":  # a recorded benchmark: one look-up, no training
        study = optuna.create_study(direction=spec.study.direction, sampler=optuna.samplers.RandomSampler(seed=0))
        trial = study.ask()
        assert math.isfinite(build_objective(spec)(trial, suggest(trial, spec.space)))
        return
    d = spec.to_dict()
    d["training"] = {**d["training"], "max_epochs": 2}
    if "max_epochs" in d["space"]:
        del d["training"]["max_epochs"]
    short = spec_from_dict(d)
    objective = build_objective(short)
    study = optuna.create_study(directions=short.directions, sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    value = objective(trial, suggest(trial, short.space))
    values = value if short.is_multi_objective else (value,)  # several objectives: one value each
    assert len(values) == len(short.directions)
    if short.study.objective == "command":  # the user's own program: a value, and a trial folder to remove
        shutil.rmtree(Path(trial.user_attrs["trial_dir"]).parent)
        assert all(map(math.isfinite, values))
        return
    assert all(map(math.isfinite, values)) or trial.user_attrs["diverged"]
    assert trial.user_attrs["epochs_run"] <= 2


def test_the_flagship_grid_is_two_cell_centres_per_axis():
    """digits.toml's 64 trials buy grid search 2 points per axis, inside each range (docs/science.md)."""
    from hpsearch.space import grid_points_per_axis, grid_size, grid_values

    root = Path(__file__).resolve().parents[2] / "studies"
    for name in ("digits.toml", "digits-grid.toml", "digits-random.toml"):
        spec = load_spec(root / name)
        assert spec.study.n_trials == 64 and spec.training["max_epochs"] == 10 and spec.training["patience"] == 0
        assert grid_points_per_axis(spec.space, 64) == dict.fromkeys(
            ["learning_rate", "optimizer", "width", "depth", "dropout", "batch_size"], 2
        )
        assert grid_size(spec.space, 64) == 64
        g = grid_values(spec.space, 64)
        assert g["learning_rate"] == pytest.approx([1e-5**0.75, 1e-5**0.25], rel=5e-3)  # 1.78e-4, 0.0562
        assert g["optimizer"] == ["sgd", "adam"] and g["width"] == [32, 128] and g["depth"] == [1, 3]
        assert g["dropout"] == [0.125, 0.375] and g["batch_size"] == [32, 128]
