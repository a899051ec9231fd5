"""What a trial optimises: datasets, metrics, the MLP objective, user objectives.

``build_objective(spec)`` loads the data split once and returns
``objective(trial, params) -> float``; ``evaluate_best`` re-trains a
configuration on train+validation and scores it on the held-out test split.
User objectives are a function (``"package.module:function"``, imported from
study.workdir, the spec's folder) or a program (``objective = "command"``,
:mod:`objectives.command`). Recorded benchmarks (``objective = "table"``,
:mod:`objectives.table`) look every result up and know the truth:
``evaluate_best`` gives a configuration's true mean and ``true_optimum`` the
best one. See docs/architecture.md ("objectives").
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from hpsearch.errors import UserError
from hpsearch.space import suggest
from hpsearch.spec.catalog import BUILTIN_OBJECTIVES, EXTERNAL_OBJECTIVE
from hpsearch.spec.command import COMMAND_OBJECTIVE
from hpsearch.spec.tables import TABLE_OBJECTIVE

if TYPE_CHECKING:
    from hpsearch.spec import Spec

#: ``objective(trial, params)``: a number, or for several objectives a tuple of them (one per
#: objective) or ``{"values": [...], "constraints": {...}}`` (hpsearch.search's split_outcome).
Objective = Callable[[optuna.trial.BaseTrial, Mapping[str, Any]], Any]

__all__ = [
    "Objective",
    "build_objective",
    "cannot_evaluate",
    "describe_objective",
    "evaluate_best",
    "evaluate_objectives",
    "gradient_check_sample",
    "load_objective",
    "preflight",
    "sample_configuration",
    "scores_by_lookup",
    "true_optimum",
]


def preflight(spec: Spec) -> None:
    """Raise the UserError a run would hit at its start: a broken CSV, an unimportable objective.

    Called by ``load_spec`` for spec files, so ``hpsearch run`` and ``check``
    report such problems before the database is touched. Built-in datasets
    need no check (they cannot be malformed).
    """
    kind = spec.study.objective
    if kind == TABLE_OBJECTIVE:  # the package is installed and the table readable
        from objectives.table import table_view

        table_view(spec)
    elif kind not in BUILTIN_OBJECTIVES:
        if kind not in (EXTERNAL_OBJECTIVE, COMMAND_OBJECTIVE):
            load_objective(kind, spec.study.workdir)
    elif spec.data is not None and spec.data.path is not None:
        build_objective(spec)


def build_objective(spec: Spec) -> Objective:
    """The callable a study optimises; data are loaded (and split) here, once."""
    kind = spec.study.objective
    if kind in BUILTIN_OBJECTIVES:
        from objectives.mlp import MLPObjective

        return MLPObjective(spec)
    if kind == TABLE_OBJECTIVE:
        from objectives.table import TableObjective

        return TableObjective(spec)
    if kind == EXTERNAL_OBJECTIVE:
        raise UserError(
            "study.objective: expected an objective hpsearch can run, got 'external' "
            "(its trials are evaluated by an HTTP client through ask/tell)"
        )
    if kind == COMMAND_OBJECTIVE:
        from objectives.command import CommandObjective

        return CommandObjective(spec)
    function = load_objective(kind, spec.study.workdir)
    fixed = dict(spec.training)

    def user_objective(trial: optuna.trial.BaseTrial, params: Mapping[str, Any]) -> Any:
        # Fixed [training] settings reach the user's function too; searched ones win.
        returned = function(trial, {**fixed, **params})
        # several objectives: a tuple (or {"values": ..., "constraints": ...}), told as it is
        return returned if isinstance(returned, (tuple, list, dict)) else float(returned)

    return user_objective


def load_objective(reference: str, workdir: str | None = None) -> Callable[..., float]:
    """Import ``"package.module:function"``; failures name the key study.objective.

    The module is looked for in ``workdir`` (study.workdir: the spec file's
    folder unless the spec says otherwise), then in the current directory
    (the console script does not put it on sys.path), then on sys.path.
    """
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise UserError(f"study.objective: expected 'package.module:function', got {reference!r}")
    folders = _search_folders(workdir)
    try:
        module = _import(module_name, folders)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0]:
            raise UserError(
                f"study.objective: expected an importable module {module_name!r}, got ModuleNotFoundError: {exc}"
            ) from None
        where = " or ".join(folders) or "sys.path"
        top = module_name.split(".")[0]
        raise UserError(
            f"study.objective: expected a module {module_name!r} in {where}, got {exc} "
            f"(put {top}.py or a package folder {top}/ next to the spec file, "
            "or set study.workdir to the folder that has it)"
        ) from None
    except Exception as exc:  # any import-time failure is the user's code
        raise UserError(
            f"study.objective: expected an importable module {module_name!r}, got {type(exc).__name__}: {exc}"
        ) from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise UserError(
            f"study.objective: expected a function {attr!r} in module {module_name!r}, "
            f"got {'nothing' if function is None else type(function).__name__}"
        )
    return function


def _search_folders(workdir: str | None) -> list[str]:
    folders = [str(Path(workdir).resolve())] if workdir else []
    cwd = os.getcwd()
    return folders + ([cwd] if cwd not in folders else [])


def _import(module_name: str, folders: list[str]):
    """Import with ``folders`` first on sys.path (they stay there: the module may import its neighbours)."""
    for folder in reversed(folders):
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)
    importlib.invalidate_caches()
    return importlib.import_module(module_name)


def _accepts(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function`` can be called with keyword argument ``name`` (named, or through **kwargs)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name and p.kind is not p.POSITIONAL_ONLY or p.kind is p.VAR_KEYWORD for p in parameters)


def cannot_evaluate(spec: Spec) -> str | None:
    """Why ``evaluate_best`` cannot score this study's objective on a test split; None if it can.

    Built-in objectives hold out a test split; a table knows every
    configuration's true mean. A user function can score one when it accepts
    ``split`` (it is then called with ``split="test"``). A command or an
    external (ask/tell) objective has no test split hpsearch knows of.
    """
    kind = spec.study.objective
    if kind in BUILTIN_OBJECTIVES or kind == TABLE_OBJECTIVE:
        return None
    if kind == COMMAND_OBJECTIVE:
        if spec.command is not None and spec.command.test is not None:
            return None
        return (
            'a command objective has no test split hpsearch knows of; add [command] test = "..." '
            "(the same placeholders as run; its last stdout line is the held-out score), or score the "
            "best parameters (hpsearch best NAME) on your test data with your own program"
        )
    if kind == EXTERNAL_OBJECTIVE:
        return "an external objective is evaluated by its HTTP client; hpsearch cannot retrain it"
    if not _accepts(load_objective(kind, spec.study.workdir), "split"):
        return (
            f"{kind} takes no 'split' argument; give it one (def {kind.partition(':')[2]}"
            '(trial, params, split="validation")) and return the test score when split == "test"'
        )
    return None


# The trial number evaluate_best's re-training draws its seeds as (trial_seeds):
# fixed, so an evaluation is reproducible; far from the first trials' numbers.
_EVALUATION_TRIAL = 0x7E57


def evaluate_best(spec: Spec, params: Mapping[str, Any], seed: int | None = None) -> dict[str, float]:
    """Re-train ``params`` on train+validation and score it on the test split.

    The number of epochs is the one early stopping picks on the usual split
    (when patience is on), so the final model trains as long as the search's
    did. ``seed`` (default: study.seed) seeds the re-training, so calling
    this with several seeds separates search luck from a better method.
    Returns ``{"test_<metric>": value, ...}``, the study's metric first, then
    every other metric of the task.

    A table benchmark returns the configuration's true mean (the same for
    every ``seed``: the truth has no training noise left). A user function is
    called with ``split="test"``, and with ``seed=seed`` when it accepts one.
    """
    reason = cannot_evaluate(spec)
    if reason is not None:
        raise UserError(
            f"study.objective: expected an objective that can score a test split, "
            f"got {spec.study.objective!r}: {reason}"
        )
    if spec.study.objective == TABLE_OBJECTIVE:
        from objectives.table import table_view

        return {f"test_{spec.study.metric}": table_view(spec).true_mean(params)}
    if spec.study.objective == COMMAND_OBJECTIVE:
        return _evaluate_command(spec, params, seed)
    if spec.study.objective not in BUILTIN_OBJECTIVES:
        return _evaluate_user_function(spec, params, seed)
    from objectives.metrics import score, task_metrics

    objective, fitted, X_test = _retrain_for_test(spec, params, seed)
    p, metric = objective.problem, objective.metric
    outputs = fitted.outputs(X_test)
    names = [metric] + [m for m in task_metrics(p.task) if m != metric]
    nan = fitted.result.diverged
    return {f"test_{m}": math.nan if nan else score(m, p.y[p.test], outputs, p.task) for m in names}


def evaluate_objectives(spec: Spec, params: Mapping[str, Any], seed: int | None = None) -> list[float]:
    """Every objective of a built-in (MLP) study with several objectives, measured held out for ``params``.

    The network is retrained exactly as :func:`evaluate_best` retrains it
    (train+validation, same epochs rule, same ``seed``); quality metrics are
    scored on the test split (NaN if training diverged), ``train_seconds`` is
    that retraining's, ``n_params`` the network's and ``predict_ms_per_1k`` is
    timed on the test split. One value per ``spec.objective_names``, in order:
    a front member's row of the held-out front the hypervolume verdict decides on.
    """
    from hpsearch.records import COST_METRIC_ATTRS
    from objectives.metrics import score
    from objectives.mlp import cost_attrs

    if spec.study.objective not in BUILTIN_OBJECTIVES:
        raise UserError(
            f"study.objective: expected a built-in objective ({', '.join(BUILTIN_OBJECTIVES)}) to re-measure "
            f"every objective held out, got {spec.study.objective!r}"
        )
    objective, fitted, X_test = _retrain_for_test(spec, params, seed)
    p = objective.problem
    costs = cost_attrs(fitted, X_test)
    outputs = fitted.outputs(X_test)
    values = []
    for name in spec.objective_names:
        if name in COST_METRIC_ATTRS:
            values.append(float(costs[COST_METRIC_ATTRS[name]]))
        else:
            values.append(math.nan if fitted.result.diverged else score(name, p.y[p.test], outputs, p.task))
    return values


def _retrain_for_test(spec: Spec, params: Mapping[str, Any], seed: int | None) -> tuple[Any, Any, np.ndarray]:
    """(MLPObjective, the network retrained on train+validation, the test design matrix) for ``params``.

    The number of epochs is the one early stopping picks on the usual split
    (when patience is on), so the final model trains as long as the search's did.
    """
    from objectives.mlp import MLPObjective, fit_network, trial_seeds

    objective = MLPObjective(spec)
    p, metric = objective.problem, objective.metric
    config = objective.config(params)
    seed = spec.study.seed if seed is None else seed
    seeds = trial_seeds(seed, _EVALUATION_TRIAL)
    epochs = int(config["max_epochs"])
    if int(config["patience"]):
        X_train, X_val = objective.features(config, p.train, [p.train, p.val])
        probe = fit_network(config, p, X_train, p.y[p.train], X_val=X_val, y_val=p.y[p.val], metric=metric, seeds=seeds)
        epochs = probe.result.best_epoch or probe.result.epochs_run
    fit_rows = np.sort(np.concatenate([p.train, p.val]))
    X_fit, X_test = objective.features(config, fit_rows, [fit_rows, p.test])
    fitted = fit_network(
        config, p, X_fit, p.y[fit_rows], X_val=None, y_val=None, metric=metric, seeds=seeds, max_epochs=epochs
    )
    return objective, fitted, X_test


def _evaluate_command(spec: Spec, params: Mapping[str, Any], seed: int | None) -> dict[str, float]:
    """Run ``[command] test`` once for ``params`` (env ``HPSEARCH_SEED``: the evaluation seed); its last line scores.

    It runs in a folder of its own, ``<workdir>/.hpsearch-trials/<study>/test``,
    where its output is kept too; a failing test command is one line (exit 2).
    """
    from objectives.command import TRIALS_FOLDER, CommandFailed, CommandObjective

    seed = spec.study.seed if seed is None else seed
    command = CommandObjective(spec)
    folder = Path(command.workdir, TRIALS_FOLDER, *spec.study.name.split("/"), "test")
    try:
        value = command.test_score(params, folder, extra_env={"HPSEARCH_SEED": str(seed)})
    except CommandFailed as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"command.test: expected a test command that prints a score, got: {first}") from None
    return {f"test_{spec.study.metric or 'value'}": value}


def _evaluate_user_function(spec: Spec, params: Mapping[str, Any], seed: int | None) -> dict[str, float]:
    """Call the user's function once with ``split="test"`` (and ``seed``, if it takes one) on a FixedTrial.

    Called once per evaluation seed; a function that takes ``seed`` can retrain
    with it, so the spread over seeds is its training noise.
    """
    function = load_objective(spec.study.objective, spec.study.workdir)
    seed = spec.study.seed if seed is None else seed
    trial = optuna.trial.FixedTrial(dict(params), number=_EVALUATION_TRIAL + seed)
    extra: dict[str, Any] = {"seed": seed} if _accepts(function, "seed") else {}
    value = float(function(trial, {**spec.training, **params}, split="test", **extra))
    return {f"test_{spec.study.metric or 'value'}": value}


def scores_by_lookup(spec: Spec) -> bool:
    """Whether ``evaluate_best`` only looks its score up (a table benchmark's true mean): then the held-out
    scoring runs in the caller's process, where spawning workers would cost seconds for microseconds of work."""
    return spec.study.objective == TABLE_OBJECTIVE


def true_optimum(spec: Spec) -> float | None:
    """The best true quality any configuration the spec allows can have; None where it is unknown.

    Known only for table benchmarks (the best mean over the recorded runs of
    the table, narrowed as the spec narrows it), where it gives every repeat's
    true regret: optimum minus the true quality (``evaluate_best``) of its pick.
    """
    if spec.study.objective != TABLE_OBJECTIVE:
        return None
    from objectives.table import table_view

    return table_view(spec).optimum()


def describe_objective(spec: Spec) -> list[str]:
    """Lines for ``hpsearch check`` on what a trial will do beyond the space.

    A CSV: its columns as typed, which empty cells are imputed and how, which
    text columns are one-hot encoded. A table: its axes and known optimum. A command: the program, where it runs,
    its timeout and where each trial's folder goes.
    """
    if spec.study.objective == TABLE_OBJECTIVE:
        from objectives.table import table_view

        return table_view(spec).describe()
    if spec.study.objective == COMMAND_OBJECTIVE:
        from objectives.command import TRIALS_FOLDER

        workdir = spec.study.workdir or os.getcwd()
        return [
            f"command: {spec.command.run}",
            f"  runs in {workdir} (no shell), timeout {spec.command.timeout:g} s per trial; "
            f"each trial's folder: {Path(workdir) / TRIALS_FOLDER / spec.study.name}/<slot>",
        ]
    data = spec.data
    if data is None or data.dataset != "csv":
        return []
    from objectives.csvfile import describe_csv

    return describe_csv(data)


def sample_configuration(spec: Spec) -> dict[str, Any]:
    """One configuration of the space, drawn reproducibly (random sampler, study seed)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.study.seed))
    return suggest(study.ask(), spec.space)


def gradient_check_sample(spec: Spec, n_rows: int = 8, max_checks: int = 400) -> float | None:
    """Max relative gradient error of one sampled network on a few real rows (float64).

    None when the objective is not a built-in one (there is no network to check).
    A correct backward pass gives ~1e-7 or less.
    """
    if spec.study.objective not in BUILTIN_OBJECTIVES:
        return None
    from hpsearch.nn import gradient_check
    from objectives.mlp import MLPObjective, build_network

    objective = MLPObjective(spec)
    p = objective.problem
    config = objective.config(sample_configuration(spec))
    rows = p.train[:n_rows]
    (X,) = objective.features(config, p.train, [rows])
    y = p.y[rows]
    if p.task == "regression":
        y = ((y - p.y[p.train].mean()) / (p.y[p.train].std() or 1.0)).reshape(-1, 1)
    net = build_network(config, p, X.shape[1], seed=spec.study.seed, dtype=np.float64)
    return float(
        gradient_check(
            net,
            X,
            y,
            weight_decay=float(config["weight_decay"]),
            l1=float(config["l1"]),
            max_checks=max_checks,
            seed=spec.study.seed,
        )
    )
