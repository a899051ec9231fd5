"""Hyperparameter importance via optuna.importance, never fatal.

Importance needs an Optuna Study; we build an in-memory one from the finished
trials we already read (no second trip to the database). Evaluators refuse small
or degenerate studies (one trial, a parameter with one value); the report then
shows the reason instead of the plot.

One study's importance is noisy (docs/science.md, "Importance"), so a comparison
computes it per study, i.e. per repeat of every arm, and reports the median and
interquartile range across them (:func:`importance_spread`). A trial that used
budget without a value (pruned, diverged) counts as the worst value of the
studies at hand: dropping it would hide exactly the effect (a learning rate
that diverges) a reader most needs to see.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from hpsearch.records import Direction
from hpsearch.results._studies import StudyData

METHODS: dict[str, tuple[str, type[optuna.importance.BaseImportanceEvaluator]]] = {
    "ped-anova": ("PED-ANOVA (Optuna's default; top-10% vs all)", optuna.importance.PedAnovaImportanceEvaluator),
    "fanova": ("fANOVA (random forest; meant for random-search trials)", optuna.importance.FanovaImportanceEvaluator),
}
FANOVA_TREES = 16  # per study ~0.12 s on 64 trials (cost is linear in trees); seeded, so reproducible
TOP_QUANTILE = 0.1  # PED-ANOVA's "near the optimum": the best 10 % of trials against all of them
MIN_PARALLEL = 8  # studies below which starting worker processes (~1-2 s each: Optuna, scikit-learn) does not pay


def _evaluator(method: str, seed: int) -> optuna.importance.BaseImportanceEvaluator:
    if method == "fanova":
        return optuna.importance.FanovaImportanceEvaluator(n_trees=FANOVA_TREES, seed=seed)
    return optuna.importance.PedAnovaImportanceEvaluator(target_quantile=TOP_QUANTILE)


def _evaluate(
    trials: Sequence[optuna.trial.FrozenTrial], direction: Direction, methods: Sequence[str], seed: int
) -> dict[str, tuple[dict[str, float], str]]:
    """Each method's (param -> importance, description or reason), on one in-memory study.

    One study for all methods: copying trials into it costs as much as PED-ANOVA itself.
    A comparison asks for the same study's fANOVA twice (its verdict, then its
    report), and fANOVA is most of the time a 90-study report takes: results are
    remembered per (trials, direction, method, seed) by :func:`_remembered`.
    """
    done = _complete(trials)
    if len(done) < 3:
        return {m: ({}, f"not computed: needs at least 3 complete trials, has {len(done)}") for m in methods}
    key = _TrialsKey(done)
    out: dict[str, tuple[dict[str, float], str]] = {}
    todo = [m for m in methods if _remembered(key, direction, m, seed) is None]
    if todo:
        for m, result in _compute_all(done, direction, todo, seed).items():
            _remembered(key, direction, m, seed, result)
    for m in methods:
        imp, note = _remembered(key, direction, m, seed)  # type: ignore[misc]
        out[m] = (dict(imp), note)
    return out


def _complete(trials: Sequence[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials importance is computed on: COMPLETE, with one finite value."""
    return [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and t.values and math.isfinite(t.values[0]) and len(t.values) == 1
    ]


def _compute_all(
    done: Sequence[optuna.trial.FrozenTrial], direction: Direction, methods: Sequence[str], seed: int
) -> dict[str, tuple[tuple[tuple[str, float], ...], str]]:
    """Every method's result on one in-memory study of ``done`` (complete trials, at least 3)."""
    study = optuna.create_study(direction=optuna.study.StudyDirection[direction.upper()])
    try:
        study.add_trials(done)
    except Exception as exc:  # e.g. a trial Optuna itself refuses
        return {m: ((), f"not computed: {type(exc).__name__}: {exc}") for m in methods}
    return {m: _compute(study, m, seed, len(done)) for m in methods}


