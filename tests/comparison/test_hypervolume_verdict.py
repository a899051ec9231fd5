"""A comparison whose arms have two objectives is decided on the hypervolume of each repeat's front, with one
reference point for the whole comparison, stated in the verdict."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from hpsearch import pareto
from hpsearch.comparison import comparison_verdict
from hpsearch.records import COMPARISON_ATTR, SAMPLER_ATTR, SEED_ATTR, SPEC_ATTR, TEST_FRONT_ATTR, TRUE_FRONT_ATTR
from hpsearch.results import arm_studies

DIRS = ["maximize", "minimize"]


@pytest.fixture
def storage():
    return optuna.storages.InMemoryStorage()


def _arm(storage, name, sampler, seed, points, *, infeasible=(), attrs=None):
    """One arm study whose COMPLETE trials have ``points`` as (accuracy, seconds), in order."""
    study = optuna.create_study(study_name=f"{name}-{sampler}-s{seed}", storage=storage, directions=DIRS)
    study.set_metric_names(["accuracy", "train_seconds"])
    for k, v in {SAMPLER_ATTR: sampler, SEED_ATTR: seed, COMPARISON_ATTR: name, **(attrs or {})}.items():
        study.set_user_attr(k, v)
    for i, (acc, sec) in enumerate(points):
        t = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        t.set_constraint("size", 1.0 if i in infeasible else -1.0)
        study.tell(t, [acc, sec])
    return study


def _fronts(rng, quality, n=12):
    """Random trade-off points: accuracy up with seconds; ``quality`` shifts accuracy up."""
    sec = rng.uniform(1, 10, n)
    acc = 0.7 + 0.02 * np.log(sec) + quality + rng.normal(0, 0.01, n)
    return list(zip(acc.tolist(), sec.tolist(), strict=True))


def test_the_better_front_wins_and_the_reference_is_stated(storage):
    rng = np.random.default_rng(0)
    points = {}
    for sampler, quality in (("grid", 0.0), ("random", 0.05)):
        for seed in range(10):
            points[sampler, seed] = _fronts(rng, quality)
            _arm(storage, "hv", sampler, seed, points[sampler, seed])
    v = comparison_verdict("hv", arm_studies(storage, "hv"))
    assert v["metric"] == "hypervolume" and v["direction"] == "maximize"
    assert v["objectives"] == [
        {"metric": "accuracy", "direction": "maximize"},
        {"metric": "train_seconds", "direction": "minimize"},
    ]
    every = np.array([p for ps in points.values() for p in ps])
    scale = pareto.Scale.fit(every, DIRS)
    assert v["reference"]["point"] == pytest.approx(scale.reference())
    assert v["reference"]["metrics"] == ["accuracy", "train_seconds"]
    # the reference lies past the worst value of each objective over all arms, by 10 % of its range
    lo_acc, hi_sec = every[:, 0].min(), every[:, 1].max()
    assert v["reference"]["point"][0] == pytest.approx(lo_acc - 0.1 * np.ptp(every[:, 0]))
    assert v["reference"]["point"][1] == pytest.approx(hi_sec + 0.1 * np.ptp(every[:, 1]))
    rows = {r["sampler"]: r for r in v["arms"]}
    for sampler in ("grid", "random"):
        want = [scale.hypervolume(np.array(points[sampler, s])) for s in range(10)]
        assert rows[sampler]["best"]["per_repeat"] == pytest.approx(want)
    (pair,) = v["pairs"]
    assert (pair["a"], pair["b"], pair["on"]) == ("random", "grid", "validation")
    assert pair["better"] == "a" and pair["p_holm"] < 0.05 and pair["ci"][0] > 0
    assert "validation front" in v["verdict"]


def test_equal_arms_name_no_winner(storage):
    for sampler in ("grid", "random"):
        for seed in range(10):
            _arm(
                storage, "same", sampler, seed, _fronts(np.random.default_rng(100 + seed + 50 * (sampler == "grid")), 0)
            )
    (pair,) = comparison_verdict("same", arm_studies(storage, "same"))["pairs"]
    assert pair["better"] is None


def test_infeasible_trials_and_trials_past_the_budget_make_no_front(storage):
    # the only trial that would dominate everything is infeasible (first arm) or past the budget (second)
    base = [(0.8, 5.0), (0.7, 2.0), (0.6, 1.0)]
    _arm(storage, "cut", "grid", 0, [*base, (0.99, 0.5)], infeasible=(3,))
    _arm(storage, "cut", "random", 0, [*base, (0.99, 0.5)])
    for s in arm_studies(storage, "cut"):
        if s.sampler == "random":  # a stored spec caps random's budget at 3 trials
            sid = storage.get_study_id_from_name(s.name)
            storage.set_study_user_attr(
                sid,
                SPEC_ATTR,
                {
                    "study": {"name": s.name, "n_trials": 3, "direction": "maximize"},
                    "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
                },
            )
    v = comparison_verdict("cut", arm_studies(storage, "cut"))
    assert v["budget"] == 3
    hv = {r["sampler"]: r["best"]["per_repeat"][0] for r in v["arms"]}
    assert hv["grid"] == hv["random"]
    assert v["reference"]["best"] == [0.8, 1.0]  # the cut trial never entered the scale either


def test_held_out_fronts_decide_and_true_front_gives_regret(storage):
    rng = np.random.default_rng(1)
    truth = [[0.95, 1.0], [0.99, 3.0]]
    stored = {}
    for sampler, quality in (("grid", 0.05), ("random", 0.0)):
        for seed in range(8):
            pts = _fronts(rng, quality)
            study = _arm(storage, "ho", sampler, seed, pts, attrs={TRUE_FRONT_ATTR: truth})
            on = pareto.front_mask(np.array(pts), DIRS)
            numbers = [t.number for t, o in zip(study.get_trials(), on, strict=True) if o]
            # held out, grid's fronts are worse than on validation: every accuracy 0.1 lower
            held = [[pts[i][0] - (0.1 if sampler == "grid" else 0.0), pts[i][1]] for i in np.flatnonzero(on)]
            study.set_user_attr(TEST_FRONT_ATTR, {"trials": numbers, "values": held})
            stored[sampler, seed] = held
    v = comparison_verdict("ho", arm_studies(storage, "ho"))
    (pair,) = v["pairs"]
    assert pair["on"] == "test" and pair["better"] == "a"  # random, on held-out fronts
    assert v["validation_pairs"][0]["better"] == "b"  # grid, on validation fronts
    scale = pareto.Scale(("maximize", "minimize"), tuple(v["reference"]["best"]), tuple(v["reference"]["worst"]))
    optimum = scale.hypervolume(np.array(truth))
    assert v["optimum"] == pytest.approx(optimum)
    rows = {r["sampler"]: r for r in v["arms"]}
    for sampler in ("grid", "random"):
        want = [optimum - scale.hypervolume(np.array(stored[sampler, s])) for s in range(8)]
        assert rows[sampler]["regret"]["per_repeat"] == pytest.approx(want)
        assert rows[sampler]["test"]["per_repeat"] == pytest.approx([optimum - r for r in want])
    # the winner has the smaller regret in every repeat's median
    assert rows["random"]["regret"]["median"] < rows["grid"]["regret"]["median"]


def test_a_held_out_front_of_another_budget_is_not_used(storage):
    for sampler in ("grid", "random"):
        for seed in range(3):
            study = _arm(storage, "stale", sampler, seed, [(0.8, 5.0), (0.7, 2.0)])
            study.set_user_attr(TEST_FRONT_ATTR, {"trials": [0], "values": [[0.8, 5.0]]})  # front is trials 0 and 1
    v = comparison_verdict("stale", arm_studies(storage, "stale"))
    assert v["pairs"][0]["on"] == "validation" and all(r["test"] is None for r in v["arms"])


def test_no_regret_without_held_out_fronts(storage):
    """Validation values of a front are not its truth: a true front alone gives an optimum, no regret."""
    for sampler in ("grid", "random"):
        for seed in range(3):
            _arm(storage, "noho", sampler, seed, [(0.8, 5.0), (0.7, 2.0)], attrs={TRUE_FRONT_ATTR: [[0.9, 1.0]]})
    v = comparison_verdict("noho", arm_studies(storage, "noho"))
    assert "optimum" in v and all("regret" not in r for r in v["arms"])
