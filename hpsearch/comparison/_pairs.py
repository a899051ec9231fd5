"""A family of pairs of arms, decided together, and the plain sentences that say what it found.

Shared by the single-objective verdict (each repeat's best value, held out where
possible) and the several-objective one (each repeat's hypervolume): both hand
this module one value per repeat and arm, and it pairs the arms (by seed where
they share randomness), decides every pair with hpsearch.stats.compare_family,
and words the result: one short sentence per pair, one merged sentence for the
pairs the design alone leaves undecidable, and the notes on budget and looks.
Pure (no storage), so calibration can run it on thousands of simulated comparisons.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hpsearch import samplers, stats
from hpsearch._format import MetricUnits
from hpsearch.records import Direction
from hpsearch.results import StudyData

#: Family-wise error of deciding at 5 % after each of k equally spaced looks (Armitage, McPherson and
#: Rowe 1969, normal approximation): what looking, then resuming with more repeats, does to "5 %".
LOOK_ERROR = {2: 0.08, 3: 0.11, 4: 0.13, 5: 0.14}


def quartiles(values: Sequence[float]) -> dict[str, float | None]:
    ok = [v for v in values if v is not None and math.isfinite(v)]
    if not ok:
        return {"median": None, "q1": None, "q3": None}
    q1, med, q3 = np.percentile(ok, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3)}


def worse(direction: str) -> Any:
    return min if direction == "maximize" else max


Finals = dict[str, list[tuple[Any, float]]]  # sampler -> [(seed, the repeat's value or NaN)], arm order


def fill_worst(finals: Finals, direction: str) -> Finals:
    """A repeat without a finite value (every trial diverged) as the worst value of the comparison."""
    values = [v for rows in finals.values() for _, v in rows if math.isfinite(v)]
    if not values:
        return {n: [] for n in finals}
    worst = worse(direction)(values)
    return {n: [(k, v if math.isfinite(v) else worst) for k, v in rows] for n, rows in finals.items()}


def _samples(finals: Finals, a: str, b: str) -> tuple[list[float], list[float], bool]:
    """Values of a and b: paired by seed when the arms share randomness and ran the same seeds."""
    fa, fb = dict(finals[a]), dict(finals[b])
    same = None not in fa and set(fa) == set(fb) and len(fa) == len(finals[a]) == len(finals[b])
    if stats.shares_randomness(a, b) and same and fa:
        keys = sorted(fa, key=str)
        return [fa[k] for k in keys], [fb[k] for k in keys], True
    return [v for _, v in finals[a]], [v for _, v in finals[b]], False


def pairwise(finals: Finals, direction: Direction, *, on: str, seed: int = 0) -> tuple[list[dict[str, Any]], list[str]]:
    """The pairs of a family: every pair (the later arm as a, the earlier as b: random vs grid, tpe vs
    random) decided together by stats.compare_family on each repeat's value (finite: fill first).

    Pure (no storage), so calibration can run it on thousands of simulated comparisons. Also returns
    a sentence per pair that could not be tested.
    """
    found, untested = [], []
    for b, a in itertools.combinations(list(finals), 2):
        va, vb, paired = _samples(finals, a, b)
        if va and vb:
            found.append((a, b, (va, vb, paired)))
        else:
            empty = " and ".join(shown(n) for n, v in ((a, va), (b, vb)) if not v)
            untested.append(f"{capital(shown(a))} vs {shown(b)} not tested: {empty} has no repeat with a result yet.")
    decided = stats.compare_family([d for _, _, d in found], direction=direction, seed=seed) if found else []
    pairs = [
        {
            "a": a,
            "b": b,
            "on": on,
            "diff": t.diff,
            "ci": [t.ci[0], t.ci[1]],
            "ci_level": t.ci_level,
            "method": t.method,
            "p": t.p,
            "p_holm": t.p_holm,
            "min_p": t.min_p,
            "better": t.better,
            "n": [t.n_a, t.n_b],
        }
        for (a, b, _), t in zip(found, decided, strict=True)
    ]
    return pairs, untested


def shown(sampler: str) -> str:
    return samplers.label(sampler)


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def pair_sentence(pair: dict[str, Any], units: MetricUnits, quantity: str) -> str:
    """One short plain sentence: which strategy finds better networks, by how much, how sure."""
    a, b = shown(pair["a"]), shown(pair["b"])
    p = f"Holm p = {pair['p_holm']:.2g}"
    if pair["better"] is not None:
        winner, loser = (a, b) if pair["better"] == "a" else (b, a)
        return f"{capital(winner)} finds better networks than {loser}: {units.size(pair['diff'])} of {quantity} ({p})."
    if pair["min_p"] >= stats.ALPHA:
        return f"{capital(a)} vs {b}: undecidable with these repeats (no p below {pair['min_p']:.3g} is possible)."
    return f"No clear difference between {a} and {b} ({units.size(pair['diff'])} of {quantity}, {p})."


def merge_limited(pairs: list[dict[str, Any]], sentences: list[str]) -> list[str]:
    """Pairs the design alone leaves undecidable, said once, with the repeats that would do."""
    limited = [i for i, p in enumerate(pairs) if p["better"] is None and p["min_p"] >= stats.ALPHA]
    if not limited:
        return sentences
    names = [f"{shown(pairs[i]['a'])} vs {shown(pairs[i]['b'])}" for i in limited]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    need = max(10, stats.repeats_needed(len(pairs)))
    n = max(min(pairs[i]["n"]) for i in limited)
    merged = (
        f"{capital(joined)}: no verdict is possible with {n} repeats (no p below 0.05 after Holm); "
        f"{need} repeats can give one."
    )
    return [merged] + [w for i, w in enumerate(sentences) if i not in limited]


def family_notes(
    pairs: list[dict[str, Any]],
    on_test: bool,
    budget: int,
    studies: Sequence[StudyData],
    arms: dict[str, list[StudyData]],
    looks: Sequence[int],
    repeats: int,
) -> list[str]:
    notes = []
    if pairs and not on_test:
        notes.append(
            "No held-out score exists for every repeat, so this verdict decides on each repeat's best "
            "validation value: the maximum of many noisy measurements, biased upward by selection, which "
            "rewards a strategy that samples many configurations near lucky noise."
        )
    asked = max((len(s.finished) for s in studies), default=0)
    if asked > budget:
        short = [shown(n) for n, ss in arms.items() if max(len(s.finished) for s in ss) <= budget]
        who = f" ({' and '.join(short)} ran {budget})" if short else ""
        notes.append(f"Every arm is compared at its first {budget} finished trials{who}.")
    earlier = [k for k in looks if k != repeats]
    if earlier:
        k = len(earlier) + 1
        rate = LOOK_ERROR.get(k, max(LOOK_ERROR.values()))
        notes.append(
            f"This comparison was looked at with {', '.join(map(str, earlier))} repeats and resumed to {repeats}: "
            f"deciding after each of {k} looks names a false winner up to about {rate:.0%} of the time, not 5%."
        )
    return notes