def _compute_batch(
    batch: Sequence[tuple[list[optuna.trial.FrozenTrial], Direction]], methods: Sequence[str], seed: int
) -> list[dict[str, tuple[tuple[tuple[str, float], ...], str]]]:
    """:func:`_compute_all` for several studies: what one worker process of :func:`precompute` runs."""
    from threadpoolctl import threadpool_limits

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # this worker's own Optuna: no line per in-memory study
    with threadpool_limits(1):  # the workers share the cores; one BLAS thread each
        return [_compute_all(done, direction, methods, seed) for done, direction in batch]


def precompute(
    groups: Sequence[Sequence[StudyData]],
    methods: Sequence[str] = ("fanova", "ped-anova"),
    seed: int = 0,
    jobs: int = 1,
) -> int:
    """Compute (and remember) every method's importance of every study of ``groups`` not yet remembered,
    across ``jobs`` worker processes; returns how many studies were computed there.

    Why: one study's fANOVA takes 0.1-0.3 s of pure Python, and a 30-repeat comparison
    of 3 arms has 90 studies, the largest part of the verdict's time. Each study
    is independent and the forest is seeded, so computing them in several
    processes gives the very same numbers (tests pin it). The studies of one group
    share the worst value that pruned and diverged trials count as (the verdict's
    groups are its arms, the report's group is the whole comparison), so later
    calls of :func:`per_study_methods` with the same groups find every result
    remembered. With ``jobs`` 1, too few studies to pay for starting the
    workers, or workers that cannot start, nothing is done here (the later calls
    compute in this process).
    """
    todo: list[tuple[_TrialsKey, list[optuna.trial.FrozenTrial], Direction]] = []
    seen: set[tuple[_TrialsKey, str]] = set()
    for studies in groups:
        worst = worst_value(studies)
        for s in studies:
            done = _complete(scored_trials(s, worst))
            if len(done) < 3:
                continue
            key = _TrialsKey(done)
            if (key, s.direction) in seen or all(_remembered(key, s.direction, m, seed) is not None for m in methods):
                continue
            seen.add((key, s.direction))
            todo.append((key, done, s.direction))
    if jobs <= 1 or len(todo) < MIN_PARALLEL:
        return 0
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from hpsearch.search._workers import start_method

    n_batches = min(len(todo), 4 * jobs)  # a few batches per worker: even finishing, little pickling
    batches = [todo[i::n_batches] for i in range(n_batches)]
    # the trial workers' rule: fork on Linux while this process runs one thread (a user's script
    # without a __main__ guard is not re-run by the workers, and nothing is imported again)
    ctx = multiprocessing.get_context(start_method())
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, n_batches), mp_context=ctx) as pool:
            futures = [
                pool.submit(_compute_batch, [(done, direction) for _, done, direction in b], tuple(methods), seed)
                for b in batches
            ]
            for batch, future in zip(batches, futures, strict=True):
                for (key, _, direction), results in zip(batch, future.result(), strict=True):
                    for m, result in results.items():
                        _remembered(key, direction, m, seed, result)
    except (BrokenProcessPool, OSError, RuntimeError):  # no workers here: what is left is computed in this process
        return 0
    return len(todo)


def _compute(study: optuna.Study, method: str, seed: int, n: int) -> tuple[tuple[tuple[str, float], ...], str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study, evaluator=_evaluator(method, seed))
    except Exception as exc:  # evaluators raise many kinds of errors on degenerate input
        return (), f"not computed: {type(exc).__name__}: {exc}"
    return tuple(imp.items()), f"{METHODS[method][0]}, on {n} complete trials"


class _TrialsKey:
    """The complete trials an importance is computed on, compared by what the evaluators read: each
    trial's parameters, their distributions and its value, in order (the forest's bootstrap sees the order)."""

    def __init__(self, done: Sequence[optuna.trial.FrozenTrial]) -> None:
        self.key = tuple(
            (tuple((k, repr(v), repr(t.distributions[k])) for k, v in sorted(t.params.items())), float(t.values[0]))
            for t in done
        )
        self._hash = hash(self.key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _TrialsKey) and self.key == other.key


_MEMO_SIZE = 1024  # entries of a few floats each; a 30 x 3 comparison with two methods needs 180


