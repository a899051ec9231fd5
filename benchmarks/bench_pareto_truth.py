"""Several objectives against a known true front: random vs TPE vs NSGA-II on HPOBench's MLP tables.

HPOBench's MLP tables record, for each of 30,000 configurations and 5 training
seeds, the validation accuracy and the training time. A trial draws one
recorded run (keyed by seed and trial, as the table objective keys it) and
returns (accuracy, train_seconds); the truth of a configuration is its mean
over the five runs on both, so the true Pareto front of the table is known
exactly.

Per data set and sampler, ``--repeats`` studies of ``--budget`` trials run as
plain Optuna multi-objective studies in memory (samplers: Optuna's
RandomSampler, its multi-objective TPESampler, NSGAIISampler with a population
of 20), stored as a comparison's arm studies. Each repeat's front is re-scored
by the true means of its configurations (its held-out front) and the table's
true front is stored with the arms; hpsearch.comparison.comparison_verdict then
decides on the hypervolume of the held-out fronts (one scale and reference
point for the whole comparison, fixed from every arm's trials before any
difference), and gives each repeat's hypervolume regret against the true
front. Printed per data set: each arm's regret, the deciding pairs (held out)
and the validation-front pairs, and any winner that the true-front regret
contradicts (a decided pair whose winner has the larger median regret, or a
validation-front winner that the held-out decision does not confirm).

    nice -n 10 python benchmarks/bench_pareto_truth.py --out benchmarks/results/pareto-truth.jsonl \\
        [--datasets credit_g,vehicle,australian,blood_transfusion] [--repeats 30] [--budget 100]
    python benchmarks/bench_pareto_truth.py --out benchmarks/results/pareto-truth.jsonl --table
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from hpsearch import pareto
from hpsearch.records import COMPARISON_ATTR, SAMPLER_ATTR, SEED_ATTR, TEST_FRONT_ATTR, TRUE_FRONT_ATTR
from objectives.table import load_table, recorded_seed

DATASETS = ("credit_g", "vehicle", "australian", "blood_transfusion")
SAMPLERS = ("random", "tpe", "nsga2")
DIRECTIONS = ["maximize", "minimize"]
METRICS = ["accuracy", "train_seconds"]


def sampler_of(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)


def true_front(acc: np.ndarray, sec: np.ndarray) -> np.ndarray:
    """The table's true Pareto front: every configuration's mean accuracy and mean seconds."""
    points = np.column_stack([acc.ravel(), sec.ravel()])
    return np.unique(points[pareto.front_mask(points, DIRECTIONS)], axis=0)


def run_dataset(dataset: str, repeats: int, budget: int) -> dict[str, Any]:
    from hpsearch.comparison import comparison_verdict
    from hpsearch.results import arm_studies

    acc, sec = load_table("hpobench", dataset), load_table("hpobench", dataset, "train_seconds")
    axes = acc.benchmark.axes
    truth = true_front(acc.means, sec.means)
    storage = optuna.storages.InMemoryStorage()
    name = f"pareto-{dataset}"
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    for sampler in SAMPLERS:
        t0 = time.perf_counter()
        for seed in range(repeats):
            study = optuna.create_study(
                study_name=f"{name}-{sampler}-s{seed}",
                storage=storage,
                directions=DIRECTIONS,
                sampler=sampler_of(sampler, seed),
            )
            study.set_metric_names(METRICS)
            for k, v in {SAMPLER_ATTR: sampler, SEED_ATTR: seed, COMPARISON_ATTR: name}.items():
                study.set_user_attr(k, v)
            study.set_user_attr(TRUE_FRONT_ATTR, truth.tolist())

            def objective(trial: optuna.Trial, seed: int = seed) -> tuple[float, float]:
                idx = tuple(trial.suggest_int(a.name, 0, len(a.values) - 1) for a in axes)
                run = recorded_seed(seed, trial.number, acc.n_seeds)
                return float(acc.runs[idx + (run,)]), float(sec.runs[idx + (run,)])

            study.optimize(objective, n_trials=budget)
            trials = study.get_trials()
            values = np.array([t.values for t in trials])
            on = pareto.front_mask(values, DIRECTIONS)
            front = [t for t, o in zip(trials, on, strict=True) if o]
            held = [
                [
                    float(acc.means[tuple(t.params[a.name] for a in axes)]),
                    float(sec.means[tuple(t.params[a.name] for a in axes)]),
                ]
                for t in front
            ]
            study.set_user_attr(TEST_FRONT_ATTR, {"trials": [t.number for t in front], "values": held})
        seconds[sampler] = time.perf_counter() - t0
    verdict = comparison_verdict(name, arm_studies(storage, name))
    return {
        "dataset": dataset,
        "repeats": repeats,
        "budget": budget,
        "true_front_size": len(truth),
        "seconds": seconds,
        "wall_seconds": time.perf_counter() - started,
        "verdict": verdict,
        "contradictions": contradictions(verdict),
    }


def contradictions(verdict: dict[str, Any]) -> list[str]:
    """Winners the true-front regret contradicts: a decided pair whose winner has the larger median regret,
    and a validation-front winner the held-out (true) decision does not confirm."""
    regret = {a["sampler"]: a["regret"]["median"] for a in verdict["arms"] if a.get("regret")}
    out = []
    for p in verdict["pairs"]:
        if p["better"] is not None:
            winner, loser = (p["a"], p["b"]) if p["better"] == "a" else (p["b"], p["a"])
            if regret[winner] > regret[loser]:
                out.append(f"deciding pair {p['a']} vs {p['b']}: {winner} named, larger median regret")
    decided = {(p["a"], p["b"]): p["better"] for p in verdict["pairs"]}
    for p in verdict["validation_pairs"]:
        if p["better"] is not None and decided.get((p["a"], p["b"])) != p["better"]:
            out.append(f"validation front names {p['a'] if p['better'] == 'a' else p['b']} in {p['a']} vs {p['b']}")
    return out


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| data set | true front | hypervolume regret, median [IQR]: random / TPE / NSGA-II | deciding pairs "
        "(held-out fronts, Holm p) | validation-front pairs | contradicted | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        v = r["verdict"]
        arms = {a["sampler"]: a for a in v["arms"]}
        reg = " / ".join(
            f"{arms[s]['regret']['median']:.3f} [{arms[s]['regret']['q1']:.3f}-{arms[s]['regret']['q3']:.3f}]"
            for s in SAMPLERS
        )

        def pairs(ps: list[dict[str, Any]]) -> str:
            return "; ".join(
                f"{p['a']} vs {p['b']}: {(p['a'] if p['better'] == 'a' else p['b']) if p['better'] else 'none'} "
                f"({p['p_holm']:.2g})"
                for p in ps
            )

        lines.append(
            f"| {r['dataset']} | {r['true_front_size']} | {reg} | {pairs(v['pairs'])} | "
            f"{pairs(v['validation_pairs'])} | {len(r['contradictions'])} | {r['wall_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out and stop")
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    if args.table:
        print(table(done))
        return 0
    have = {(r["dataset"], r["repeats"], r["budget"]) for r in done}
    for dataset in args.datasets.split(","):
        if (dataset, args.repeats, args.budget) in have:
            continue
        row = run_dataset(dataset, args.repeats, args.budget)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(table([row]).splitlines()[-1], flush=True)
        for c in row["contradictions"]:
            print("  contradicted:", c, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
