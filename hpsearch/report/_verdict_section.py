"""The comparison report's first section: the verdict, as a reader scans it.

Renders the verdict dict it is handed (compare's, or the one stored with the
comparison; nothing is computed again here) as table rows: per pair the difference in
the metric's units (and in validation examples for accuracy), the 95 %
interval, the test and whether it paired the repeats, p, Holm's p, the
smallest p the design can reach, and one plain sentence; per arm the test score
across repeats and the training noise of one configuration.
"""

from __future__ import annotations

from typing import Any

from hpsearch._format import COUNTED_METRICS, METHOD_NAMES, PERCENT_METRICS, fmt_number


def _stat(x: Any, digits: int = 4) -> str:
    """A test statistic or p-value; a missing one as a dash."""
    return fmt_number(x, digits, none="–")


def verdict_view(v: dict[str, Any] | None, n_val: int | None) -> dict[str, Any]:
    """Template context for the verdict section (``v`` None: the comparison has no verdict yet)."""
    if v is None:
        return {
            "verdict_text": "No verdict yet: none was computed for these arm studies as they stand.",
            "verdict_pairs": [],
            "verdict_arms": [],
            "verdict_noise": "",
            "verdict_head": [],
        }
    percent = v["metric"] in PERCENT_METRICS
    counted = v["metric"] in COUNTED_METRICS and isinstance(n_val, int) and n_val > 0

    def diff(x: float) -> str:
        return f"{100 * x:+.2f} points" if percent else f"{x:+.4g}"

    def value(x: float | None) -> str:
        return "–" if x is None else (f"{100 * x:.2f}%" if percent else f"{x:.4g}")

    pairs = []
    for p, sentence in zip(
        v["pairs"], v.get("sentences") or [""] * len(v["pairs"]), strict=False
    ):  # untested pairs add sentences only
        lo, hi = p["ci"]
        pairs.append(
            {
                "pair": f"{p['a']} − {p['b']}",
                "diff": diff(p["diff"]),
                "examples": f"{p['diff'] * n_val:+.1f} of {n_val}" if counted else "–",
                "ci": f"[{diff(lo)}, {diff(hi)}]" if not percent else f"[{100 * lo:+.2f}, {100 * hi:+.2f}] points",
                "test": METHOD_NAMES.get(p["method"], p["method"]),
                "p": _stat(p["p"], 3),
                "p_holm": _stat(p["p_holm"], 3),
                "min_p": _stat(p["min_p"], 3),
                "better": p[p["better"]] if p["better"] else "inconclusive",
                "sentence": sentence,
            }
        )
    arms = []
    for a in v["arms"]:
        t = a["test"]
        arms.append(
            [
                a["sampler"],
                str(a["repeats"]),
                f"{value(a['best']['median'])} [{value(a['best']['q1'])} – {value(a['best']['q3'])}]",
                f"{value(t['median'])} [{value(t['q1'])} – {value(t['q3'])}]" if t else "no test split",
                (
                    value(t["training_sd"])
                    if not percent or t["training_sd"] is None
                    else f"{100 * t['training_sd']:.2f} points"
                )
                if t
                else "–",
                f"{a['seconds']:.3g}",
            ]
        )
    return {
        "verdict_text": v["verdict"],
        "verdict_pairs": pairs,
        "verdict_arms": arms,
        "verdict_noise": "",
        "verdict_head": [
            "sampler",
            "repeats",
            f"best validation {v['metric']}: median [IQR]",
            "test score: median [IQR] over repeats",
            "training SD (one configuration)",
            "seconds per repeat (median)",
        ],
    }
