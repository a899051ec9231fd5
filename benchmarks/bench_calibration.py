"""How often does the verdict name a winner where there is none? Null comparisons, counted.

Where every arm is the same in distribution, any named winner is a false
positive; Holm's correction over the pairs should keep the family-wise rate at
or below 5 %. This simulates many comparisons of grid, random and TPE x 10
repeats (random and TPE share a per-seed part, as their shared start-up draws
make them do; grid shares nothing) and runs the verdict's own pairwise
statistics (hpsearch.comparison._verdict.pairwise) on them. Half the
comparisons use accuracies on 360 examples (many ties), half continuous values.

It prints the rate of comparisons that named any winner and of pairs named,
with 95 % Clopper-Pearson intervals. Each comparison takes ~0.4 s on a quiet
2-core machine (the unpaired test's permutations and the interval's test
inversion), so 300 take about two minutes: too heavy for the test suite, which
runs 80 (tests/comparison/test_calibration.py).

    python benchmarks/bench_calibration.py --n 300 --seed 12
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import beta

from hpsearch.comparison._pairs import pairwise


def null_finals(rng: np.random.Generator, repeats: int, discrete: bool) -> dict:
    shared = rng.normal(size=repeats)
    draw = {
        "grid": rng.normal(size=repeats) + rng.normal(size=repeats),
        "random": shared + rng.normal(size=repeats),
        "tpe": shared + rng.normal(size=repeats),
    }
    if discrete:  # accuracies on 360 examples: many ties
        draw = {k: np.round(340 + 2 * v) / 360 for k, v in draw.items()}
    return {k: [(seed, float(x)) for seed, x in enumerate(v)] for k, v in draw.items()}


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    lo = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
    return lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="simulated comparisons")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    named = pairs_named = 0
    t0 = time.perf_counter()
    for i in range(args.n):
        pairs, _ = pairwise(null_finals(rng, 10, discrete=bool(i % 2)), "maximize", on="validation", seed=i)
        hits = sum(p["better"] is not None for p in pairs)
        named += hits > 0
        pairs_named += hits
    seconds = time.perf_counter() - t0
    lo, hi = clopper_pearson(named, args.n)
    plo, phi = clopper_pearson(pairs_named, 3 * args.n)
    print(f"{args.n} null comparisons (seed {args.seed}) in {seconds:.0f} s")
    print(f"  named any winner: {named}/{args.n} = {named / args.n:.1%} (95 % CI {lo:.1%}-{hi:.1%}; nominal <= 5 %)")
    rate = pairs_named / (3 * args.n)
    print(f"  pairs named:      {pairs_named}/{3 * args.n} = {rate:.1%} (95 % CI {plo:.1%}-{phi:.1%})")


if __name__ == "__main__":
    main()
