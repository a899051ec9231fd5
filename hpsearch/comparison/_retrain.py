"""Held-out quality: every repeat's pick, re-scored on data the search never saw.

A repeat's best validation value is the maximum of many noisy measurements
(biased upward, the winner's curse), so the verdict decides on each repeat's
pick re-scored held out wherever the objective can do that
(``objectives.cannot_evaluate`` says when it cannot): the built-in MLP retrained
on train+validation and scored on test, a user function called with
``split="test"``, a command's ``[command] test``, a table benchmark's true mean.
The pick is the best of the repeat's first ``budget`` finished trials, the
budget every arm is compared at (hpsearch.results.compared_budget). It is
re-scored with the same few seeds (0, 1, ..., E-1, shared by every arm and
repeat). Across repeats the scores show search luck; across the training seeds
of one configuration they show training noise (docs/science.md). Results are
stored with each arm study as user attrs, which is all a report reads:

``test_score`` (mean over seeds), ``test_score_std`` (SD over seeds),
``test_scores`` (one per seed), ``test_metrics`` (mean of every metric),
``test_metric``, ``test_trial`` and ``test_seeds``.

Where the objective knows the true optimum (``objectives.true_optimum``: table
benchmarks), it is stored with each arm too (``true_optimum``), for the
verdict's regret. A resumed comparison retrains nothing already scored with
enough seeds.

With several objectives a repeat has a front, not a best: ``rescore_fronts``
re-scores it held out (``test_front``), by a table's true means or, for the
built-in MLP, by retraining every front member with the same seeds.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

from hpsearch.records import (
    TEST_METRIC_ATTR,
    TEST_METRICS_ATTR,
    TEST_SCORE_ATTR,
    TEST_SCORE_STD_ATTR,
    TEST_SCORES_ATTR,
    TEST_SEEDS_ATTR,
    TEST_TRIAL_ATTR,
    TRUE_OPTIMUM_ATTR,
    finite_or_none,
)

if TYPE_CHECKING:
    from hpsearch.results import StudyData
    from hpsearch.spec import Spec


@dataclass(frozen=True)
class _Task:
    study: str
    trial: int
    spec: Spec
    params: dict[str, Any]
    seed: int


def retrain_bests(
    storage: optuna.storages.BaseStorage,
    name: str,
    *,
    eval_seeds: int = 3,
    jobs: int = 1,
    say: Callable[[str], None] = lambda _message: None,
    arms: Sequence[StudyData] | None = None,
) -> int:
    """Retrain the best trial of every arm study of comparison ``name``; returns how many were retrained.

    Studies whose objective cannot score held out (objectives.cannot_evaluate) are skipped: their
    verdict has ``test = null`` and decides on validation maxima. ``arms``: the comparison's arm
    studies as already read (else they are read here).
    """
    import objectives
    from hpsearch.results import arm_studies, compared_budget
    from hpsearch.spec.catalog import BUILTIN_OBJECTIVES
    from hpsearch.storage import load_study_spec

    true_optimum = getattr(objectives, "true_optimum", None)  # table benchmarks know theirs

    if eval_seeds < 1:
        return 0
    seeds = list(range(eval_seeds))
    tasks: list[_Task] = []
    arms = arm_studies(storage, name) if arms is None else arms
    budget = compared_budget(arms)
    builtin = True
    for arm in arms:
        best = arm.best_within(budget)
        if best is None:
            continue
        attrs = arm.attrs
        if attrs.get(TEST_TRIAL_ATTR) == best.number and len(attrs.get(TEST_SCORES_ATTR) or []) >= eval_seeds:
            continue
        spec = load_study_spec(storage, arm.name)
        if objectives.cannot_evaluate(spec) is not None:
            continue
        builtin = builtin and spec.study.objective in BUILTIN_OBJECTIVES
        optimum = finite_or_none(true_optimum(spec)) if callable(true_optimum) else None
        if optimum is not None and attrs.get(TRUE_OPTIMUM_ATTR) != optimum:
            storage.set_study_user_attr(storage.get_study_id_from_name(arm.name), TRUE_OPTIMUM_ATTR, optimum)
        tasks += [_Task(arm.name, best.number, spec, dict(best.params), s) for s in seeds]
    if not tasks:
        return 0
    n_studies = len({t.study for t in tasks})
    repeats = f"{n_studies} repeat{'s' * (n_studies > 1)}"
    seeds_each = f"{eval_seeds} training seed{'s' * (eval_seeds > 1)} each"
    if builtin:
        say(f"retraining the best configuration of {repeats} on train+validation with {seeds_each}, scored on test ...")
    else:
        say(f"scoring the best configuration of {repeats} on held-out data with {seeds_each} ...")
    results = _evaluate(tasks, jobs)
    by_study: dict[str, list[tuple[_Task, dict[str, float]]]] = {}
    for task, result in zip(tasks, results, strict=True):
        by_study.setdefault(task.study, []).append((task, result))
    for study_name, runs in by_study.items():
        _store(storage, study_name, runs)
    return n_studies


def _evaluate(tasks: list[_Task], jobs: int, evaluate: Callable[..., Any] | None = None) -> list[Any]:
    """``evaluate`` (default objectives.evaluate_best) for every task: in this process, or in ``jobs``
    spawned processes."""
    from objectives import evaluate_best, scores_by_lookup

    evaluate = evaluate or evaluate_best
    if jobs <= 1 or len(tasks) == 1 or all(scores_by_lookup(t.spec) for t in tasks):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # small networks: one BLAS thread is fastest on a busy machine
            return [evaluate(t.spec, t.params, t.seed) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx, initializer=_one_blas_thread) as pool:
        futures = [pool.submit(evaluate, t.spec, t.params, t.seed) for t in tasks]
        return [f.result() for f in futures]


def _one_blas_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _store(storage: optuna.storages.BaseStorage, study_name: str, runs: list[tuple[_Task, dict[str, float]]]) -> None:
    from objectives import scores_by_lookup

    keys = list(runs[0][1])
    scores = [finite_or_none(r[keys[0]]) for _, r in runs]
    ok = [s for s in scores if s is not None]
    # a looked-up score (a table's true mean) is the same for every seed: it has no training spread to show
    spread = statistics.stdev(ok) if len(ok) > 1 and not scores_by_lookup(runs[0][0].spec) else None
    new = {
        TEST_METRIC_ATTR: keys[0].removeprefix("test_"),
        TEST_SCORE_ATTR: statistics.fmean(ok) if ok else None,
        TEST_SCORE_STD_ATTR: spread,
        TEST_SCORES_ATTR: scores,
        TEST_METRICS_ATTR: {k: _mean([r[k] for _, r in runs]) for k in keys},
        TEST_TRIAL_ATTR: runs[0][0].trial,
        TEST_SEEDS_ATTR: [t.seed for t, _ in runs],
    }
    sid = storage.get_study_id_from_name(study_name)
    for key, value in new.items():
        storage.set_study_user_attr(sid, key, value)


def _mean(xs: list[Any]) -> float | None:
    ok = [float(x) for x in xs if finite_or_none(x) is not None]
    return statistics.fmean(ok) if ok else None


def rescore_fronts(
    storage: optuna.storages.BaseStorage,
    name: str,
    *,
    eval_seeds: int = 3,
    jobs: int = 1,
    say: Callable[[str], None] = lambda _message: None,
    arms: Sequence[StudyData] | None = None,
) -> int:
    """Several objectives: each repeat's front (its first ``budget`` finished trials, as the verdict counts
    them) re-scored held out (user attr ``test_front``), for the hypervolume verdict. Returns how many
    repeats were re-scored.

    A table benchmark re-scores by its configurations' true means, and stores the table's true front with
    each arm (``true_front``) for the verdict's regret. The built-in MLP retrains every front member with
    the same seeds as retrain_bests (0 .. ``eval_seeds`` - 1), each objective re-measured on the retrained
    network (objectives.evaluate_objectives), the mean over seeds stored: a validation front is the best of
    many noisy measurements, so its values are biased the way a single best's are. Other objectives keep
    validation fronts. A resumed comparison retrains no front already re-scored with enough seeds.
    ``arms``: the comparison's arm studies as already read (else they are read here).
    """
    from hpsearch.comparison._hypervolume import _compared, _front_of
    from hpsearch.records import TEST_FRONT_ATTR, TRUE_FRONT_ATTR, direction_name
    from hpsearch.results import arm_studies, compared_budget
    from hpsearch.spec.catalog import BUILTIN_OBJECTIVES
    from hpsearch.spec.tables import TABLE_OBJECTIVE
    from hpsearch.storage import load_study_spec

    arms = arm_studies(storage, name) if arms is None else arms
    budget = compared_budget(arms)
    done = 0
    truths: dict[str, list[list[float]]] = {}
    tasks: list[_Task] = []
    for arm in arms:
        if not arm.multi_objective:
            continue
        spec = load_study_spec(storage, arm.name)
        directions: list[str] = [direction_name(d) for d in arm.directions]
        front = _front_of(_compared(arm, budget), directions)
        sid = storage.get_study_id_from_name(arm.name)
        if spec.study.objective in BUILTIN_OBJECTIVES and eval_seeds >= 1:
            old = arm.attrs.get(TEST_FRONT_ATTR)
            members = [t.number for t in front]
            if isinstance(old, dict) and old.get("trials") == members and len(old.get("seeds") or []) >= eval_seeds:
                continue
            tasks += [_Task(arm.name, t.number, spec, dict(t.params), s) for t in front for s in range(eval_seeds)]
            if not front:  # nothing to retrain: an empty held-out front
                storage.set_study_user_attr(
                    sid, TEST_FRONT_ATTR, {"trials": [], "values": [], "seeds": list(range(eval_seeds))}
                )
                done += 1
            continue
        if spec.study.objective != TABLE_OBJECTIVE:
            continue
        from objectives.table import table_view

        view = table_view(spec)
        record = {
            "trials": [t.number for t in front],
            "values": [view.true_means(t.params, spec.objective_names) for t in front],
        }
        if arm.attrs.get(TEST_FRONT_ATTR) != record:
            storage.set_study_user_attr(sid, TEST_FRONT_ATTR, record)
            done += 1
        key = repr((spec.data, spec.space, spec.training))  # arms of one comparison share these
        if key not in truths:
            truths[key] = view.true_front(spec.objective_names, directions)
        if arm.attrs.get(TRUE_FRONT_ATTR) != truths[key]:
            storage.set_study_user_attr(sid, TRUE_FRONT_ATTR, truths[key])
    return done + _retrain_fronts(storage, tasks, eval_seeds, jobs, say)


def _retrain_fronts(
    storage: optuna.storages.BaseStorage,
    tasks: list[_Task],
    eval_seeds: int,
    jobs: int,
    say: Callable[[str], None],
) -> int:
    """Run the front members' retrainings (one task per member and seed) and store each repeat's
    ``test_front``: per member, the mean over seeds of every objective (None where no seed gave a
    finite value, e.g. every retraining diverged)."""
    from hpsearch.records import TEST_FRONT_ATTR
    from objectives import evaluate_objectives

    if not tasks:
        return 0
    n_studies = len({t.study for t in tasks})
    seeds_each = f"{eval_seeds} training seed{'s' * (eval_seeds > 1)} each"
    say(
        f"retraining the {len({(t.study, t.trial) for t in tasks})} front members of {n_studies} "
        f"repeat{'s' * (n_studies > 1)} on train+validation with {seeds_each}, every objective measured on test ..."
    )
    results = _evaluate(tasks, jobs, evaluate_objectives)
    rows: dict[str, dict[int, list[list[float]]]] = {}
    for task, values in zip(tasks, results, strict=True):
        rows.setdefault(task.study, {}).setdefault(task.trial, []).append(values)
    for study_name, members in rows.items():
        record = {
            "trials": list(members),
            "values": [[_mean(list(column)) for column in zip(*runs, strict=True)] for runs in members.values()],
            "seeds": list(range(eval_seeds)),
        }
        storage.set_study_user_attr(storage.get_study_id_from_name(study_name), TEST_FRONT_ATTR, record)
    return len(rows)
