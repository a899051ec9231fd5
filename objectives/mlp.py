"""The MLP objective: hyperparameters -> network -> train -> validation metric.

One :class:`MLPObjective` is built per study (the data are loaded and split
once); calling it runs one trial. Every epoch's validation metric goes to
``trial.report`` so Optuna's pruners can stop hopeless trials early. The
network and shuffling seeds come from (study seed, trial slot): a slot's
configuration and its training seeds do not depend on which worker runs it or
on how many run (a trial's number does), so a run is reproducible from its
spec at any ``--jobs``, and a re-run slot trains exactly as before.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from hpsearch.errors import UserError
from hpsearch.nn import EpochRecord, Network, TrainResult, train
from hpsearch.records import (
    BEST_EPOCH_ATTR,
    COST_METRIC_ATTRS,
    DIVERGED_ATTR,
    EPOCHS_RUN_ATTR,
    LEARNING_CURVE_ATTR,
    N_PARAMETERS_ATTR,
    PREDICT_MS_ATTR,
    STOP_REASON_ATTR,
    TRAIN_SECONDS_ATTR,
    finite_or_none,
)
from hpsearch.spec.catalog import COST_METRICS, hyperparameters
from hpsearch.storage._attrs import set_user_attrs, trial_slot
from objectives.datasets import Problem, load_problem
from objectives.metrics import greater_is_better, score, task_metrics

_CACHED_DESIGNS = 4


def trial_seeds(study_seed: int, slot: int) -> tuple[int, int]:
    """(network init seed, training seed) for one trial slot: reproducible and distinct per slot.

    Keyed by the slot (hpsearch.storage.trial_slot; a trial's number when it has
    none), never by the trial number, which depends on how many workers ran.
    """
    a, b = np.random.SeedSequence([study_seed, slot]).generate_state(2)
    return int(a), int(b)


@dataclass
class Fitted:
    """A trained network plus what is needed to read its outputs in target units."""

    net: Network
    result: TrainResult
    y_mean: float = 0.0
    y_std: float = 1.0

    def outputs(self, X: np.ndarray) -> np.ndarray:
        # A diverged network's outputs overflow, in predict and in the rescale.
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.net.predict(X)
            return out * self.y_std + self.y_mean if self.net.task == "regression" else out


def build_network(
    config: Mapping[str, Any], problem: Problem, n_inputs: int, *, seed: int, dtype: type | None = None
) -> Network:
    """The untrained network ``config`` describes for ``problem``.

    One builder for training and for ``hpsearch check``'s gradient check, so
    the check verifies the architecture trials actually train. ``dtype``
    overrides config["dtype"] (the gradient check needs float64).
    """
    task = problem.task
    n_outputs = problem.n_classes if task == "multiclass" else 1
    hidden = [int(config["width"])] * int(config["depth"])
    return Network(
        n_inputs,
        hidden,
        n_outputs,
        task=task,
        activation=config["activation"],
        dropout=float(config["dropout"]),
        batch_norm=bool(config["batch_norm"]),
        init=config["init"],
        dtype=dtype or np.dtype(config["dtype"]).type,
        random_state=seed,
    )


def fit_network(
    config: Mapping[str, Any],
    problem: Problem,
    X: np.ndarray,
    y: np.ndarray,
    *,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    metric: str,
    seeds: tuple[int, int],
    callbacks: Sequence[Callable[[EpochRecord], bool]] = (),
    max_epochs: int | None = None,
) -> Fitted:
    """Build the network ``config`` describes and train it (early stopping needs X_val)."""
    task = problem.task
    net = build_network(config, problem, X.shape[1], seed=seeds[0])
    y_mean, y_std = 0.0, 1.0
    if task == "regression":  # train on a standardized target; metrics in the target's own units
        y_mean, y_std = float(np.mean(y)), float(np.std(y)) or 1.0
        y = ((y - y_mean) / y_std).reshape(-1, 1)
        y_val = None if y_val is None else ((y_val - y_mean) / y_std).reshape(-1, 1)

    def val_metric(y_true: np.ndarray, outputs: np.ndarray) -> float:
        if task == "regression":
            return score(metric, np.asarray(y_true) * y_std + y_mean, outputs * y_std + y_mean, task)
        return score(metric, y_true, outputs, task)

    has_val = X_val is not None
    # A diverging run overflows; train() records it and keeps numpy's warnings
    # (noise in the CLI output) quiet itself, val_metric calls included.
    result = train(
        net,
        X,
        y,
        X_val=X_val,
        y_val=y_val,
        optimizer=config["optimizer"],
        learning_rate=float(config["learning_rate"]),
        momentum=float(config["momentum"]),
        weight_decay=float(config["weight_decay"]),
        l1=float(config["l1"]),
        clip_norm=float(config["clip_norm"]) or None,
        batch_size=int(config["batch_size"]),
        max_epochs=int(max_epochs or config["max_epochs"]),
        schedule=config["schedule"],
        time_budget=float(config["time_budget"]) or None,
        patience=(int(config["patience"]) or None) if has_val else None,
        val_metric=val_metric if has_val else None,
        greater_is_better=greater_is_better(metric),
        callbacks=callbacks,
        random_state=seeds[1],
    )
    return Fitted(net, result, y_mean, y_std)


class MLPObjective:
    """``objective(trial, params) -> validation metric`` for the mlp and text objectives."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.metric: str = spec.study.metric
        self.problem = load_problem(spec.data, spec.split_seed)
        if self.metric not in task_metrics(self.problem.task):
            raise UserError(
                f"study.metric: expected one of {', '.join(task_metrics(self.problem.task))} "
                f"for this {self.problem.task} dataset, got {self.metric!r}"
            )
        self.defaults = {name: h.default for name, h in hyperparameters(spec.study.objective).items()}
        self._features: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()

    def config(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults, then the spec's fixed [training] settings, then the trial's params."""
        return {**self.defaults, **self.spec.training, **params}

    def features(self, config: Mapping[str, Any], fit_rows: np.ndarray, row_sets: Sequence[np.ndarray]) -> list:
        """Design matrices, cached per feature-affecting settings (text vocabularies are not free).

        The cache keeps the few most recent designs only: a searched vocab_size
        makes nearly every trial's design different, and each is n x vocab.
        """
        key_names = ("vocab_size", "min_count", "ngram", "features") if self.problem.is_text else ()
        key = (tuple(config.get(k) for k in key_names), fit_rows.tobytes(), tuple(r.tobytes() for r in row_sets))
        if key in self._features:
            self._features.move_to_end(key)
        else:
            self._features[key] = self.problem.design(config, fit_rows, row_sets)
            while len(self._features) > _CACHED_DESIGNS:
                self._features.popitem(last=False)
        return self._features[key]

    def _objective_value(
        self, name: str, value: float, attrs: Mapping[str, Any], y_val: np.ndarray, outputs: np.ndarray
    ) -> float:
        """Objective ``name`` of a trained trial: a cost metric from its attrs, the study metric's
        ``value``, or another quality metric scored on the same validation outputs (NaN if diverged)."""
        if name in COST_METRICS:
            return float(attrs[COST_METRIC_ATTRS[name]])
        if name == self.metric:
            return value
        return math.nan if attrs[DIVERGED_ATTR] else score(name, y_val, outputs, self.problem.task)

    def _callbacks(self, trial: optuna.trial.BaseTrial, state: dict) -> list:
        """Per-epoch reports only when a pruner reads them.

        Each report and pruning question is a storage round trip (two per
        epoch); under a NopPruner (``pruner = "none"``) nobody reads them, and
        the curve is stored once per trial as ``learning_curve`` anyway.
        Measured: 40 digits trials of 60 epochs went from 152 to 184 trials/min.
        """
        if self.spec.is_multi_objective:  # Optuna prunes one objective only: report() raises for several
            return []
        if isinstance(getattr(getattr(trial, "study", None), "pruner", None), optuna.pruners.NopPruner):
            return []
        return [_pruning_callback(trial, state)]

    def __call__(self, trial: optuna.trial.BaseTrial, params: Mapping[str, Any]) -> float:
        p = self.problem
        config = self.config(params)
        X_train, X_val = self.features(config, p.train, [p.train, p.val])
        y_val = p.y[p.val]
        state = {"pruned": False}
        fitted = fit_network(
            config,
            p,
            X_train,
            p.y[p.train],
            X_val=X_val,
            y_val=y_val,
            metric=self.metric,
            seeds=trial_seeds(self.spec.study.seed, trial_slot(trial)),
            callbacks=self._callbacks(trial, state),
        )
        result = fitted.result
        outputs = fitted.outputs(X_val)
        value = math.nan if result.diverged else score(self.metric, y_val, outputs, p.task)
        attrs = {
            **cost_attrs(fitted, X_val),
            EPOCHS_RUN_ATTR: result.epochs_run,
            LEARNING_CURVE_ATTR: [finite_or_none(r.val_metric) for r in result.history],  # stored as JSON
            BEST_EPOCH_ATTR: result.best_epoch,
            STOP_REASON_ATTR: "pruned" if state["pruned"] else result.stop_reason,
            DIVERGED_ATTR: bool(result.diverged or not math.isfinite(value)),
        }
        set_user_attrs(trial, attrs)  # one write, not seven
        if state["pruned"]:
            raise optuna.TrialPruned(f"pruned after epoch {result.epochs_run}")
        if self.spec.is_multi_objective:  # one value per objective, by name: cost metrics, then quality metrics
            return tuple(
                self._objective_value(name, value, attrs, y_val, outputs) for name in self.spec.objective_names
            )
        return math.nan if attrs[DIVERGED_ATTR] else float(value)


def cost_attrs(fitted: Fitted, X: np.ndarray) -> dict[str, float]:
    """The cost metrics of a trained network, keyed by their trial attrs: its training seconds, its
    weights and its prediction time on ``X``. One place, so a trial and a held-out re-scoring of a
    front (objectives.evaluate_objectives) measure cost alike."""
    return {
        TRAIN_SECONDS_ATTR: fitted.result.train_seconds,
        N_PARAMETERS_ATTR: fitted.net.n_parameters,
        PREDICT_MS_ATTR: predict_ms_per_1k(fitted, X),
    }


#: Timings taken of a trained network's prediction; the fastest is kept (the others met a busy machine).
PREDICT_REPEATS = 3


def predict_ms_per_1k(fitted: Fitted, X: np.ndarray) -> float:
    """Milliseconds the network takes to predict 1,000 rows: the best of a few timings on ``X``.

    The fastest of PREDICT_REPEATS runs is the least disturbed by other work on
    the machine; per 1,000 rows, so the figure does not depend on the split's size.
    """
    best = math.inf
    for _ in range(PREDICT_REPEATS):
        start = time.perf_counter()
        fitted.outputs(X)
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best * 1000.0 / max(1, len(X))


def _pruning_callback(trial: optuna.trial.BaseTrial, state: dict) -> Callable[[EpochRecord], bool]:
    """Report each epoch's validation metric; ask training to stop when the pruner says so."""

    def callback(record: EpochRecord) -> bool:
        if record.val_metric is None or not math.isfinite(record.val_metric):
            return False
        trial.report(float(record.val_metric), record.epoch)
        if trial.should_prune():
            state["pruned"] = True
            return True
        return False

    return callback
