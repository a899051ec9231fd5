"""Do the comparison's verdicts agree with the truth? Grid, random and TPE on recorded benchmarks.

HPOBench's MLP tables (Eggensperger et al. 2021; objective = "table";
``--benchmark hpobench``, the default) record five real training runs of each
of 30,000 MLP configurations on 8 OpenML data sets, scored by validation
accuracy (maximised). HPOLib's FCNet tables (Klein & Hutter 2019;
``--benchmark hpolib``) record four runs of each of 62,208 two-layer networks
on 4 regression data sets, scored by validation MSE (minimised). A trial draws
one recorded run (keyed by seed and slot); the truth of a configuration is its
mean over the recorded runs. So for every repeat of every search strategy we
know the true quality of its pick and its true regret (how far that is from
the table's optimum, >= 0 in either direction), and can check each verdict
against the truth. Every "better" here (the pick, the verdicts, the truth's
side) follows the benchmark's direction.

Per data set, every study runs through hpsearch (hpsearch.search.run_studies,
the pool ``hpsearch compare`` uses) on a SQLite file in a temporary folder:

* random and TPE: one study of the largest budget per repeat. They do not
  know their budget, so the trials of slots < N are exactly a study of budget
  N; each smaller budget is read as that prefix.
* grid: one study per budget (its grid depends on the budget). Every arm is
  compared at the number of trials grid ran (its grid may hold fewer points
  than the budget): ``trials`` in the output.

Per budget and pair of strategies, three decisions:

* the validation-maxima verdict: the comparison's tests on each repeat's best
  validation value (hpsearch.stats.compare_family, as ``validation_pairs``);
* the held-out verdict: the same tests on the held-out score of each
  repeat's pick, which for a table is the pick's true mean (as ``pairs`` with
  "on": "test");
* the truth: a two-sided Mann-Whitney U test (scipy, alpha 0.05, unpaired,
  no correction) on the true means of the repeats' picks.

A verdict's named winner is a *false winner* when the truth names the other
arm (contradicted) or no arm (unsupported); a *missed winner* when the truth
names one and the verdict none. Results are appended per data set as JSON
lines to --out (a re-run skips the data sets already there); --table prints
the markdown table of docs/science.md from that file.

    nice -n 10 python benchmarks/bench_truth.py --out benchmarks/results/truth.jsonl [--jobs 2]
        [--benchmark hpobench|hpolib] [--datasets credit_g,vehicle,...] [--budgets 20,50,100,200]
        [--repeats 30]
    python benchmarks/bench_truth.py --out benchmarks/results/truth.jsonl --table [more.jsonl ...]

The data sets default to all of the benchmark's; ``--table`` takes the results
of one benchmark at a time (accuracies and MSEs do not pool).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SAMPLERS = ("grid", "random", "tpe")
# The data sets each benchmark runs by default, in the order they were first run (hpobench's order is that
# of its results files). A data set belongs to exactly one benchmark, so results name only the data set.
DATASETS = {
    "hpobench": ("credit_g", "vehicle", "australian", "blood_transfusion", "car", "kc1", "phoneme", "segment"),
    "hpolib": ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure", "slice_localization"),
}
# How the tables print a score or a regret: HPOBench's accuracies to 4 decimals, HPOLib's validation MSEs
# (from 3e-5 on naval_propulsion to 0.22 on protein_structure) to 3 significant digits.
NUMBER_FORMAT = {"hpobench": ".4f", "hpolib": ".3g"}
ALPHA = 0.05


def benchmark_of(dataset: str) -> str:
    """The benchmark a data set belongs to (the lists do not overlap)."""
    for name, datasets in DATASETS.items():
        if dataset in datasets:
            return name
    raise ValueError(f"unknown data set {dataset!r}: expected one of " + ", ".join(itertools.chain(*DATASETS.values())))


def base_spec(dataset: str) -> dict[str, Any]:
    return {
        "study": {"name": f"truth-{dataset}", "objective": "table", "seed": 0},
        "data": {"benchmark": benchmark_of(dataset), "dataset": dataset},
    }


def arm_spec(dataset: str, sampler: str, budget: int, seed: int) -> dict[str, Any]:
    d = base_spec(dataset)
    d["study"].update(name=f"truth-{dataset}-{sampler}-b{budget}-s{seed}", sampler=sampler, n_trials=budget, seed=seed)
    return d


def run_dataset(dataset: str, budgets: list[int], repeats: int, jobs: int, folder: Path) -> dict[str, Any]:
    """Run every study of one data set; return per-budget regrets and the three decisions per pair."""
    import optuna

    from hpsearch.search import run_studies
    from hpsearch.spec import spec_from_dict
    from hpsearch.storage import open_storage
    from hpsearch.storage._attrs import SLOT_ATTR
    from objectives.table import table_view

    top = max(budgets)
    dicts = [arm_spec(dataset, s, top, k) for k in range(repeats) for s in ("random", "tpe")]
    dicts += [arm_spec(dataset, "grid", b, k) for b in budgets for k in range(repeats)]
    specs = [spec_from_dict(d) for d in dicts]
    url = f"sqlite:///{folder / (dataset + '.db')}"
    started = time.perf_counter()
    run_studies(specs, url, jobs=jobs, progress=False)
    seconds = time.perf_counter() - started
    storage = open_storage(url)
    view = table_view(specs[0])
    optimum, sign = view.optimum(), (1.0 if view.direction == "maximize" else -1.0)

    def trials(name: str) -> list[tuple[int, float, dict[str, Any]]]:
        study = optuna.load_study(study_name=name, storage=storage)
        done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        return sorted((int(t.system_attrs.get(SLOT_ATTR, t.number)), float(t.value), t.params) for t in done)

    def pick(rows: list[tuple[int, float, dict[str, Any]]]) -> tuple[float, float]:
        """(best validation value, true mean of that trial's configuration); earliest slot on ties."""
        slot, value, params = max(rows, key=lambda r: (sign * r[1], -r[0]))
        return value, view.true_mean(params)

    long_runs = {(s, k): trials(f"truth-{dataset}-{s}-b{top}-s{k}") for s in ("random", "tpe") for k in range(repeats)}
    out: dict[str, Any] = {
        "dataset": dataset,
        "direction": view.direction,
        "optimum": optimum,
        "seconds": seconds,
        "budgets": {},
    }
    for budget in budgets:
        grid_runs = {k: trials(f"truth-{dataset}-grid-b{budget}-s{k}") for k in range(repeats)}
        n = min(len(r) for r in grid_runs.values())  # every arm at the trials grid ran
        picks: dict[str, list[tuple[float, float]]] = {"grid": [pick(grid_runs[k][:n]) for k in range(repeats)]}
        for s in ("random", "tpe"):
            picks[s] = [pick([r for r in long_runs[(s, k)] if r[0] < n]) for k in range(repeats)]
        finals_val = {s: [(k, p[0]) for k, p in enumerate(picks[s])] for s in SAMPLERS}
        finals_true = {s: [(k, p[1]) for k, p in enumerate(picks[s])] for s in SAMPLERS}
        out["budgets"][str(budget)] = {
            "trials": n,
            "regret": {s: [sign * (optimum - p[1]) for p in picks[s]] for s in SAMPLERS},
            "validation_best": {s: [p[0] for p in picks[s]] for s in SAMPLERS},
            "decisions": decisions(finals_val, finals_true, view.direction),
        }
    return out


def verdict_pairs(finals: dict[str, list[tuple[int, float]]], direction: str) -> list[dict[str, Any]]:
    """The comparison's decision on per-repeat values: every pair (a = the later arm), all pairs decided
    together (hpsearch.stats.compare_family: paired Wilcoxon where the arms share randomness, else
    Brunner-Munzel; Holm; intervals from the same test)."""
    from hpsearch import stats

    names = list(finals)
    order = [(a, b) for b, a in itertools.combinations(names, 2)]
    data = []
    for a, b in order:
        va, vb = [v for _, v in finals[a]], [v for _, v in finals[b]]
        data.append((va, vb, stats.shares_randomness(a, b)))
    decided = stats.compare_family(data, direction=direction)
    return [{"a": a, "b": b, "better": f.better, "p_holm": f.p_holm} for (a, b), f in zip(order, decided, strict=True)]


def decisions(finals_val: dict, finals_true: dict, direction: str) -> list[dict[str, Any]]:
    """Per pair: the winner named by the validation verdict, by the held-out verdict, and by the truth."""
    from scipy.stats import mannwhitneyu

    val_pairs = verdict_pairs(finals_val, direction)
    test_pairs = verdict_pairs(finals_true, direction)
    sign = 1.0 if direction == "maximize" else -1.0
    rows = []
    for vp, tp in zip(val_pairs, test_pairs, strict=True):
        a, b = vp["a"], vp["b"]
        ta = [sign * v for _, v in finals_true[a]]
        tb = [sign * v for _, v in finals_true[b]]
        res = mannwhitneyu(ta, tb, alternative="two-sided")
        truth = None
        if res.pvalue < ALPHA:
            truth = "a" if res.statistic > len(ta) * len(tb) / 2 else "b"
        rows.append(
            {
                "a": a,
                "b": b,
                "validation": vp["better"],
                "validation_p_holm": vp["p_holm"],
                "held_out": tp["better"],
                "held_out_p_holm": tp["p_holm"],
                "truth": truth,
                "truth_p": float(res.pvalue),
            }
        )
    return rows


def redecide(result: dict[str, Any], budget: str) -> list[dict[str, Any]]:
    """The decisions of one data set and budget, recomputed from the stored per-repeat values with the
    verdict code installed now (the run stores them too, as the code of its day made them)."""
    row = result["budgets"][budget]
    direction = result.get("direction", "maximize")
    sign = 1.0 if direction == "maximize" else -1.0
    finals_val = {s: list(enumerate(row["validation_best"][s])) for s in SAMPLERS}
    finals_true = {s: [(k, result["optimum"] - sign * r) for k, r in enumerate(row["regret"][s])] for s in SAMPLERS}
    return decisions(finals_val, finals_true, direction)


def classify(named: str | None, truth: str | None) -> str:
    if named is None:
        return "missed" if truth is not None else "agree"
    if truth is None:
        return "unsupported"
    return "agree" if named == truth else "contradicted"


def load_results(paths: list[Path]) -> list[dict[str, Any]]:
    """Results of one or more files, merged per data set (a later run may add budgets to an earlier one)."""
    merged: dict[str, dict[str, Any]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if r["dataset"] in merged:
                merged[r["dataset"]]["budgets"].update(r["budgets"])
                merged[r["dataset"]]["seconds"] += r["seconds"]
            else:
                merged[r["dataset"]] = r
    return list(merged.values())


def table(paths: list[Path]) -> str:
    """The markdown tables of docs/science.md from results files.

    The verdicts are recomputed (slow: exact permutation tests) and cached next
    to the first file, keyed by data set, budget and the per-repeat values.
    """
    results = load_results(paths)
    benchmarks = sorted({benchmark_of(r["dataset"]) for r in results})
    if len(benchmarks) != 1:  # their regrets are on different scales (accuracy, MSE): no pooled median
        raise ValueError("expected the results of one benchmark per table, got " + ", ".join(benchmarks))
    fmt = NUMBER_FORMAT[benchmarks[0]]
    cache_path = paths[0].with_suffix(".decisions.json")
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    def redecide_cached(r: dict[str, Any], budget: str) -> list[dict[str, Any]]:
        row = r["budgets"][budget]
        key = json.dumps([r["dataset"], budget, row["validation_best"], row["regret"]], sort_keys=True)
        if key not in cache:
            cache[key] = redecide(r, budget)
            cache_path.write_text(json.dumps(cache))
        return cache[key]

    budgets = sorted({int(b) for r in results for b in r["budgets"]})
    names = ", ".join(r["dataset"] for r in results)
    repeats = sorted({r.get("repeats", 30) for r in results})
    lines = [f"Data sets: {names} ({len(results)}); repeats per arm: {repeats}.", ""]
    # One median over all data sets only where they share a scale (HPOBench's accuracies); HPOLib's MSEs
    # span four orders of magnitude across its data sets, so there each arm counts the data sets on which
    # its median regret is the lowest.
    pooled = benchmarks[0] == "hpobench"
    header = "median true regret grid" if pooled else "data sets where its median true regret is lowest: grid"
    lines += [f"| budget | trials per arm | {header} | random | tpe |", "|---|---|---|---|---|"]
    for b in budgets:
        rows = [r["budgets"][str(b)] for r in results if str(b) in r["budgets"]]
        trials = sorted({row["trials"] for row in rows})
        if pooled:
            med = {
                s: statistics.median(itertools.chain.from_iterable(row["regret"][s] for row in rows)) for s in SAMPLERS
            }
            cells = " | ".join(f"{med[s]:{fmt}}" for s in SAMPLERS)
        else:
            lowest = [min(SAMPLERS, key=lambda s: statistics.median(row["regret"][s])) for row in rows]
            cells = " | ".join(str(lowest.count(s)) for s in SAMPLERS)
        lines.append(f"| {b} | {', '.join(map(str, trials))} | {cells} |")
    lines += [
        "",
        "| budget | verdict | pair decisions | agree with truth | false winners (contradicted + unsupported) "
        "| missed winners | truth names a winner |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in budgets:
        ds = [d for r in results if str(b) in r["budgets"] for d in redecide_cached(r, str(b))]
        for key, label in (("validation", "validation maxima"), ("held_out", "held-out (true mean of pick)")):
            kinds = [classify(d[key], d["truth"]) for d in ds]
            false = kinds.count("contradicted") + kinds.count("unsupported")
            lines.append(
                f"| {b} | {label} | {len(ds)} | {kinds.count('agree')} | {false} ({kinds.count('contradicted')} + "
                f"{kinds.count('unsupported')}) | {kinds.count('missed')} | {sum(d['truth'] is not None for d in ds)} |"
            )
    lines += ["", "Per data set (median true regret at each budget: grid / random / tpe):", ""]
    lines += ["| data set | optimum | " + " | ".join(map(str, budgets)) + " | seconds |"]
    lines += ["|---" * (len(budgets) + 3) + "|"]
    for r in results:
        cells = []
        for b in budgets:
            row = r["budgets"].get(str(b))
            cells.append(
                " / ".join(f"{statistics.median(row['regret'][s]):{fmt}}" for s in SAMPLERS) if row else "not run"
            )
        lines.append(f"| {r['dataset']} | {r['optimum']:{fmt}} | " + " | ".join(cells) + f" | {r['seconds']:.0f} |")
    if not pooled:
        lines += ["", *structure_lines([r["dataset"] for r in results])]
    return "\n".join(lines)


def structure(dataset: str) -> dict[str, Any]:
    """What a table's shape says about the searches: how noisy its best configurations are, and which axes
    matter.

    * ``top_seed_sd``: over the 1 % of configurations with the best mean, the median standard deviation of
      their recorded runs (the noise a selection bias feeds on);
    * ``main_effects``: each axis' share of the variance of the log true mean (main effects only; the log
      because an MSE's diverged runs would otherwise own the variance);
    * ``median_by_value``: per axis, the median true mean at each of its recorded values.
    """
    import numpy as np

    from objectives.table import load_table

    t = load_table(benchmark_of(dataset), dataset)
    means, runs = t.means.ravel(), t.runs.reshape(-1, t.n_seeds)
    best = -means if t.benchmark.direction == "maximize" else means
    top = np.argsort(best, kind="stable")[: max(1, means.size // 100)]
    log = np.log(t.means)
    axes = range(log.ndim)
    effects = {
        a.name: float(log.mean(axis=tuple(j for j in axes if j != i)).var() / log.var())
        for i, a in enumerate(t.benchmark.axes)
    }
    medians = {
        a.name: [float(np.median(np.take(t.means, k, axis=i))) for k in range(len(a.values))]
        for i, a in enumerate(t.benchmark.axes)
    }
    return {
        "top_seed_sd": float(np.median(runs[top].std(axis=1, ddof=1))),
        "main_effects": effects,
        "median_by_value": medians,
    }


def structure_lines(datasets: list[str]) -> list[str]:
    """The table's shape per data set (``structure``), as printed under HPOLib's tables."""
    lines = ["Table shape (seed SD of the best 1 %; main-effect shares of the log true mean, largest first):", ""]
    for dataset in datasets:
        st = structure(dataset)
        effects = sorted(st["main_effects"].items(), key=lambda kv: -kv[1])
        shares = ", ".join(f"{name} {share:.3f}" for name, share in effects)
        lines.append(f"* {dataset}: seed SD {st['top_seed_sd']:.3g}; {shares}")
        lr = st["median_by_value"].get("init_lr")
        if lr is not None:
            lines.append("  median true mean per init_lr value: " + " / ".join(f"{v:.3g}" for v in lr))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one per data set (appended)")
    parser.add_argument("--benchmark", choices=sorted(DATASETS), default="hpobench")
    parser.add_argument("--datasets", help="comma-separated (default: all of --benchmark's data sets)")
    parser.add_argument("--budgets", default="20,50,100,200")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--work",
        type=Path,
        help="keep each data set's SQLite file here (default: a temporary folder), so a run "
        "stopped inside a data set resumes its studies instead of starting them again",
    )
    parser.add_argument("--table", nargs="*", type=Path, help="only print the markdown tables of --out (and these)")
    args = parser.parse_args(argv)
    import optuna

    import hpsearch.stats  # noqa: F401  (imported now: a run outlives edits to the tree)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.table is not None:
        print(table([args.out, *args.table]))
        return 0
    done = set()
    if args.out.exists():
        done = {json.loads(line)["dataset"] for line in args.out.read_text().splitlines() if line.strip()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    datasets = args.datasets.split(",") if args.datasets else list(DATASETS[args.benchmark])
    for dataset in datasets:
        if dataset not in DATASETS[args.benchmark]:
            parser.error(f"--datasets: expected data sets of {args.benchmark}, got {dataset!r}")
    for dataset in datasets:
        if dataset in done:
            continue
        if args.work is not None:
            args.work.mkdir(parents=True, exist_ok=True)
            result = run_dataset(dataset, budgets, args.repeats, args.jobs, args.work)
        else:
            with tempfile.TemporaryDirectory(prefix="bench_truth-") as tmp:
                result = run_dataset(dataset, budgets, args.repeats, args.jobs, Path(tmp))
        result["repeats"] = args.repeats
        with args.out.open("a") as f:
            f.write(json.dumps(result) + "\n")
        print(f"{dataset}: {result['seconds']:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
