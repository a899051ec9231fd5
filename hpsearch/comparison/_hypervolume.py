"""The verdict of a comparison with several objectives: arms compared by the hypervolume of each repeat's front.

Why hypervolume: a repeat of a multi-objective search ends with a front, not
one value; the hypervolume is the one number that grows whenever the front
gets better anywhere (Knowles, Thiele & Zitzler 2006), so the single-objective
machinery applies to it unchanged: the unit is still a repeat, and every pair
is decided by hpsearch.stats.compare_family (exact signed-rank or
Brunner-Munzel, Holm, the matching Hodges-Lehmann interval).

Fixed before any difference is looked at, for the whole comparison:

* the **scale**: each objective mapped to [0, 1] between its best and worst
  value over every arm's compared trials (hpsearch.pareto.Scale), so seconds
  and accuracy weigh alike;
* the **reference point**: each objective's worst value plus 10 % of its range,
  stated in the verdict as ``"reference"`` in the metrics' own units.

Each repeat counts its first ``budget`` finished trials by slot (the budget
every arm is compared at); only feasible COMPLETE trials with every value
finite make its front. Where every repeat carries its front re-scored held
out (user attr ``test_front``: e.g. a table's true means of each front
configuration), the deciding family is the hypervolume of those re-scored
fronts (``"on": "test"``); else the validation fronts decide and the verdict
says so. Where the true front is known (``true_front``), each arm gets its
hypervolume ``regret``: the true front's hypervolume minus the repeat's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hpsearch import pareto
from hpsearch._format import MetricUnits
from hpsearch.comparison._pairs import family_notes, merge_limited, pair_sentence, pairwise, quartiles
from hpsearch.records import TEST_FRONT_ATTR, TRUE_FRONT_ATTR, direction_name, json_safe
from hpsearch.results import StudyData, TrialData, compared_budget, group_by_sampler

RULE = (
    "each objective scaled to [0, 1] between its best and worst value over every arm's compared trials; "
    f"reference point at each worst value plus {pareto.REFERENCE_MARGIN:.0%} of its range"
)


def _compared(study: StudyData, budget: int) -> list[TrialData]:
    """The repeat's first ``budget`` finished trials by slot that make a front: feasible, every value finite."""
    n = len(study.directions)
    return [
        t
        for t in study.finished_by_slot()[:budget]
        if t.state == "COMPLETE" and t.feasible and len(t.values) == n and all(map(math.isfinite, t.values))
    ]


def _front_of(trials: Sequence[TrialData], directions: list[str]) -> list[TrialData]:
    if not trials:
        return []
    mask = pareto.front_mask(np.array([t.values for t in trials]), directions)
    return [t for t, on in zip(trials, mask, strict=True) if on]


def _held_out_front(study: StudyData, front: Sequence[TrialData]) -> np.ndarray | None:
    """The repeat's front re-scored held out (user attr ``test_front``), if it is this front's."""
    raw = study.attrs.get(TEST_FRONT_ATTR)
    if not isinstance(raw, dict):
        return None
    numbers, values = raw.get("trials"), raw.get("values")
    if not isinstance(numbers, list) or not isinstance(values, list) or len(numbers) != len(values):
        return None
    if sorted(numbers) != sorted(t.number for t in front):
        return None  # re-scored for another budget's front
    try:
        arr = np.array(values, dtype=float).reshape(len(values), len(study.directions))
    except (TypeError, ValueError):
        return None
    return arr