@functools.lru_cache(maxsize=_MEMO_SIZE)
def _memo_slot(key: _TrialsKey, direction: str, method: str, seed: int) -> list:
    return []  # one mutable cell per argument tuple: empty until the result is stored in it


def _remembered(
    key: _TrialsKey, direction: str, method: str, seed: int, value: tuple | None = None
) -> tuple[tuple[tuple[str, float], ...], str] | None:
    """The remembered importance of these trials (None if not yet computed); with ``value``, remember it."""
    cell = _memo_slot(key, direction, method, seed)
    if value is not None:
        cell[:] = [value]
    return cell[0] if cell else None


def importances(
    trials: Sequence[optuna.trial.FrozenTrial], direction: Direction, method: str = "ped-anova", seed: int = 0
) -> tuple[dict[str, float], str]:
    """(param -> importance, description or the reason it is unavailable)."""
    return _evaluate(trials, direction, (method,), seed)[method]


def worst_value(studies: Sequence[StudyData]) -> float:
    """The worst finite value any finished trial of ``studies`` reached (NaN if none)."""
    if not studies:
        return math.nan
    vals = np.concatenate([s.values() for s in studies] or [np.array([])])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return math.nan
    return float(vals.min() if studies[0].direction == "maximize" else vals.max())


def scored_trials(study: StudyData, worst: float) -> list[optuna.trial.FrozenTrial]:
    """The study's finished trials as COMPLETE trials, those without a value at ``worst``."""
    numbers = {t.number for t in study.finished}
    out = []
    for t in study.frozen:
        if t.number not in numbers or not t.distributions:
            continue
        v = t.values[0] if t.state == TrialState.COMPLETE and t.values else math.nan
        v = float(v) if v is not None and math.isfinite(v) else worst
        if not math.isfinite(v):
            continue
        out.append(optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=v))
    return out


def per_study_methods(
    studies: Sequence[StudyData], methods: Sequence[str] = ("fanova", "ped-anova"), seed: int = 0
) -> dict[str, list[tuple[StudyData, dict[str, float]]]]:
    """Per method, the importance of every study on its own (worst-value counting).

    Studies a method fails on (too few trials, one value per parameter) are left out of that method's list.
    """
    worst = worst_value(studies)
    out: dict[str, list[tuple[StudyData, dict[str, float]]]] = {m: [] for m in methods}
    for s in studies:
        for m, (imp, _) in _evaluate(scored_trials(s, worst), s.direction, methods, seed).items():
            if imp:
                out[m].append((s, imp))
    return out


def per_study(
    studies: Sequence[StudyData], method: str = "fanova", seed: int = 0
) -> list[tuple[StudyData, dict[str, float]]]:
    """Importance of every study on its own (worst-value counting); studies it fails on are left out."""
    return per_study_methods(studies, (method,), seed)[method]


def spread(per: Sequence[dict[str, float]], params: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Median and quartiles per parameter over per-study importances, most important first.

    A parameter a study could not rank (it took one value there, e.g. a grid axis
    with one point) counts as 0 for that study: it explained nothing there.
    """
    names = list(params) if params is not None else list(dict.fromkeys(p for d in per for p in d))
    rows: list[dict[str, Any]] = []
    for p in names:
        v = np.array([d.get(p, 0.0) for d in per], dtype=float)
        if v.size == 0:
            continue
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        rows.append({"param": p, "median": float(med), "q1": float(q1), "q3": float(q3)})
    rows.sort(key=lambda r: (-r["median"], -r["q3"], r["param"]))
    return rows


def importance_spread(studies: Sequence[StudyData], method: str = "fanova", seed: int = 0) -> list[dict[str, Any]]:
    """``[{"param", "median", "q1", "q3"}]``: importance per study, summarised across studies.

    Pure over stored data: reads the trials, trains nothing. Every study (each
    repeat of each arm) is one sample; pruned and diverged trials count as the
    worst value of ``studies``. fANOVA with a small seeded forest by default;
    ``method="ped-anova"`` gives the near-optimum view (top 10 % against all).
    """
    params = list(dict.fromkeys(p for s in studies for p in s.distributions))
    return spread([imp for _, imp in per_study(studies, method, seed)], params)
