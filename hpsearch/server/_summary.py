"""Read-only views of studies: the numbers the API and the dashboard show.

Everything is read from the storage on each call (nothing is cached in the
server), so a CLI worker's trial shows up on the next request.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from hpsearch.errors import StudyNotFound, UserError
from hpsearch.search import best_trial, budget, is_crashed, is_diverged, is_finished
from hpsearch.spec import spec_from_dict
from hpsearch.storage import SPEC_ATTR, find_study_id

STATE_KEYS = ("complete", "pruned", "fail", "running", "waiting")


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: show them as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def counts_by_state(trials: list[FrozenTrial]) -> dict[str, int]:
    """Trials per Optuna state, plus ``diverged`` (FAIL with user attr diverged), ``crashed``
    (FAILs that run again: neither diverged nor an objective error) and ``finished``.

    "Finished" is hpsearch.search's definition (COMPLETE + PRUNED + diverged +
    objective error), the count the budget is measured in.
    """
    counts = dict.fromkeys(STATE_KEYS, 0)
    for trial in trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    counts["diverged"] = sum(is_diverged(t) for t in trials)
    counts["crashed"] = sum(is_crashed(t) for t in trials)  # the CLI's word for a FAIL that runs again
    counts["finished"] = sum(is_finished(t) for t in trials)
    return counts


def trial_dict(trial: FrozenTrial) -> dict[str, Any]:
    """One trial as JSON-able data."""
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": _finite(trial.value) if trial.values is not None and len(trial.values) == 1 else None,
        "params": dict(trial.params),
        "duration": duration,
        "diverged": is_diverged(trial),
    }


def _budget(attrs: dict[str, Any]) -> int | None:
    """The study's budget in finished trials (grid search: capped at the grid size), if hpsearch made it."""
    raw = attrs.get(SPEC_ATTR)
    if not isinstance(raw, dict):
        return None
    try:
        return budget(spec_from_dict(raw, source="<stored spec>"))
    except UserError:  # a spec stored by another version or tool: show no budget rather than fail
        return None


def unsupported_reason(directions: list) -> str | None:
    """Why hpsearch cannot draw or rank this study (None when it can).

    Studies made by other Optuna tools share the database; they are listed
    with what is known (counts by state), never allowed to break a listing.
    """
    if len(directions) != 1:
        return (f"a multi-objective study ({len(directions)} objectives: "
                f"{', '.join(d.name.lower() for d in directions)}); hpsearch draws and ranks "
                "single-objective studies only, so it shows its trials without a best trial or history plot")
    return None


def summarize(storage: optuna.storages.BaseStorage, name: str, *, detail: bool = False) -> dict[str, Any]:
    """The summary of study ``name``: direction, counts by state, best value (and best trial).

    Raises StudyNotFound for an unknown name.
    """
    return summary_and_trials(storage, name, detail=detail)[0]


def summary_and_trials(storage: optuna.storages.BaseStorage, name: str, *,
                       detail: bool = False) -> tuple[dict[str, Any], list[FrozenTrial]]:
    """(summarize(...), the study's trials): pages that show both read the trials once."""
    study_id = find_study_id(storage, name)
    directions = storage.get_study_directions(study_id)
    attrs = storage.get_study_user_attrs(study_id)
    trials = storage.get_all_trials(study_id, deepcopy=False)
    names = [d.name.lower() for d in directions]
    best = best_trial(trials, directions[0]) if len(directions) == 1 else None
    counts = counts_by_state(trials)
    summary: dict[str, Any] = {
        "name": name,
        "direction": ", ".join(names),  # one word, except for other tools' multi-objective studies
        "n_trials": len(trials),
        "finished": counts["finished"],
        "budget": _budget(attrs),
        "best_value": _finite(best.value) if best is not None else None,
        "sampler": attrs.get("sampler"),
        "comparison": attrs.get("comparison"),
        "states": counts,
        "directions": names,
        "unsupported": unsupported_reason(directions),
    }
    if detail:
        summary["best_trial"] = trial_dict(best) if best is not None else None
        summary["user_attrs"] = {k: v for k, v in attrs.items() if k != SPEC_ATTR}
    return summary, trials


def list_studies(storage: optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """Summaries of every study in the storage, ordered by name."""
    return [summary for summary, _ in _summaries(storage)]


def comparison_studies(storage: optuna.storages.BaseStorage,
                       group: str) -> list[tuple[dict[str, Any], list[FrozenTrial]]]:
    """(summary, trials) of the studies whose user attr ``comparison`` is ``group``, ordered by name.

    Only those studies' trials are read, each once.
    """
    return list(_summaries(storage, group))


def _summaries(storage: optuna.storages.BaseStorage,
               comparison: str | None = None) -> Iterator[tuple[dict[str, Any], list[FrozenTrial]]]:
    """(summary, trials) per study (of group ``comparison`` if given), one study at a time."""
    names = sorted(s.study_name for s in storage.get_all_studies()
                   if comparison is None or s.user_attrs.get("comparison") == comparison)
    for name in names:
        try:
            yield summary_and_trials(storage, name)
        except StudyNotFound:  # deleted between the two queries
            continue
