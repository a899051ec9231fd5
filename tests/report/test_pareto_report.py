"""The report of a study with several objectives (ours or a foreign Optuna one): the Pareto section
replaces the single-value figures, names the metrics, greys infeasible trials, ranks by dominance."""

from __future__ import annotations

import json
import re

import numpy as np
import optuna

from hpsearch import pareto
from hpsearch.records import pareto_front
from hpsearch.report import study_report_html
from hpsearch.results import study_data


def _figures(html: str) -> dict[str, dict]:
    """The page's figures by id (the JSON the page hands plotly; escapes undone by json)."""
    payload = json.loads(html.split("var figures = ", 1)[1].split(";\n", 1)[0])
    return {f["id"]: f["fig"] for f in payload}


def test_foreign_two_objective_study_gets_the_pareto_section(storage, make_multi_objective):
    study = make_multi_objective(storage, n_trials=60)
    html = study_report_html(storage, "tradeoff")
    figs = _figures(html)
    assert {"fig-pareto", "fig-hypervolume", "fig-parallel"} <= set(figs)
    assert "fig-states" not in figs  # nothing was pruned: no "pruned vs complete" panel
    # the figures that plot "the" value make no sense with two objectives and are not drawn
    assert not {"fig-history", "fig-contour", "fig-slice", "fig-curves", "fig-importance"} & set(figs)
    layout = figs["fig-pareto"]["layout"]
    assert layout["xaxis"]["title"]["text"].startswith("accuracy (higher is better)")
    assert layout["yaxis"]["title"]["text"].startswith("train_seconds (lower is better)")
    assert 'id="pareto-section"' in html and "accuracy (maximize), train_seconds (minimize)" in html

    # the front drawn is the feasible trials' front, exactly; infeasible trials are their own grey trace
    trials = study.get_trials()
    feasible = [t for t in trials if all(c <= 0 for c in t.constraints.values())]
    want = {t.number for t in pareto_front(feasible, study.directions)}
    by_name = {tr["name"].split(" (")[0]: tr for tr in figs["fig-pareto"]["data"] if "name" in tr}
    drawn = {int(re.match(r"#(\d+)", h).group(1)) for h in by_name["Pareto front"]["text"]}
    assert drawn == want and want
    n_infeasible = len(trials) - len(feasible)
    assert n_infeasible > 0 and by_name["infeasible"]["name"] == f"infeasible ({n_infeasible})"
    front_table = re.search(r'<table class="sortable" id="front">(.*?)</table>', html, re.S).group(1)
    assert front_table.count("<tr>") == len(want) + 1  # + the header


def test_parallel_coordinates_are_coloured_by_rank(storage, make_multi_objective):
    make_multi_objective(storage, n_trials=50)
    data = study_data(storage, storage.get_all_studies()[0])
    figs = _figures(study_report_html(storage, "tradeoff"))
    par = figs["fig-parallel"]["data"][0]
    labels = [d["label"] for d in par["dimensions"]]
    assert labels[-2:] == ["accuracy", "train_seconds"]
    trials, values = data.objective_values()
    ok = np.array([t.feasible for t in trials])
    want = pareto.nondominated_ranks(values[ok], ["maximize", "minimize"])
    color = par["line"]["color"]
    got = np.asarray(color if isinstance(color, list) else _decode(color))
    assert got.tolist() == want.tolist()


def _decode(typed: dict) -> list:
    import base64

    return np.frombuffer(base64.b64decode(typed["bdata"]), dtype=typed["dtype"]).tolist()


def test_hypervolume_over_trials_never_falls_and_ends_at_the_front(storage, make_multi_objective):
    make_multi_objective(storage, n_trials=40)
    data = study_data(storage, storage.get_all_studies()[0])
    figs = _figures(study_report_html(storage, "tradeoff"))
    y = figs["fig-hypervolume"]["data"][0]["y"]
    y = np.asarray(y if isinstance(y, list) else _decode(y))
    assert np.all(np.diff(y) >= 0) and y[-1] > 0
    trials, values = data.objective_values()
    ok = np.array([t.feasible for t in trials])
    scale = pareto.Scale.fit(values[ok], ["maximize", "minimize"])
    assert y[-1] == scale.hypervolume(values[ok])


def test_without_metric_names_the_objectives_are_numbered(storage, make_multi_objective):
    make_multi_objective(storage, names=False, n_trials=10)
    figs = _figures(study_report_html(storage, "tradeoff"))
    assert figs["fig-pareto"]["layout"]["xaxis"]["title"]["text"].startswith("value_0")


def test_three_objectives_draw_every_pair(storage):
    study = optuna.create_study(study_name="three", storage=storage, directions=["maximize", "minimize", "minimize"])
    study.set_metric_names(["accuracy", "train_seconds", "n_params"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1), 1.0), n_trials=15)
    figs = _figures(study_report_html(storage, "three"))
    splom = figs["fig-pareto"]["data"][0]
    assert splom["type"] == "splom" and [d["label"] for d in splom["dimensions"]] == [
        "accuracy",
        "train_seconds",
        "n_params",
    ]


def test_multi_objective_comparison_draws_hypervolume_instead_of_best_so_far(storage, make_multi_objective_comparison):
    from hpsearch.comparison import comparison_verdict
    from hpsearch.report import comparison_report_html
    from hpsearch.results import arm_studies

    make_multi_objective_comparison(storage, n_trials=15)
    verdict = comparison_verdict("mo", arm_studies(storage, "mo"))
    html = comparison_report_html(storage, "mo", verdict=verdict)
    figs = _figures(html)
    assert {"fig-hypervolume-trials", "fig-final", "fig-fronts"} <= set(figs)
    assert not {"fig-best-trials", "fig-best-seconds", "fig-expected-max"} & set(figs)
    assert 'id="reference"' in html and verdict["verdict"].split(":")[0] in html
    # the curves end where the verdict's per-repeat hypervolumes are: one ruler for both
    finals = {tr["name"]: tr["y"] for tr in figs["fig-final"]["data"]}
    for arm in verdict["arms"]:
        got = finals[arm["sampler"]]
        got = got if isinstance(got, list) else _decode(got)
        assert np.allclose(got, arm["best"]["per_repeat"])
