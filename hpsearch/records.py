"""The study's vocabulary: the one home of what a stored study's words mean.

Every layer reads stored studies (storage's aggregate SQL, the run loop, the
comparison, the report, the server, the CLI), and each used to carry its own
copy of these rules; copies drift (a display that forgot the grid cap showed a
finished grid comparison as ``0/2 repeats done``). So they live here, below
everything that reads a study, and the rest import them
(``tests/test_boundaries.py`` fails on an attribute-key literal elsewhere):

* the **attribute keys** hpsearch writes on studies and trials;
* what a trial's **outcome** means: COMPLETE has a value; PRUNED was stopped
  early; FAIL with user attr ``diverged`` is a real result (the learning rate
  was too high); FAIL with user attr ``error`` is an objective that raised (or
  a command that failed) on that configuration, a result too, never re-run.
  These four are **finished** and fill a slot of the budget. Any other FAIL
  is **crashed** (the worker died, was interrupted, or its lease ran out), and
  its slot runs again. The claims table (hpsearch.storage) applies the same
  rule in SQL; tests/search/test_trial.py checks the two agree;
* the **budget**: ``n_trials``, capped at the grid's size for grid search;
* the **best trial**: the best finite COMPLETE value, the earliest on ties;
  a multi-objective study has no single best (``None`` everywhere: CLI,
  server and report alike) and :func:`pareto_front` gives its front instead;
* **feasible**: a trial whose constraint values (Optuna's ``trial.constraints``,
  written by ``trial.set_constraint``) are all <= 0; an infeasible trial is kept
  and shown, but is never the best trial nor on the front. A spec's
  ``[constraints]`` become such values by :func:`constraint_values`;
* **NaN to JSON**: JSON has no NaN or infinity, so they become ``null``.

Imports only Optuna's public API, the spec models and the grid's size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hpsearch.spec import Spec

# --- attribute keys ---------------------------------------------------------------------------

# study user attrs
SPEC_ATTR = "hpsearch_spec"  # the spec dict the study runs with
SAMPLER_ATTR = "sampler"  # the sampler's name
SAMPLER_ARGS_ATTR = "sampler_args"  # every argument the sampler was built with
OPTUNA_VERSION_ATTR = "optuna_version"
SEED_ATTR = "seed"  # the study seed (a comparison's repeat)
COMPARISON_ATTR = "comparison"  # a compare arm's group name
CREATED_BY_ATTR = "created_by"  # "api" on studies the HTTP API created (hpsearch.trust)
N_VAL_ATTR = "n_val"  # split sizes of a compare arm (differences in examples)
N_TEST_ATTR = "n_test"
VERDICT_ATTR = "comparison_verdict"  # the verdict compare computed, stored with the comparison's first arm
# the held-out score of the study's best configuration (``best --evaluate``, compare's re-scoring)
TEST_SCORE_ATTR = "test_score"  # mean over evaluation seeds
TEST_SCORE_STD_ATTR = "test_score_std"  # SD over evaluation seeds
TEST_SCORES_ATTR = "test_scores"  # one per evaluation seed
TEST_METRICS_ATTR = "test_metrics"  # every metric's mean
TEST_METRIC_ATTR = "test_metric"  # which metric test_score is
TEST_TRIAL_ATTR = "test_trial"  # the trial number re-scored
TEST_SEEDS_ATTR = "test_seeds"  # the evaluation seeds
TRUE_OPTIMUM_ATTR = "true_optimum"  # a benchmark's known best held-out score (table benchmarks)
# several objectives: a repeat's front re-scored held out {"trials": [numbers], "values": [[one per objective]]},
# and a benchmark's known true front [[one value per objective], ...] (table benchmarks)
TEST_FRONT_ATTR = "test_front"
TRUE_FRONT_ATTR = "true_front"
# study system attr: set by ``hpsearch stop`` (when and from where), cleared (None) by the next run or worker
STOP_ATTR = "hpsearch_stop"

# trial system attrs (hpsearch's own, beside Optuna's)
SLOT_ATTR = "hpsearch_slot"  # the budget slot a trial runs (its configuration and seed derive from it)
HOST_ATTR = "hpsearch_host"  # the machine of the worker running the trial (crash recovery, trial logs)
PID_ATTR = "hpsearch_pid"  # that worker's process id (a dead one's trial is a crash)
LEASE_ATTR = "hpsearch_lease_until"  # when an HTTP client's trial is given up (epoch seconds)
ASK_KEY_ATTR = "hpsearch_ask_key"  # the Idempotency-Key of the ask that created the trial
CLAIM_TOKEN_ATTR = "hpsearch_claim_token"  # the token of its slot's claim, to re-attach it after a crash
FAIL_REASON_ATTR = "fail_reason"  # why a trial was failed (Optuna's own key; hpsearch writes it as Optuna does)

# trial user attrs
DIVERGED_ATTR = "diverged"  # True when training diverged (a NaN value)
ERROR_ATTR = "error"  # the objective's error text, when it raised on this trial
TRAIN_SECONDS_ATTR = "train_seconds"
PREDICT_MS_ATTR = "predict_ms_per_1k"  # an MLP trial's measured inference time (objectives.mlp)
EPOCHS_RUN_ATTR = "epochs_run"
LEARNING_CURVE_ATTR = "learning_curve"
# an MLP trial's (objectives.mlp), beside the three above
N_PARAMETERS_ATTR = "n_parameters"
BEST_EPOCH_ATTR = "best_epoch"
STOP_REASON_ATTR = "stop_reason"
# A command trial's (objectives.command): its output logs, its slot's folder, which attempt of the slot it is.
STDOUT_LOG_ATTR = "stdout_log"
STDERR_LOG_ATTR = "stderr_log"
TRIAL_DIR_ATTR = "trial_dir"
ATTEMPT_ATTR = "attempt"
RETRIED_ERROR_ATTR = "error_before_retry"  # ERROR_ATTR of a failed trial whose slot --retry-failed re-opened

#: Every key above: tests/test_boundaries.py rejects these as literals outside this module.
ATTRIBUTE_KEYS = frozenset(
    {
        SPEC_ATTR,
        SAMPLER_ATTR,
        SAMPLER_ARGS_ATTR,
        OPTUNA_VERSION_ATTR,
        SEED_ATTR,
        COMPARISON_ATTR,
        CREATED_BY_ATTR,
        N_VAL_ATTR,
        N_TEST_ATTR,
        VERDICT_ATTR,
        TEST_SCORE_ATTR,
        TEST_SCORE_STD_ATTR,
        TEST_SCORES_ATTR,
        TEST_METRICS_ATTR,
        TEST_METRIC_ATTR,
        TEST_TRIAL_ATTR,
        TEST_SEEDS_ATTR,
        TRUE_OPTIMUM_ATTR,
        TEST_FRONT_ATTR,
        TRUE_FRONT_ATTR,
        STOP_ATTR,
        SLOT_ATTR,
        HOST_ATTR,
        PID_ATTR,
        LEASE_ATTR,
        ASK_KEY_ATTR,
        CLAIM_TOKEN_ATTR,
        FAIL_REASON_ATTR,
        DIVERGED_ATTR,
        ERROR_ATTR,
        TRAIN_SECONDS_ATTR,
        PREDICT_MS_ATTR,
        EPOCHS_RUN_ATTR,
        LEARNING_CURVE_ATTR,
        N_PARAMETERS_ATTR,
        BEST_EPOCH_ATTR,
        STOP_REASON_ATTR,
        STDOUT_LOG_ATTR,
        STDERR_LOG_ATTR,
        TRIAL_DIR_ATTR,
        ATTEMPT_ATTR,
        RETRIED_ERROR_ATTR,
    }
)

#: What a study whose sampler hpsearch did not record is called, everywhere.
UNKNOWN_SAMPLER = "unknown"


def sampler_of(study_attrs: Mapping[str, Any]) -> str:
    """The sampler a stored study ran, from its user attrs (:data:`UNKNOWN_SAMPLER` when not recorded)."""
    return str(study_attrs.get(SAMPLER_ATTR) or UNKNOWN_SAMPLER)


# --- outcomes ---------------------------------------------------------------------------------

#: A trial's state in hpsearch's words (see :func:`state_name`), in the order listings show them.
STATE_NAMES = ("complete", "pruned", "diverged", "failed", "crashed", "running", "waiting")
#: The states that fill a slot of the budget.
FINISHED_STATES = ("complete", "pruned", "diverged", "failed")


def is_diverged(t: FrozenTrial) -> bool:
    """FAIL with user attr diverged: a result, not a crash."""
    return t.state == TrialState.FAIL and bool(t.user_attrs.get(DIVERGED_ATTR))


def is_error(t: FrozenTrial) -> bool:
    """FAIL with user attr error: the objective raised on this configuration (a result, not a crash)."""
    return t.state == TrialState.FAIL and not is_diverged(t) and t.user_attrs.get(ERROR_ATTR) is not None


def is_crashed(t: FrozenTrial) -> bool:
    """FAIL that is neither diverged nor an objective error: its slot runs again."""
    return t.state == TrialState.FAIL and not is_diverged(t) and not is_error(t)


def is_finished(t: FrozenTrial) -> bool:
    """COMPLETE, PRUNED, diverged, or failed by an objective error: the trials the budget counts."""
    return t.state in (TrialState.COMPLETE, TrialState.PRUNED) or is_diverged(t) or is_error(t)


def error_text(t: FrozenTrial) -> str | None:
    """The objective's error text of a failed trial, else None.

    Its first line is the cause (e.g. a command's ``ModuleNotFoundError: ...``);
    what follows is detail, such as the tail of a command's stderr.
    """
    error = t.user_attrs.get(ERROR_ATTR) if t.state == TrialState.FAIL else None
    return error if isinstance(error, str) else None


def error_cause(text: str) -> str:
    """The first non-empty line of an error text (:func:`error_text`): what a one-line listing shows."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def state_name(t: FrozenTrial) -> str:
    """The trial's state in hpsearch's words: complete, pruned, diverged, failed, crashed, running, waiting."""
    if t.state == TrialState.FAIL:
        return "diverged" if is_diverged(t) else "failed" if is_error(t) else "crashed"
    return t.state.name.lower()


def state_counts(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    """Counts by :func:`state_name`: FAILs split into diverged, failed (objective error) and crashed."""
    return dict(Counter(state_name(t) for t in trials))


def finished_count(states: Mapping[str, int]) -> int:
    """Finished trials in counts by state name (e.g. a StudyOverview's ``states``)."""
    return sum(int(states.get(k, 0)) for k in FINISHED_STATES)


def last_error(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The latest trial that failed by an objective error (None if there is none)."""
    errors = [t for t in trials if is_error(t)]
    return max(errors, key=lambda t: t.number) if errors else None


# --- the budget -------------------------------------------------------------------------------


def budget(spec: Spec) -> int:
    """Number of slots of a study: ``n_trials``, capped at the grid's size for grid search."""
    from hpsearch.space import grid_size

    n = int(spec.study.n_trials)
    if spec.study.sampler == "grid":
        n = min(n, grid_size(spec.space, n))  # counted from the axes' counts, never listed
    return n


def stored_budget(study_attrs: Mapping[str, Any]) -> int | None:
    """The budget of a stored study from its spec attr; None for a study hpsearch did not make
    (or whose stored spec this version cannot read)."""
    from hpsearch.errors import UserError
    from hpsearch.spec import spec_from_dict

    raw = study_attrs.get(SPEC_ATTR)
    if not isinstance(raw, dict):
        return None
    try:
        return budget(spec_from_dict(raw, source="<stored spec>"))
    except UserError:
        return None


#: A single-objective study's direction, as the spec, the verdict and the reports spell it.
Direction = Literal["maximize", "minimize"]

# --- the best trial ---------------------------------------------------------------------------

Directions = StudyDirection | str | Sequence[StudyDirection | str]


def _directions(directions: Directions) -> list[StudyDirection]:
    items = [directions] if isinstance(directions, (StudyDirection, str)) else list(directions)
    return [d if isinstance(d, StudyDirection) else StudyDirection[str(d).upper()] for d in items]


def is_multi_objective(directions: Directions) -> bool:
    return len(_directions(directions)) != 1


# --- constraints ------------------------------------------------------------------------------


def is_feasible(t: FrozenTrial) -> bool:
    """Every constraint value of the trial is <= 0 (Optuna's rule); a trial without constraints is feasible."""
    return all(float(v) <= 0.0 for v in t.constraints.values())


def constraint_values(bounds: Mapping[str, Any] | None, metrics: Mapping[str, Any]) -> dict[str, float]:
    """A spec's ``[constraints]`` (metric -> Bound with ``min`` / ``max``) as Optuna constraint values.

    One value per bound, keyed ``"n_params <= 50000"``: how far the metric is
    beyond the bound (<= 0: within it). A metric the trial did not report (or
    not as a finite number) cannot be checked: +inf, infeasible.
    """
    out: dict[str, float] = {}
    for name, bound in (bounds or {}).items():
        value = finite_or_none(metrics.get(name)) if not isinstance(metrics.get(name), bool) else None
        for limit, sign, op in ((getattr(bound, "max", None), 1.0, "<="), (getattr(bound, "min", None), -1.0, ">=")):
            if limit is not None:
                out[f"{name} {op} {limit:g}"] = math.inf if value is None else sign * (value - float(limit))
    return out


#: The built-in objectives' cost metrics (hpsearch.spec.catalog.COST_METRICS) -> the user attr holding each.
COST_METRIC_ATTRS = {
    "train_seconds": TRAIN_SECONDS_ATTR,
    "n_params": N_PARAMETERS_ATTR,
    "predict_ms_per_1k": PREDICT_MS_ATTR,
}


def trial_metrics(
    user_attrs: Mapping[str, Any], names: Sequence[str], values: Sequence[float] | None
) -> dict[str, float]:
    """Every number a trial reports, by metric name: its numeric user attrs (the cost metrics under
    their metric names too), then its values by objective name. What [constraints] and ``--pick`` read."""
    out: dict[str, float] = {}
    for key, value in user_attrs.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[str(key)] = float(value)
    for metric, attr in COST_METRIC_ATTRS.items():
        if attr in out:
            out[metric] = out[attr]
    for name, value in zip(names, values or (), strict=False):
        out[name] = float(value)
    return out


def value_of(t: FrozenTrial) -> float:
    """The trial's value if COMPLETE, single-objective and finite, else NaN."""
    if t.state != TrialState.COMPLETE or not t.values or len(t.values) != 1:
        return math.nan
    v = float(t.values[0])
    return v if math.isfinite(v) else math.nan


def best_trial(trials: Sequence[FrozenTrial], directions: Directions) -> FrozenTrial | None:
    """The best feasible COMPLETE trial with a finite value, the earliest on ties; None if there is none.

    A multi-objective study (several directions) has no single best: None,
    so every caller says "no best" the same way (see :func:`pareto_front`).
    """
    dirs = _directions(directions)
    if len(dirs) != 1:
        return None
    sign = 1.0 if dirs[0] == StudyDirection.MAXIMIZE else -1.0
    done = [t for t in trials if math.isfinite(value_of(t)) and is_feasible(t)]
    if not done:
        return None
    return max(done, key=lambda t: (sign * value_of(t), -t.number))


def pareto_front(trials: Sequence[FrozenTrial], directions: Directions) -> list[FrozenTrial]:
    """The feasible COMPLETE trials (all values finite) that no other such trial dominates, by number.

    For one direction this is every trial tied at the best value. Infeasible
    trials neither join the front nor push a trial off it.
    """
    dirs = _directions(directions)
    signs = [1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in dirs]
    points = [
        (t, [s * float(v) for s, v in zip(signs, t.values, strict=True)])
        for t in trials
        if t.state == TrialState.COMPLETE
        and t.values is not None
        and len(t.values) == len(dirs)
        and all(math.isfinite(v) for v in t.values)
        and is_feasible(t)
    ]

    def dominated(p: list[float]) -> bool:
        return any(all(a >= b for a, b in zip(q, p, strict=True)) and q != p for _, q in points)

    return sorted((t for t, p in points if not dominated(p)), key=lambda t: t.number)


def multi_objective_reason(directions: Directions) -> str | None:
    """Why a study has no single best trial (the multi-objective policy, said once); None if it has one."""
    dirs = _directions(directions)
    if len(dirs) == 1:
        return None
    names = ", ".join(direction_name(d) for d in dirs)
    return (
        f"a multi-objective study ({len(dirs)} objectives: {names}): it has no single best trial, "
        "only a Pareto front of trade-offs (hpsearch best lists it)"
    )


def direction_name(direction: StudyDirection) -> Direction:
    """``"maximize"`` or ``"minimize"``."""
    return "minimize" if direction == optuna.study.StudyDirection.MINIMIZE else "maximize"


# --- NaN to JSON ------------------------------------------------------------------------------


def finite_or_none(value: Any) -> float | None:
    """A number as a JSON-able float; NaN, infinities and None as None (JSON has no NaN)."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def json_safe(x: Any) -> Any:
    """``x`` with every non-finite float, at any depth of dicts, lists and tuples, as None."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x
