"""Read-only views of studies: the numbers the API and the dashboard show.

Everything is read from the storage on each call, so a CLI worker's trial
shows up on the next request. Summaries and listings never load trials: on an
RDB storage they come from aggregate SQL (hpsearch.storage.study_overviews);
other storages fall back to the trials, with the same results.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from hpsearch.errors import StudyNotFound
from hpsearch.export import objective_columns
from hpsearch.records import (
    COMPARISON_ATTR,
    SAMPLER_ATTR,
    SPEC_ATTR,
    finished_count,
    finite_or_none,
    is_diverged,
    is_feasible,
    multi_objective_reason,
    pareto_front,
    state_counts,
    stored_budget,
)
from hpsearch.storage import (
    StudyOverview,
    TrialPoint,
    find_study_id,
    history_points,
    metric_names,
    sql_engine,
    study_overview,
    study_overviews,
)

STATE_KEYS = ("complete", "pruned", "fail", "running", "waiting")


def counts_by_state(trials: list[FrozenTrial]) -> dict[str, int]:
    """Trials per Optuna state, plus ``diverged``, ``crashed`` and ``finished`` (see counts_from_names)."""
    return counts_from_names(state_counts(trials))


def counts_from_names(names: dict[str, int]) -> dict[str, int]:
    """The API's ``states`` from counts by hpsearch.search.state_name.

    Per Optuna state, plus ``diverged`` (FAIL with user attr diverged),
    ``crashed`` (a FAIL whose slot runs again) and ``finished`` (complete,
    pruned, diverged and objective errors: the count the budget is measured
    in). ``fail`` - ``diverged`` - ``crashed`` are objective errors.
    """
    counts = dict.fromkeys(STATE_KEYS, 0)
    for key in ("complete", "pruned", "running", "waiting"):
        counts[key] = names.get(key, 0)
    counts["fail"] = names.get("diverged", 0) + names.get("failed", 0) + names.get("crashed", 0)
    counts["diverged"] = names.get("diverged", 0)
    counts["crashed"] = names.get("crashed", 0)
    counts["finished"] = finished_count(names)
    return counts


def trial_dict(trial: FrozenTrial) -> dict[str, Any]:
    """One trial as JSON-able data."""
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": finite_or_none(trial.value) if trial.values is not None and len(trial.values) == 1 else None,
        "values": [finite_or_none(v) for v in trial.values] if trial.values is not None else None,
        "params": dict(trial.params),
        "duration": duration,
        "diverged": is_diverged(trial),
    }


def summarize(storage: optuna.storages.BaseStorage, name: str, *, detail: bool = False) -> dict[str, Any]:
    """The summary of study ``name``: direction, counts by state, best value (and best trial).

    Never loads the study's trials (with ``detail``, the best trial alone).
    Raises StudyNotFound for an unknown name.
    """
    study_id = find_study_id(storage, name)
    return _summary(storage, study_overview(storage, study_id, name), detail=detail)


def _summary(storage: optuna.storages.BaseStorage, o: StudyOverview, *, detail: bool = False) -> dict[str, Any]:
    names = [d.name.lower() for d in o.directions]
    counts = counts_from_names(o.states)
    summary: dict[str, Any] = {
        "name": o.name,
        "direction": ", ".join(names),  # one word, except for other tools' multi-objective studies
        "n_trials": o.n_trials,
        "finished": counts["finished"],
        "budget": stored_budget(o.user_attrs),
        "best_value": finite_or_none(o.best.value) if o.best is not None else None,
        "sampler": o.user_attrs.get(SAMPLER_ATTR),
        "comparison": o.user_attrs.get(COMPARISON_ATTR),
        "states": counts,
        "directions": names,
        "unsupported": multi_objective_reason(o.directions),
        "last_change": o.last_change.isoformat() if o.last_change is not None else None,
    }
    if detail:
        best = None
        if o.best is not None and o.best.trial_id >= 0:
            best = trial_dict(storage.get_trial(o.best.trial_id))  # one trial, not the study's
        summary["best_trial"] = best
        summary["user_attrs"] = {k: v for k, v in o.user_attrs.items() if k != SPEC_ATTR}
        if len(o.directions) > 1:  # no single best: the front (feasible trials), which needs every trial
            trials = storage.get_all_trials(o.study_id, deepcopy=False)
            summary["objectives"] = objective_columns(len(o.directions), metric_names(storage, o.study_id))
            summary["pareto_front"] = [
                {**trial_dict(t), "feasible": is_feasible(t)} for t in pareto_front(trials, o.directions)
            ]
    return summary


def list_studies(storage: optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """Summaries of every study in the storage, ordered by name (no trial is loaded)."""
    return [_summary(storage, o) for o in study_overviews(storage)]


def study_points(storage: optuna.storages.BaseStorage, study_id: int) -> list[TrialPoint] | list[FrozenTrial]:
    """What the history and best-so-far figures need of every trial: one narrow query on RDB storages
    (number, state, value, duration, diverged/error), else the trials themselves."""
    engine = sql_engine(storage)
    if engine is None:
        return sorted(storage.get_all_trials(study_id, deepcopy=False), key=lambda t: t.number)
    return history_points(engine, study_id)


def comparison_studies(storage: optuna.storages.BaseStorage, group: str) -> list[tuple[dict[str, Any], list]]:
    """(summary, trial points) of the studies whose user attr ``comparison`` is ``group``, ordered by name.

    The points are study_points: enough for best-so-far curves, never whole trials on RDB storages.
    """
    return list(_summaries(storage, group))


def _summaries(storage: optuna.storages.BaseStorage, comparison: str | None = None) -> Iterator[tuple[dict, list]]:
    for o in study_overviews(storage, comparison=comparison):
        try:
            yield _summary(storage, o), study_points(storage, o.study_id)
        except (StudyNotFound, KeyError):  # deleted meanwhile
            continue
