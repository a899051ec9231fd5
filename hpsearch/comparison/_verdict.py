"""The comparison's verdict, computed from stored arm studies only (no training, no objective).

This is the one place the verdict is made: ``hpsearch compare`` prints it,
``hpsearch report NAME --json`` prints it again from the database, and the HTML
report opens with it. The dict follows the product's JSON schema:
``comparison, metric, direction, budget, repeats, arms, pairs, importance, verdict``.

How (docs/science.md, "The comparison's statistics" and its appendix):

* the unit is one study repeat; each arm's repeats give final best validation values;
* arms are paired by seed only where they share randomness (random and TPE:
  TPE's start-up trials are random search's points); then an exact Wilcoxon
  signed-rank test, else an exact Mann-Whitney U test;
* Holm's step-down correction over all pairs; ``min_p`` states the smallest p
  the test can reach with these repeats (2 / 2^n paired), so a design that can
  never show a difference says so instead of "no evidence";
* ``diff`` is the Hodges-Lehmann shift (positive: a is better), ``ci`` a seeded
  bootstrap 95 % interval of it; ``better`` needs p_holm < 0.05 AND an interval
  excluding 0;
* test scores (every repeat's best retrained with several training seeds)
  separate search luck (spread across repeats) from training noise (spread
  across training seeds, ``training_sd``).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpsearch import samplers, stats
from hpsearch._format import COUNTED_METRICS, METHOD_NAMES, PERCENT_METRICS
from hpsearch.records import (
    N_VAL_ATTR,
    SPEC_ATTR,
    TEST_SCORE_ATTR,
    TEST_SCORE_STD_ATTR,
    VERDICT_ATTR,
    Direction,
    json_safe,
    stored_budget,
)
from hpsearch.results import StudyData, arm_studies, group_by_sampler

TEST_NAMES = METHOD_NAMES
TRAINING_NOISE_FACTOR = 2.0  # arms differ beyond training noise when test medians differ by > 2 training SDs


def final_best(study: StudyData) -> float:
    best = study.best()
    return best.value if best is not None else math.nan


@dataclass(frozen=True)
class VerdictDetails:
    """The verdict dict plus the words behind it, one sentence per pair (the HTML report shows both)."""

    verdict: dict[str, Any]
    pair_sentences: list[str]
    noise_sentence: str


def comparison_verdict(
    name: str, studies: Sequence[StudyData], *, seed: int = 0, importance: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The verdict dict of comparison ``name`` from its arm studies (see the module docstring).

    ``importance`` may be passed when the caller has already computed it;
    otherwise it is computed here (fANOVA per repeat, median and IQR across repeats).
    """
    return verdict_details(name, studies, seed=seed, importance=importance).verdict


def verdict_details(
    name: str, studies: Sequence[StudyData], *, seed: int = 0, importance: list[dict[str, Any]] | None = None
) -> VerdictDetails:
    """:func:`comparison_verdict` with its sentences kept apart."""
    if not studies:
        raise ValueError(f"comparison {name!r} has no arm studies")
    arms = group_by_sampler(studies)
    direction = studies[0].direction
    spec = _spec_of(studies)
    metric = (spec.get("study") or {}).get("metric") or "value"
    budget = max([_budget(s) for s in studies] or [0])
    units = _Units(metric, _first_attr(studies, N_VAL_ATTR))
    arm_rows = [_arm_row(sampler, ss) for sampler, ss in arms.items()]
    finals = {n: [(s.seed, final_best(s)) for s in ss] for n, ss in arms.items()}
    pairs, tests, untested = pairwise(finals, direction, seed=seed)
    if importance is None:
        importance = _importance(studies, seed)
    sentences = [_pair_sentence(p, t, units, len(pairs)) for p, t in zip(pairs, tests, strict=True)] + untested
    noise = _noise_sentence(arm_rows, units)
    words = _summary_words(pairs, tests, sentences, len(pairs)) or [
        "no pair of arms to compare (a comparison needs two samplers)"
    ]
    text = "; ".join(words) + "." + (f" {noise}" if noise else "")
    verdict: dict[str, Any] = {
        "comparison": name,
        "metric": metric,
        "direction": direction,
        "budget": budget,
        "repeats": max(len(ss) for ss in arms.values()),
        "arms": arm_rows,
        "pairs": pairs,
        "importance": importance,
        "verdict": _capital(text),
        "sentences": [_capital(w) + "." for w in sentences],
    }
    return VerdictDetails(verdict, list(verdict["sentences"]), noise)


