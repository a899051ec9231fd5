"""The comparison report's first section: the verdict, as a reader scans it.

Renders the verdict dict it is handed (compare's, or the one stored with the
comparison; nothing is computed again here): its words once, then the numbers
in tables. Per pair: what it was decided on (held-out test or validation
maxima), the difference in the metric's units (and in validation examples for
accuracy), the interval of the same test at its Holm-matched level, the test,
p, Holm's p, the smallest p the design can reach. Per arm: trials, the best
validation value, the held-out score, the training noise of one configuration
(a number, not a threshold) and, where the truth is known, the regret.
"""

from __future__ import annotations

from typing import Any

from hpsearch._format import METHOD_NAMES, MetricUnits, fmt_number

ON = {"test": "held-out test", "validation": "best validation (biased upward)"}


def _stat(x: Any, digits: int = 4) -> str:
    """A test statistic or p-value; a missing one as a dash."""
    return fmt_number(x, digits, none="–")


def pair_rows(pairs: list[dict[str, Any]], units: MetricUnits, held_out: str = ON["test"]) -> list[dict[str, str]]:
    """One table row per pair of a family (``held_out``: what "on": "test" means for this comparison)."""
    on_words = ON | {"test": held_out}
    rows = []
    for p in pairs:
        lo, hi = p["ci"]
        level = p.get("ci_level")
        rows.append(
            {
                "pair": f"{p['a']} − {p['b']}",
                "on": on_words.get(p.get("on", "validation"), str(p.get("on"))),
                "diff": units.diff(p["diff"]),
                "examples": f"{p['diff'] * units.n_val:+.1f} of {units.n_val}"
                if units.counted and p["diff"] is not None and p.get("on") == "validation"
                else "–",
                "ci": f"[{units.bound(lo, True)}, {units.bound(hi, False)}]" + (" points" if units.percent else ""),
                "level": f"{100 * level:.1f}%" if isinstance(level, (int, float)) else "95%",
                "test": METHOD_NAMES.get(p["method"], p["method"]),
                "p": _stat(p["p"], 3),
                "p_holm": _stat(p["p_holm"], 3),
                "min_p": _stat(p["min_p"], 3),
                "better": p[p["better"]] if p["better"] else "no winner",
            }
        )
    return rows


def _regret(r: dict[str, Any] | None, units: MetricUnits) -> str:
    """True regret's median [IQR], in the metric's units (points for a [0, 1] metric, as the differences)."""
    if not r or r.get("median") is None:
        return "–"
    if units.percent:
        return f"{100 * r['median']:.2f} [{100 * r['q1']:.2f} – {100 * r['q3']:.2f}] points"
    return f"{r['median']:.4g} [{r['q1']:.4g} – {r['q3']:.4g}]"


def verdict_view(v: dict[str, Any] | None, n_val: int | None) -> dict[str, Any]:
    """Template context for the verdict section (``v`` None: the comparison has no verdict yet)."""
    if v is None:
        return {
            "verdict_text": "No verdict yet: none was computed for these arm studies as they stand.",
            "verdict_pairs": [],
            "validation_pairs": [],
            "verdict_arms": [],
            "verdict_head": [],
            "verdict_optimum": None,
            "verdict_budget": "–",
        }
    units = MetricUnits(v["metric"], n_val)
    regret = any("regret" in a for a in v["arms"])
    arms = []
    for a in v["arms"]:
        t = a["test"]
        sd = t["training_sd"] if t else None
        row = [
            a["sampler"],
            str(a["repeats"]),
            str(a.get("trials", "–")),
            units.spread(a["best"]),
            units.spread(t) if t else "no held-out score",
            ("–" if sd is None else f"{100 * sd:.2f} points" if units.percent else f"{sd:.4g}"),
        ]
        if regret:
            row.append(_regret(a.get("regret"), units))
        row.append(f"{a['seconds']:.3g}")
        arms.append(row)
    head = [
        "sampler",
        "repeats",
        "finished trials per repeat",
        f"best validation {v['metric']} at the budget: median [IQR]",
        f"held-out {v['metric']}: median [IQR] over repeats",
        "training SD (one configuration)",
    ]
    if regret:
        head.append("true regret: median [IQR]")
    head.append("seconds per repeat (median)")
    deciding = v["pairs"]
    # a table benchmark's held-out score is its pick's true mean (the verdict carries the optimum then)
    held_out = "held-out true mean" if isinstance(v.get("optimum"), (int, float)) else ON["test"]
    on_test = any(p.get("on") == "test" for p in deciding)
    return {
        "verdict_text": v["verdict"],
        "verdict_pairs": pair_rows(deciding, units, held_out),
        "validation_pairs": pair_rows(v.get("validation_pairs") or [], units) if on_test else [],
        "verdict_arms": arms,
        "verdict_head": head,
        "verdict_optimum": units.value(v["optimum"]) if isinstance(v.get("optimum"), (int, float)) else None,
        "verdict_budget": v.get("budget"),
    }
