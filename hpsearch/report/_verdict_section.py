"""The comparison report's first section: the verdict, as a reader scans it.

Reads the verdict computed by hpsearch.comparison._verdict from stored studies
(nothing is run here) and turns it into table rows: per pair the difference in
the metric's units (and in validation examples for accuracy), the 95 %
interval, the test and whether it paired the repeats, p, Holm's p, the
smallest p the design can reach, and one plain sentence; per arm the test score
across repeats and the training noise of one configuration.
"""

from __future__ import annotations

from typing import Any

from hpsearch._format import fmt_number
from hpsearch.comparison._verdict import COUNTED_METRICS, PERCENT_METRICS, TEST_NAMES, VerdictDetails


def _stat(x: Any, digits: int = 4) -> str:
    """A test statistic or p-value; a missing one as a dash."""
    return fmt_number(x, digits, none="–")


def verdict_view(details: VerdictDetails, n_val: int | None) -> dict[str, Any]:
    """Template context for the verdict section."""
    v = details.verdict
    percent = v["metric"] in PERCENT_METRICS
    counted = v["metric"] in COUNTED_METRICS and isinstance(n_val, int) and n_val > 0

    def diff(x: float) -> str:
        return f"{100 * x:+.2f} points" if percent else f"{x:+.4g}"

    def value(x: float | None) -> str:
        return "–" if x is None else (f"{100 * x:.2f}%" if percent else f"{x:.4g}")

    pairs = []
    for p, sentence in zip(v["pairs"], details.pair_sentences, strict=False):  # untested pairs add sentences only
        lo, hi = p["ci"]
        pairs.append(
            {
                "pair": f"{p['a']} − {p['b']}",
                "diff": diff(p["diff"]),
                "examples": f"{p['diff'] * n_val:+.1f} of {n_val}" if counted else "–",
                "ci": f"[{diff(lo)}, {diff(hi)}]" if not percent else f"[{100 * lo:+.2f}, {100 * hi:+.2f}] points",
                "test": TEST_NAMES[p["method"]],
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
        "verdict_noise": details.noise_sentence,
        "verdict_head": [
            "sampler",
            "repeats",
            f"best validation {v['metric']}: median [IQR]",
            "test score: median [IQR] over repeats",
            "training SD (one configuration)",
            "seconds per repeat (median)",
        ],
    }