def load_verdict(storage: Any, name: str, *, seed: int = 0) -> dict[str, Any]:
    """The verdict of comparison ``name`` computed from its stored arm studies (StudyNotFound if none)."""
    from hpsearch.errors import StudyNotFound

    studies = arm_studies(storage, name)
    if not studies:
        raise StudyNotFound(f"no comparison named {name!r} (no study has user attr comparison={name!r})")
    return comparison_verdict(name, studies, seed=seed)


def current_verdict(storage: Any, name: str, *, seed: int = 0) -> dict[str, Any]:
    """The verdict stored with comparison ``name`` if it is still its arms', else computed from them
    (nothing is stored: readers such as ``hpsearch report`` and the server write nothing)."""
    from hpsearch.errors import StudyNotFound
    from hpsearch.results import stored_verdict

    studies = arm_studies(storage, name)
    if not studies:
        raise StudyNotFound(f"no comparison named {name!r} (no study has user attr comparison={name!r})")
    return stored_verdict(studies) or comparison_verdict(name, studies, seed=seed)


def store_verdict(storage: Any, name: str, verdict: dict[str, Any]) -> None:
    """Store ``verdict`` with comparison ``name`` (on its first arm study, with the fingerprint of the
    arms it was computed from), so the report renders it instead of computing it again."""
    from hpsearch.results import verdict_fingerprint

    studies = arm_studies(storage, name)
    if not studies:
        return
    first = min(studies, key=lambda s: s.name)
    record = {"fingerprint": verdict_fingerprint(studies), "verdict": json_safe(verdict)}
    storage.set_study_user_attr(storage.get_study_id_from_name(first.name), VERDICT_ATTR, record)


# --- pieces ---------------------------------------------------------------------------------


def _spec_of(studies: Sequence[StudyData]) -> dict[str, Any]:
    for s in studies:
        spec = s.attrs.get(SPEC_ATTR)
        if isinstance(spec, dict):
            return spec
    return {}


def _budget(study: StudyData) -> int:
    """The study's budget (the grid cap included), else the finished trials of a study hpsearch did not make."""
    n = stored_budget(study.attrs)
    return n if n is not None else len(study.finished)


def _first_attr(studies: Sequence[StudyData], key: str) -> Any:
    return next((s.attrs[key] for s in studies if s.attrs.get(key) is not None), None)


def _quartiles(values: Sequence[float]) -> dict[str, float | None]:
    ok = [v for v in values if v is not None and math.isfinite(v)]
    if not ok:
        return {"median": None, "q1": None, "q3": None}
    q1, med, q3 = np.percentile(ok, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3)}


def _arm_row(sampler: str, studies: Sequence[StudyData]) -> dict[str, Any]:
    test = None
    scored = [s for s in studies if isinstance(s.attrs.get(TEST_SCORE_ATTR), (int, float))]
    if scored:
        per_repeat = [float(s.attrs[TEST_SCORE_ATTR]) for s in scored]
        variances = [
            float(s.attrs[TEST_SCORE_STD_ATTR]) ** 2
            for s in scored
            if isinstance(s.attrs.get(TEST_SCORE_STD_ATTR), (int, float))
        ]
        training_sd = math.sqrt(statistics.fmean(variances)) if variances else None  # pooled over repeats
        test = {**_quartiles(per_repeat), "per_repeat": per_repeat, "training_sd": training_sd}
    seconds = [s.seconds() for s in studies]
    return {
        "sampler": sampler,
        "repeats": len(studies),
        "best": _quartiles([final_best(s) for s in studies]),
        "test": test,
        "seconds": float(np.median(seconds)) if seconds else 0.0,
    }