def hypervolume_verdict(
    name: str, studies: Sequence[StudyData], *, seed: int = 0, looks: Sequence[int] = ()
) -> dict[str, Any]:
    """The verdict dict of a comparison whose arms have several objectives (see the module docstring)."""
    arms = group_by_sampler(studies)
    first = studies[0]
    directions: list[str] = [direction_name(d) for d in first.directions]
    metrics = list(first.metric_names)
    budget = compared_budget(studies)
    compared = {s.name: _compared(s, budget) for s in studies}
    everything = [t.values for ts in compared.values() for t in ts]
    if not everything:
        scale = None
    else:
        scale = pareto.Scale.fit(np.array(everything), directions)
    fronts = {s.name: _front_of(compared[s.name], directions) for s in studies}

    def volume(points: np.ndarray) -> float:
        return scale.hypervolume(points) if scale is not None and len(points) else 0.0

    validation = {
        n: [(s.seed, volume(np.array([t.values for t in fronts[s.name]]))) for s in ss if s.finished]
        for n, ss in arms.items()
    }
    held: dict[str, list[tuple[Any, float]] | None] = {}
    for n, ss in arms.items():
        rows = [(s, _held_out_front(s, fronts[s.name])) for s in ss]
        held[n] = None if any(v is None for _, v in rows) else [(s.seed, volume(v)) for s, v in rows]  # type: ignore[arg-type]
    on_test = len(arms) > 1 and all(h is not None for h in held.values())
    validation_pairs, _ = pairwise(validation, "maximize", on="validation", seed=seed)
    if on_test:
        pairs, untested = pairwise({n: list(v or []) for n, v in held.items()}, "maximize", on="test", seed=seed)
    else:
        pairs, untested = validation_pairs, []
    true_volume = _true_volume(studies, scale, directions)
    repeats = max(len(ss) for ss in arms.values())
    arm_rows = []
    for n, ss in arms.items():
        per_repeat = [v for _, v in validation[n]]
        test_values = [v for _, v in held[n]] if held[n] is not None else None  # type: ignore[union-attr]
        row: dict[str, Any] = {
            "sampler": n,
            "repeats": len(ss),
            "trials": int(np.median([len(s.finished) for s in ss])) if ss else 0,
            "best": {**quartiles(per_repeat), "per_repeat": per_repeat},
            "test": None
            if test_values is None
            else {**quartiles(test_values), "per_repeat": test_values, "training_sd": None},
            "front_size": quartiles([len(fronts[s.name]) for s in ss]),
            "seconds": float(np.median([s.seconds() for s in ss])) if ss else 0.0,
        }
        if true_volume is not None and test_values is not None:  # the truth of a front is its held-out values
            regret = [true_volume - v for v in test_values]
            row["regret"] = {**quartiles(regret), "per_repeat": regret}
        arm_rows.append(row)
    quantity = "held-out hypervolume" if on_test else "validation hypervolume"
    units = MetricUnits("hypervolume", None)
    sentences = [
        pair_sentence(p, units, quantity).replace("better networks", "better fronts") for p in pairs
    ] + untested
    notes = family_notes(pairs, on_test, budget, studies, arms, looks, repeats)
    if pairs and not on_test:
        notes[0] = (
            "No held-out front exists for every repeat, so this verdict decides on the hypervolume of each "
            "repeat's validation front, whose values are biased upward by selection."
        )
    text = " ".join([*(merge_limited(pairs, sentences) or ["There is no pair of arms to compare."]), *notes])
    verdict: dict[str, Any] = {
        "comparison": name,
        "metric": "hypervolume",
        "direction": "maximize",
        "objectives": [{"metric": m, "direction": d} for m, d in zip(metrics, directions, strict=True)],
        "reference": None
        if scale is None
        else {
            "point": scale.reference(),
            "metrics": metrics,
            "best": list(scale.best),
            "worst": list(scale.worst),
            "rule": RULE,
        },
        "budget": budget,
        "repeats": repeats,
        "arms": arm_rows,
        "pairs": pairs,
        "validation_pairs": validation_pairs,
        "importance": [],
        "verdict": text,
        "sentences": sentences,
        "looks": [*[k for k in looks if k != repeats], repeats],
    }
    if true_volume is not None:
        verdict["optimum"] = true_volume
    return json_safe(verdict)


def _true_volume(studies: Sequence[StudyData], scale: pareto.Scale | None, directions: list[str]) -> float | None:
    """The hypervolume of the true front (user attr ``true_front``: a table's), on the comparison's scale."""
    if scale is None:
        return None
    for s in studies:
        raw = s.attrs.get(TRUE_FRONT_ATTR)
        if isinstance(raw, list) and raw:
            try:
                return scale.hypervolume(np.array(raw, dtype=float).reshape(len(raw), len(directions)))
            except (TypeError, ValueError):
                return None
    return None
