"""The comparison report: arms (samplers) x repeats (seeds), statistics and tables.

Follows SCIENCE.md "Statistics for the comparison report": repeats are the unit,
expected max only for independent samplers, pairwise tests on final bests paired
by seed where seeds pair, trials-to-match grid, coverage next to importance,
diverged trials counted per arm, provenance recorded.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from hpsearch import stats
from hpsearch.report import _compare_figures as cf
from hpsearch.report._collect import StudyData
from hpsearch.report._html import fmt, render
from hpsearch.report._importance import importances
from hpsearch.report._study import _short, test_items

_ORDER = ["grid", "random", "qmc", "tpe"]


def group_arms(studies: list[StudyData]) -> cf.Arms:
    """Studies grouped by sampler, in a stable, readable order."""
    arms: cf.Arms = {}
    for s in studies:
        arms.setdefault(s.sampler, []).append(s)
    key = lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)  # noqa: E731
    return {n: arms[n] for n in sorted(arms, key=key)}


def final_best(s: StudyData) -> float:
    b = s.best()
    return b.value if b else math.nan


def budget_of(arms: cf.Arms) -> int:
    return max((len(s.finished) for a in arms.values() for s in a), default=0)


def summary(arms: cf.Arms, direction: str) -> tuple[list[int], list[list[str]]]:
    """Median best value per sampler at N/4, N/2 and N finished trials."""
    n = budget_of(arms)
    budgets = sorted({b for b in (max(1, n // 4), max(1, n // 2), n) if b > 0})
    grid, curves = cf.arm_curves(arms, direction, "trials")
    rows = []
    for name, (med, _, _) in curves.items():
        rows.append([name, str(len(arms[name]))] + [fmt(med[b - 1]) for b in budgets])
    return budgets, rows


def _samples(arms: cf.Arms, a: str, b: str) -> tuple[list[float], list[float], bool]:
    """Final bests of arms a and b, paired by seed when both arms ran the same seeds."""
    sa = {s.seed: final_best(s) for s in arms[a]}
    sb = {s.seed: final_best(s) for s in arms[b]}
    same_seeds = None not in sa and set(sa) == set(sb) and len(sa) == len(arms[a]) == len(arms[b])
    if same_seeds and all(math.isfinite(v) for v in [*sa.values(), *sb.values()]):
        keys = sorted(sa, key=str)
        return [sa[k] for k in keys], [sb[k] for k in keys], True
    va = [v for v in (final_best(s) for s in arms[a]) if math.isfinite(v)]
    vb = [v for v in (final_best(s) for s in arms[b]) if math.isfinite(v)]
    return va, vb, False


def _pairs(arms: cf.Arms, direction: str, seed: int) -> list[dict[str, Any]]:
    out = []
    for a, b in itertools.combinations(arms, 2):
        va, vb, paired = _samples(arms, a, b)
        if len(va) < 2 or len(vb) < 2:
            out.append({"a": a, "b": b, "text": "Not tested: fewer than 2 repeats with a result.",
                        "test": "", "p": "", "ci": ""})
            continue
        diff, lo, hi = stats.bootstrap_median_diff(va, vb, paired=paired, seed=seed)
        test = stats.rank_test(va, vb, paired=paired)
        out.append({
            "a": a, "b": b, "test": test.name + (" (paired by seed)" if paired else ""),
            "p": fmt(test.p_value, 3), "ci": f"{diff:+.4g} [{lo:.4g}, {hi:.4g}]",
            "text": stats.verdict(a, b, diff, lo, hi, direction, min(len(va), len(vb)), test.p_value),
        })
    return out


def _match_grid(arms: cf.Arms, direction: str) -> tuple[str, list[list[str]]]:
    if "grid" not in arms:
        return "", []
    finals = [final_best(s) for s in arms["grid"] if math.isfinite(final_best(s))]
    if not finals:
        return "", []
    target = float(np.median(finals))
    rows = []
    for name, studies in arms.items():
        if name == "grid":
            continue
        for s in studies:
            n = stats.trials_to_match(s.values(), target, direction)
            rows.append([name, s.name, fmt(s.seed), str(n) if n else f"not reached in {len(s.finished)}"])
    return fmt(target, 6), rows


def _coverage_rows(arms: cf.Arms, params: list[str], imp: dict[str, float]) -> list[list[str]]:
    rows = []
    for p in sorted(params, key=lambda q: -imp.get(q, -1)):
        row = [p, fmt(imp[p], 3) if p in imp else "–"]
        for studies in arms.values():
            per = [len({repr(t.params[p]) for t in s.finished if p in t.params}) for s in studies]
            pooled = len({repr(t.params[p]) for s in studies for t in s.finished if p in t.params})
            row.append(f"{fmt(float(np.median(per)) if per else 0)} per study, {pooled} pooled")
        rows.append(row)
    return rows


def _importance_trials(arms: cf.Arms) -> tuple[list, str]:
    indep = [n for n in arms if n in cf.INDEPENDENT]
    chosen = indep or list(arms)
    trials = [t for n in chosen for s in arms[n] for t in s.frozen]
    return trials, ", ".join(chosen)


def comparison_page(name: str, studies: list[StudyData], *, seed: int = 0) -> str:
    """HTML of the comparison ``name`` built from its arm studies."""
    arms = group_arms(studies)
    direction = studies[0].direction
    params = list(dict.fromkeys(p for s in studies for p in s.distributions))
    log_params = {p for s in studies for p, d in s.distributions.items() if getattr(d, "log", False)}
    n = budget_of(arms)
    trials, imp_arms = _importance_trials(arms)
    method = "fanova" if any(a in cf.INDEPENDENT for a in arms) else "ped-anova"
    imp, imp_note = importances(trials, direction, method, seed=seed)
    em_fig, em_notes = cf.expected_max(arms, direction, n)
    finals = {a: [final_best(s) for s in ss] for a, ss in arms.items()}
    figures = [
        cf.best_so_far(arms, direction, "trials"),
        cf.best_so_far(arms, direction, "seconds") if any(s.has("seconds") for s in studies) else None,
        cf.best_so_far(arms, direction, "epochs") if any(s.has("epochs") for s in studies) else None,
        em_fig,
        cf.final_distribution(finals, {a: [s.seed for s in ss] for a, ss in arms.items()}),
        cf.coverage(arms, params, log_params),
    ]
    budgets, summary_rows = summary(arms, direction)
    target, match_rows = _match_grid(arms, direction)
    arm_rows = []
    for a, ss in arms.items():
        c = [s.counts() for s in ss]
        arm_rows.append([a, len(ss), sum(x["COMPLETE"] for x in c), sum(x["PRUNED"] for x in c),
                         sum(x["DIVERGED"] for x in c), sum(x["FAIL"] for x in c)])
    tests = []
    for a, ss in arms.items():
        for s in ss:
            items = test_items(s.attrs)
            if items:
                num = s.attrs.get("test_trial")
                tr = next((t for t in s.trials if t.number == num), None) or s.best()
                tests.append({"arm": a, "study": s.name, "trial": tr.number if tr else "",
                              "valid": fmt(tr.value, 6) if tr else "",
                              "rows": [kv for kv in items if kv[0] != "evaluated trial"]})
    prov = [[s.sampler, s.name, fmt(s.seed), str(s.attrs.get("optuna_version", "–")),
             _short(s.attrs.get("sampler_args", "–"))] for ss in arms.values() for s in ss]
    return render(
        "comparison.html", title=f"Comparison {name}", figures=[f for f in figures if f],
        name=name, direction=direction, budget=n, arms=list(arms),
        summary_head=["sampler", "repeats"] + [f"median best @ {b}" for b in budgets],
        summary_rows=summary_rows, em_notes=em_notes, pairs=_pairs(arms, direction, seed),
        match_target=target, match_rows=match_rows,
        coverage_head=["hyperparameter", "importance"] + [f"distinct values: {a}" for a in arms],
        coverage_rows=_coverage_rows(arms, params, imp), importance_note=f"{imp_note} (arms: {imp_arms})",
        arm_rows=arm_rows, tests=tests, provenance=prov,
    )
