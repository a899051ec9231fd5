"""Optuna studies made directly (no training), shaped the way hpsearch stores them."""

from __future__ import annotations

import math

import optuna
import pytest

optuna.logging.set_verbosity(optuna.logging.WARNING)

GRID = {"learning_rate": [1e-3, 3e-2], "width": [16, 256], "optimizer": ["sgd", "adam"]}


def synthetic(trial: optuna.Trial, *, hostile: str | None = None) -> float:
    """Accuracy-like score driven mostly by learning rate and optimizer; lr > 0.08 diverges."""
    lr = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    width = trial.suggest_int("width", 16, 256, log=True)
    opt = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    score = 0.95 - 0.05 * abs(math.log10(lr) + 2.5) - (0.04 if opt == "sgd" else 0) + 0.0001 * math.log(width)
    curve = [score * (1 - 0.5 ** (e + 1)) for e in range(5)]
    for step, v in enumerate(curve):
        trial.report(v, step)
    trial.set_user_attr("train_seconds", 0.1 + width / 1000)
    trial.set_user_attr("epochs_run", len(curve))
    trial.set_user_attr("learning_curve", curve)
    if hostile:
        trial.set_user_attr("note", hostile)
    if lr > 0.08:
        trial.set_user_attr("diverged", True)
        return float("nan")
    return score


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "grid":
        return optuna.samplers.GridSampler(GRID, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)


def make_comparison(
    storage,
    name: str = "demo",
    samplers=("grid", "random", "tpe"),
    seeds=(0, 1),
    n_trials: int = 6,
    verdict: bool = True,
) -> list[str]:
    """The arm studies of comparison ``name``; ``verdict``: store their verdict with them, as compare does."""
    names = []
    for sampler in samplers:
        for seed in seeds:
            sname = f"{name}-{sampler}-s{seed}"
            study = optuna.create_study(
                study_name=sname, storage=storage, direction="maximize", sampler=_sampler(sampler, seed)
            )
            for k, v in {
                "sampler": sampler,
                "seed": seed,
                "comparison": name,
                "optuna_version": optuna.__version__,
                "sampler_args": {"seed": seed},
            }.items():
                study.set_user_attr(k, v)
            study.optimize(synthetic, n_trials=n_trials)
            names.append(sname)
    if verdict:
        from hpsearch.comparison._verdict import load_verdict, store_verdict

        store_verdict(storage, name, load_verdict(storage, name))
    return names


@pytest.fixture
def storage():
    """In memory: the report reads any BaseStorage the same way (SQLite writes are slow)."""
    return optuna.storages.InMemoryStorage()


@pytest.fixture(name="make_comparison")
def _make_comparison_fixture():
    """The helper above (tests run with --import-mode=importlib, so conftest is not importable)."""
    return make_comparison


@pytest.fixture(name="synthetic")
def _synthetic_fixture():
    return synthetic


@pytest.fixture(scope="session")
def demo_storage():
    """A 3-sampler x 2-seed x 6-trial comparison "demo", in memory, built once per run."""
    st = optuna.storages.InMemoryStorage()
    make_comparison(st, name="demo", n_trials=6)
    return st


def tradeoff(trial: optuna.Trial) -> tuple[float, float]:
    """Accuracy against seconds: a wider net is more accurate and slower; width > 200 violates a size limit."""
    lr = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    width = trial.suggest_int("width", 16, 256, log=True)
    opt = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    accuracy = 0.9 - 0.05 * abs(math.log10(lr) + 2.5) + 0.03 * math.log(width / 16) / math.log(16)
    accuracy -= 0.04 if opt == "sgd" else 0.0
    seconds = 0.2 + width / 100 + (0.3 if opt == "adam" else 0.0)
    trial.set_constraint("width", width - 200)  # Optuna's constraint API: feasible when <= 0
    return accuracy, seconds


def make_multi_objective(
    storage, name: str = "tradeoff", *, n_trials: int = 40, seed: int = 0, names: bool = True
) -> optuna.Study:
    """A foreign two-objective study (accuracy up, seconds down) with a constraint, as Optuna makes it."""
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=["maximize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    if names:
        study.set_metric_names(["accuracy", "train_seconds"])
    study.optimize(tradeoff, n_trials=n_trials)
    return study


@pytest.fixture(name="make_multi_objective")
def _make_multi_objective_fixture():
    return make_multi_objective


def make_multi_objective_comparison(storage, name: str = "mo", *, seeds=(0, 1, 2), n_trials: int = 20) -> None:
    """Arm studies of a two-objective comparison (random and TPE-like arms over ``tradeoff``), no verdict stored."""
    for sampler in ("random", "tpe"):
        for seed in seeds:
            sampler_obj = (
                optuna.samplers.RandomSampler(seed=seed)
                if sampler == "random"
                else optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
            )
            study = optuna.create_study(
                study_name=f"{name}-{sampler}-s{seed}",
                storage=storage,
                directions=["maximize", "minimize"],
                sampler=sampler_obj,
            )
            study.set_metric_names(["accuracy", "train_seconds"])
            for k, v in {"sampler": sampler, "seed": seed, "comparison": name}.items():
                study.set_user_attr(k, v)
            study.optimize(tradeoff, n_trials=n_trials)


@pytest.fixture(name="make_multi_objective_comparison")
def _make_multi_objective_comparison_fixture():
    return make_multi_objective_comparison