Finals = dict[str, list[tuple[Any, float]]]  # sampler -> [(seed, final best value or NaN)], arm order


def _samples(finals: Finals, a: str, b: str) -> tuple[list[float], list[float], bool]:
    """Final bests of a and b: paired by seed when the arms share randomness and ran the same seeds."""
    fa, fb = dict(finals[a]), dict(finals[b])
    same = (
        None not in fa
        and set(fa) == set(fb)
        and len(fa) == len(finals[a]) == len(finals[b])
        and all(math.isfinite(fa[k]) == math.isfinite(fb[k]) for k in fa)
    )
    if stats.shares_randomness(a, b) and same:
        keys = sorted((k for k in fa if math.isfinite(fa[k])), key=str)
        if keys:
            return [fa[k] for k in keys], [fb[k] for k in keys], True
    va = [v for _, v in finals[a] if math.isfinite(v)]
    vb = [v for _, v in finals[b] if math.isfinite(v)]
    return va, vb, False


def pairwise(
    finals: Finals, direction: Direction, *, seed: int = 0
) -> tuple[list[dict[str, Any]], list[stats.PairTest], list[str]]:
    """The verdict's ``pairs`` from each arm's final bests: every pair (the later arm as a, the
    earlier as b: random vs grid, tpe vs random), exact test, Holm over all pairs, ``better``.

    Pure (no storage), so calibration can run it on thousands of simulated comparisons.
    Also returns the PairTests and a sentence per pair that could not be tested.
    """
    found, untested = [], []
    for b, a in itertools.combinations(list(finals), 2):
        va, vb, paired = _samples(finals, a, b)
        if va and vb:
            found.append((a, b, stats.compare_pair(va, vb, paired=paired, direction=direction, seed=seed)))
        else:
            empty = " and ".join(_shown(n) for n, v in ((a, va), (b, vb)) if not v)
            untested.append(f"{_shown(a)} vs {_shown(b)} not tested: {empty} has no repeat with a result yet")
    adjusted = stats.holm([t.p for _, _, t in found])
    pairs = []
    for (a, b, t), p_holm in zip(found, adjusted, strict=True):
        pairs.append(
            {
                "a": a,
                "b": b,
                "diff": t.diff,
                "ci": [t.ci[0], t.ci[1]],
                "method": t.method,
                "p": t.p,
                "p_holm": p_holm,
                "min_p": t.min_p,
                "better": stats.better_arm(p_holm, t.ci),
            }
        )
    return pairs, [t for _, _, t in found], untested


def _importance(studies: Sequence[StudyData], seed: int) -> list[dict[str, Any]]:
    """fANOVA per study (each repeat of each arm), median and IQR across them: the report's own numbers."""
    from hpsearch.results import importance_spread

    return importance_spread(studies, "fanova", seed)


class _Units:
    """Formats differences in the metric's units: points for [0, 1] metrics, plus examples for accuracy."""

    def __init__(self, metric: str, n_val: int | None) -> None:
        self.percent = metric in PERCENT_METRICS
        self.n_val = n_val if metric in COUNTED_METRICS and isinstance(n_val, int) and n_val > 0 else None

    def diff(self, x: float, signed: bool = True) -> str:
        if self.percent:
            return f"{100 * x:+.2f} points" if signed else f"{100 * x:.2f} points"
        return f"{x:+.4g}" if signed else f"{x:.4g}"

    def value(self, x: float) -> str:
        return f"{100 * x:.2f}%" if self.percent else f"{x:.4g}"

    def examples(self, x: float) -> str:
        if self.n_val is None:
            return ""
        k = abs(x) * self.n_val
        shown = f"{k:.0f}" if abs(k - round(k)) < 0.05 else f"{k:.1f}"
        return f", {shown} of {self.n_val} validation examples"

    def interval(self, lo: float, hi: float) -> str:
        if self.percent:
            return f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"
        return f"[{lo:+.4g}, {hi:+.4g}]"


