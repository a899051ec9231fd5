"""Studies made by other Optuna tools in the same database never break the listings or their pages."""

from __future__ import annotations

import optuna
import pytest


@pytest.fixture
def foreign(storage_url: str) -> str:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    multi = optuna.create_study(study_name="multi", storage=storage_url, directions=["minimize", "maximize"])
    multi.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_int("b", 0, 3)), n_trials=3)
    optuna.create_study(study_name="multi-empty", storage=storage_url, directions=["minimize", "minimize"])
    odd = optuna.create_study(study_name="odd-spec", storage=storage_url)
    odd.set_user_attr("hpsearch_spec", {"study": 5})  # a spec no version of hpsearch wrote
    odd.optimize(lambda t: t.suggest_float("a", 0, 1), n_trials=2)
    return storage_url


def test_the_study_list_shows_what_is_known_of_a_multi_objective_study(client, foreign):
    r = client.get("/api/studies")
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json()}
    assert set(by_name) == {"multi", "multi-empty", "odd-spec"}
    multi = by_name["multi"]
    assert multi["directions"] == ["minimize", "maximize"] and multi["best_value"] is None
    assert multi["states"]["complete"] == 3 and "multi-objective" in multi["unsupported"]
    assert by_name["odd-spec"]["unsupported"] is None and by_name["odd-spec"]["budget"] is None
    page = client.get("/")
    assert page.status_code == 200 and "multi-empty" in page.text


@pytest.mark.parametrize("name", ["multi", "multi-empty", "odd-spec"])
def test_a_foreign_study_has_a_summary_and_a_page(client, foreign, name):
    r = client.get(f"/api/studies/{name}")
    assert r.status_code == 200 and r.json()["name"] == name
    page = client.get(f"/studies/{name}")
    assert page.status_code == 200
    if name.startswith("multi"):
        assert r.json()["best_trial"] is None
        assert 'id="history"' not in page.text
        # the Pareto front instead of a history of one objective
        assert 'id="pareto-section"' in page.text and "no single best trial" in page.text
    assert client.get(f"/reports/studies/{name}").status_code < 500


def test_asking_a_foreign_study_is_a_clear_4xx(client, foreign):
    r = client.post("/api/studies/multi/ask")
    assert r.status_code == 422 and "no stored hpsearch spec" in r.json()["error"]


def test_the_dashboard_draws_the_feasible_front_and_escapes_metric_names(client, storage_url):
    import json
    import re

    from hpsearch.records import pareto_front

    study = optuna.create_study(study_name="mo", storage=storage_url, directions=["maximize", "minimize"])
    study.set_metric_names(["<b>accuracy</b>", "train_seconds"])

    def objective(t):
        x = t.suggest_float("x", 0, 1)
        t.set_constraint("x", x - 0.9)  # x > 0.9 is infeasible
        return x, x**2 + t.suggest_float("y", 0, 1)

    study.optimize(objective, n_trials=40)
    page = client.get("/studies/mo")
    assert page.status_code == 200
    fig = json.loads(re.search(r'id="pareto-data">(.*?)</script>', page.text, re.S).group(1))
    by_name = {tr["name"].split(" (")[0]: tr for tr in fig["data"]}
    feasible = [t for t in study.get_trials() if t.params["x"] <= 0.9]
    want = {f"#{t.number}" for t in pareto_front(feasible, study.directions)}
    assert set(by_name["Pareto front"]["text"]) == want
    assert len(by_name["infeasible"]["x"]) == 40 - len(feasible) > 0
    assert fig["layout"]["xaxis"]["title"]["text"] == "&lt;b&gt;accuracy&lt;/b&gt; (higher is better)"
    assert "<b>accuracy</b>" not in page.text
    assert "No single best trial with several objectives" in page.text and "No complete trial yet" not in page.text
    # the report's hypervolume over trials, live: it only grows, and agrees with hpsearch.pareto on the front
    hv = json.loads(re.search(r'id="hypervolume-data">(.*?)</script>', page.text, re.S).group(1))
    (line,) = hv["data"]
    assert line["y"] == sorted(line["y"]) and line["y"][-1] > 0
    assert len(line["x"]) == len(feasible) and line["x"] == sorted(line["x"])


def test_a_multi_objective_comparison_has_a_dashboard_page_and_a_report(client, storage_url):
    for sampler in ("random", "tpe"):
        for seed in range(2):
            study = optuna.create_study(
                study_name=f"moc-{sampler}-s{seed}", storage=storage_url, directions=["maximize", "minimize"]
            )
            study.set_user_attr("sampler", sampler)
            study.set_user_attr("seed", seed)
            study.set_user_attr("comparison", "moc")
            study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=6)
    page = client.get("/comparisons/moc")
    assert page.status_code == 200 and "moc-tpe-s1" in page.text
    # no empty best-so-far plot: it says why and points to the report's hypervolumes
    assert 'id="curves"' not in page.text and 'id="unsupported"' in page.text and "hypervolume" in page.text
    report = client.get("/reports/comparisons/moc")
    assert report.status_code == 200
    assert 'id="fig-hypervolume-trials"' in report.text and "hypervolume" in report.text
