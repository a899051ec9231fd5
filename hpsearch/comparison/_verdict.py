"""The comparison's verdict, computed from stored arm studies only (no training, no objective).

The one place the verdict is made: compare computes and stores it, ``hpsearch
report NAME --json`` prints it, and the HTML report renders it. The dict
follows the product's JSON schema: ``comparison, metric, direction, budget,
repeats, arms, pairs, validation_pairs, importance, verdict`` (plus
``sentences``, ``looks`` and, where the truth is known, ``optimum``).

How (docs/science.md, "The comparison's statistics"):

* the unit is one study repeat. Every arm is compared at the same number of
  finished trials, ``budget`` (the smallest budget of any arm: a grid smaller
  than n_trials caps it), and each repeat's pick is its best trial among its
  first ``budget`` finished trials by slot. Best-of-N grows with N, so an arm
  with more trials would otherwise win on noise alone;
* the deciding family is each repeat's **held-out** score of that pick (its
  best configuration re-scored on data the search never saw: retrained MLP on
  test, a user function with ``split="test"``, a table's true mean) wherever
  every repeat has one: each pair says ``"on": "test"``. Without, the verdict
  decides on validation maxima (``"on": "validation"``) and says why that is
  weaker: the maximum of many noisy measurements is biased upward and rewards
  sampling near lucky noise. ``validation_pairs`` always holds the validation
  family, for reference;
* a diverged retrain counts as the worst held-out score of the comparison
  (never as missing), and a repeat without any finite best validation value
  as the worst validation value: dropping them would hide exactly the failures;
* arms pair by seed only where they share randomness (random and TPE); all
  pairs are decided together by hpsearch.stats.compare_family: the exact
  signed-rank test (paired) or Brunner-Munzel (unpaired), Holm over all pairs,
  and the Hodges-Lehmann interval that inverts the same test at the
  Holm-matched level, so test and interval cannot disagree; ``min_p`` counts
  only the differences the test keeps;
* ``training_sd`` (spread across retraining seeds) is reported, never used as
  a threshold; where the truth is known (a table benchmark's optimum), each
  arm gets its true ``regret``;
* a comparison looked at and then resumed with more repeats is a second look
  (``looks``): the verdict says what that does to the error rate.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from hpsearch._format import MetricUnits
from hpsearch.comparison._hypervolume import hypervolume_verdict
from hpsearch.comparison._pairs import (
    family_notes,
    fill_worst,
    merge_limited,
    pair_sentence,
    pairwise,
    quartiles,
    worse,
)
from hpsearch.records import (
    N_VAL_ATTR,
    SPEC_ATTR,
    TEST_SCORE_STD_ATTR,
    TEST_SCORES_ATTR,
    TEST_TRIAL_ATTR,
    TRUE_OPTIMUM_ATTR,
    VERDICT_ATTR,
    Direction,
    json_safe,
)
from hpsearch.results import StudyData, arm_studies, compared_budget, group_by_sampler


def comparison_verdict(
    name: str, studies: Sequence[StudyData], *, seed: int = 0, looks: Sequence[int] = (), jobs: int = 1
) -> dict[str, Any]:
    """The verdict dict of comparison ``name`` from its arm studies (see the module docstring).

    ``looks``: the repeats of the verdicts computed before this one (a resumed comparison);
    ``jobs``: processes the per-study importance may use (the verdict is the same for any).
    """
    if not studies:
        raise ValueError(f"comparison {name!r} has no arm studies")
    if studies[0].multi_objective:  # several objectives: each repeat's front, by its hypervolume
        return hypervolume_verdict(name, studies, seed=seed, looks=looks)
    arms = group_by_sampler(studies)
    direction: Direction = studies[0].direction
    spec = _spec_of(studies)
    metric = (spec.get("study") or {}).get("metric") or "value"
    budget = compared_budget(studies)
    units = MetricUnits(metric, _first_attr(studies, N_VAL_ATTR))
    optimum = _first_number(studies, TRUE_OPTIMUM_ATTR)
    picks = {s.name: s.best_within(budget) for s in studies}
    # a repeat with no finished trial yet has no result; one whose trials all diverged has the worst
    finals = {n: [(s.seed, _value(picks[s.name])) for s in ss if s.finished] for n, ss in arms.items()}
    held = _held_out(arms, picks, direction)
    on_test = all(held[n] is not None for n in arms) and len(arms) > 1
    repeats = max(len(ss) for ss in arms.values())
    validation_pairs, _ = pairwise(fill_worst(finals, direction), direction, on="validation", seed=seed)
    if on_test:
        test_finals = {n: list(v) for n, v in held.items() if v is not None}
        pairs, untested = pairwise(test_finals, direction, on="test", seed=seed)
    else:
        pairs, untested = pairwise(fill_worst(finals, direction), direction, on="validation", seed=seed)
    arm_rows = [
        _arm_row(sampler, ss, [picks[s.name] for s in ss], held[sampler], direction, optimum)
        for sampler, ss in arms.items()
    ]
    # a table's held-out score is its pick's true mean over the recorded runs, not a test-set score
    held_out = f"true mean {metric}" if optimum is not None else f"test {metric}"
    quantity = held_out if on_test else f"best validation {metric}"
    sentences = [pair_sentence(p, units, quantity) for p in pairs] + untested
    notes = family_notes(pairs, on_test, budget, studies, arms, looks, repeats)
    text = " ".join([*(merge_limited(pairs, sentences) or ["There is no pair of arms to compare."]), *notes])
    verdict: dict[str, Any] = {
        "comparison": name,
        "metric": metric,
        "direction": direction,
        "budget": budget,
        "repeats": repeats,
        "arms": arm_rows,
        "pairs": pairs,
        "validation_pairs": validation_pairs,
        "importance": _importance(arms, seed, jobs),
        "verdict": text,
        "sentences": sentences,
        "looks": [*[k for k in looks if k != repeats], repeats],
    }
    if optimum is not None:
        verdict["optimum"] = optimum
    return json_safe(verdict)


def load_verdict(storage: Any, name: str, *, seed: int = 0, looks: Sequence[int] = ()) -> dict[str, Any]:
    """The verdict of comparison ``name`` computed from its stored arm studies (StudyNotFound if none)."""
    from hpsearch.errors import StudyNotFound

    studies = arm_studies(storage, name)
    if not studies:
        raise StudyNotFound(f"no comparison named {name!r} (no study has user attr comparison={name!r})")
    return comparison_verdict(name, studies, seed=seed, looks=looks)


def current_verdict(storage: Any, name: str, *, seed: int = 0) -> dict[str, Any]:
    """The verdict stored with comparison ``name`` if it is still its arms', else computed from them
    (nothing is stored: readers such as ``hpsearch report`` and the server write nothing)."""
    from hpsearch.errors import StudyNotFound
    from hpsearch.results import stored_verdict

    studies = arm_studies(storage, name)
    if not studies:
        raise StudyNotFound(f"no comparison named {name!r} (no study has user attr comparison={name!r})")
    return stored_verdict(studies) or comparison_verdict(name, studies, seed=seed, looks=earlier_looks(studies))


def earlier_looks(studies: Sequence[StudyData]) -> list[int]:
    """The repeats at which verdicts of this comparison were computed and stored before (oldest first)."""
    for s in studies:
        record = s.attrs.get(VERDICT_ATTR)
        if isinstance(record, dict) and isinstance(record.get("verdict"), dict):
            v = record["verdict"]
            looks = v.get("looks") or [v.get("repeats")]
            return [int(k) for k in looks if isinstance(k, int)]
    return []


def store_verdict(storage: Any, name: str, verdict: dict[str, Any], studies: Sequence[StudyData] | None = None) -> None:
    """Store ``verdict`` with comparison ``name`` (on its first arm study, with the fingerprint of the
    arms it was computed from), so the report renders it instead of computing it again. ``studies``:
    the arm studies as already read, with their current attrs (else they are read here)."""
    from hpsearch.results import verdict_fingerprint

    studies = arm_studies(storage, name) if studies is None else studies
    if not studies:
        return
    first = min(studies, key=lambda s: s.name)
    record = {"fingerprint": verdict_fingerprint(studies), "verdict": json_safe(verdict)}
    for s in studies:  # one record per comparison: an older one on another arm would be read first
        if s.name != first.name and VERDICT_ATTR in s.attrs:
            storage.set_study_user_attr(storage.get_study_id_from_name(s.name), VERDICT_ATTR, None)
    storage.set_study_user_attr(storage.get_study_id_from_name(first.name), VERDICT_ATTR, record)


# --- pieces ---------------------------------------------------------------------------------


def _value(trial: Any) -> float:
    return float(trial.value) if trial is not None and math.isfinite(trial.value) else math.nan


def _spec_of(studies: Sequence[StudyData]) -> dict[str, Any]:
    for s in studies:
        spec = s.attrs.get(SPEC_ATTR)
        if isinstance(spec, dict):
            return spec
    return {}


def _first_attr(studies: Sequence[StudyData], key: str) -> Any:
    return next((s.attrs[key] for s in studies if s.attrs.get(key) is not None), None)


def _first_number(studies: Sequence[StudyData], key: str) -> float | None:
    for s in studies:
        x = s.attrs.get(key)
        if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
            return float(x)
    return None


def _held_out(
    arms: dict[str, list[StudyData]], picks: dict[str, Any], direction: str
) -> dict[str, list[tuple[Any, float]] | None]:
    """Per arm, each repeat's held-out score of its pick (mean over the retraining seeds), or None when
    some repeat has none. A retrain that diverged (no finite score) counts as the worst held-out score
    of the comparison."""
    scores: dict[str, list[list[float | None]] | None] = {}
    for n, ss in arms.items():
        rows: list[list[float | None]] = []
        for s in ss:
            pick = picks[s.name]
            raw = s.attrs.get(TEST_SCORES_ATTR)
            if pick is None or s.attrs.get(TEST_TRIAL_ATTR) != pick.number or not isinstance(raw, list) or not raw:
                break  # not re-scored, or re-scored for another trial than this budget's pick
            rows.append([float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None for x in raw])
        scores[n] = rows if len(rows) == len(ss) else None
    finite = [x for table in scores.values() if table for row in table for x in row if x is not None]
    worst = worse(direction)(finite) if finite else math.nan
    out: dict[str, list[tuple[Any, float]] | None] = {}
    for n, table in scores.items():
        if table is None or not finite:
            out[n] = None
            continue
        out[n] = [
            (s.seed, statistics.fmean(worst if x is None else x for x in row))
            for s, row in zip(arms[n], table, strict=True)
        ]
    return out


def _arm_row(
    sampler: str,
    studies: Sequence[StudyData],
    picks: Sequence[Any],
    held: list[tuple[Any, float]] | None,
    direction: str,
    optimum: float | None,
) -> dict[str, Any]:
    test = None
    if held is not None:
        per_repeat = [v for _, v in held]
        variances = [
            float(s.attrs[TEST_SCORE_STD_ATTR]) ** 2
            for s in studies
            if isinstance(s.attrs.get(TEST_SCORE_STD_ATTR), (int, float))
        ]
        training_sd = math.sqrt(statistics.fmean(variances)) if variances else None  # pooled over repeats
        test = {**quartiles(per_repeat), "per_repeat": per_repeat, "training_sd": training_sd}
    seconds = [s.seconds() for s in studies]
    trials = [len(s.finished) for s in studies]
    row: dict[str, Any] = {
        "sampler": sampler,
        "repeats": len(studies),
        "trials": int(np.median(trials)) if trials else 0,
        "best": quartiles([_value(p) for p in picks]),
        "test": test,
        "seconds": float(np.median(seconds)) if seconds else 0.0,
    }
    if optimum is not None and held is not None:
        sign = 1.0 if direction == "maximize" else -1.0
        regret = [sign * (optimum - v) for _, v in held]
        row["regret"] = {**quartiles(regret), "per_repeat": regret}
    return row


def _importance(arms: dict[str, list[StudyData]], seed: int, jobs: int = 1) -> list[dict[str, Any]]:
    """fANOVA per study, median and IQR across the repeats of each arm: one list of rows per arm (an arm's
    near-copies, e.g. a grid's, would dominate a pooled figure).

    With ``jobs`` > 1 the studies are computed across that many processes first
    (the same numbers, seeded), PED-ANOVA with them: the report shows both, and
    the in-memory study each needs is the costly part.
    """
    from hpsearch.results import importance_spread, precompute_importance

    precompute_importance(list(arms.values()), ("fanova", "ped-anova"), seed, jobs)

    return [{"sampler": n, **row} for n, ss in arms.items() for row in importance_spread(ss, "fanova", seed)]