def _shown(sampler: str) -> str:
    return samplers.label(sampler)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pair_sentence(pair: dict[str, Any], test: stats.PairTest, units: _Units, n_pairs: int) -> str:
    a, b = _shown(pair["a"]), _shown(pair["b"])
    method = TEST_NAMES[test.method]
    p_txt = f"{method} p_holm={pair['p_holm']:.2g}"
    winner = pair["better"]
    if winner is not None:
        sign = 1 if winner == "a" else -1
        w, lose = (a, b) if winner == "a" else (b, a)
        d = sign * pair["diff"]
        lo, hi = sorted((sign * pair["ci"][0], sign * pair["ci"][1]))
        wins = test.wins if winner == "a" else test.losses
        if test.paired:
            head = f"{w} beat {lose} in {wins:g} of {test.out_of} repeats"
        else:
            head = f"{w} beat {lose} in {wins:g} of {test.out_of} repeat pairings"
        return f"{head} ({units.diff(d)}{units.examples(d)}, 95% CI {units.interval(lo, hi)}, {p_txt})"
    if test.min_p >= stats.ALPHA:
        need = max(10, stats.repeats_needed(n_pairs))
        n = test.n_a if test.paired else f"{test.n_a} and {test.n_b}"
        return (
            f"{a} vs {b} inconclusive: with {n} repeats no {method} test can give "
            f"p below {test.min_p:.3g} ({need} repeats can)"
        )
    return (
        f"{a} vs {b} inconclusive: {a} − {b} = {units.diff(pair['diff'])}{units.examples(pair['diff'])} "
        f"(95% CI {units.interval(*pair['ci'])}, {p_txt})"
    )


def _summary_words(
    pairs: list[dict[str, Any]], tests: list[stats.PairTest], sentences: list[str], n_pairs: int
) -> list[str]:
    """The verdict's sentences, with pairs that the design alone leaves inconclusive said once."""
    limited = [i for i, t in enumerate(tests) if pairs[i]["better"] is None and t.min_p >= stats.ALPHA]
    if len(limited) < 2:
        return sentences
    names = [f"{_shown(pairs[i]['a'])} vs {_shown(pairs[i]['b'])}" for i in limited]
    floors = ", ".join(f"{tests[i].min_p:.3g}" for i in limited)
    joined = ", ".join(names[:-1]) + " and " + names[-1]
    need = max(10, stats.repeats_needed(n_pairs))
    merged = (
        f"{joined} inconclusive: with {max(tests[i].n_a for i in limited)} repeats no test can give p below "
        f"0.05 (the smallest p each can give: {floors}; {need} repeats can)"
    )
    return [merged] + [w for i, w in enumerate(sentences) if i not in limited]


def _noise_sentence(arm_rows: list[dict[str, Any]], units: _Units) -> str:
    """Whether the arms' test medians differ by more than training noise (TRAINING_NOISE_FACTOR SDs)."""
    tested = [r for r in arm_rows if r["test"] and r["test"]["median"] is not None]
    if len(tested) < 2:
        return ""
    medians = {r["sampler"]: r["test"]["median"] for r in tested}
    sds = [r["test"]["training_sd"] for r in tested if r["test"]["training_sd"] is not None]
    gap = max(medians.values()) - min(medians.values())
    listing = ", ".join(f"{_shown(s)} {units.value(m)}" for s, m in medians.items())
    head = f"Test score (each repeat's best retrained on train+validation), median over repeats: {listing}."
    if not sds:
        return head
    noise = max(sds)
    more = gap > TRAINING_NOISE_FACTOR * noise
    return (
        f"{head} The largest gap between arms, {units.diff(gap, signed=False)}, is "
        f"{'more' if more else 'not more'} than training noise "
        f"({TRAINING_NOISE_FACTOR:g} x the training-seed SD of {units.diff(noise, signed=False)})."
    )
