"""The hostile inputs that used to give 500s: each is a 4xx with {"error"}, and nothing is stored."""

from __future__ import annotations

import json

import optuna
import pytest

from tests.server.conftest import grid_spec


def _spec(**study) -> dict:
    return {
        "study": {"name": "h", "direction": "minimize", **study},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    }


def _no_studies(client) -> None:
    assert client.get("/api/studies").json() == []


def _running_trial(client) -> int:
    assert client.post("/api/studies", json=grid_spec()).status_code == 201
    return client.post("/api/studies/grid/ask").json()["trial"]


def _trials(storage_url):
    return optuna.load_study(study_name="grid", storage=storage_url).trials


@pytest.mark.parametrize("number", [2**31, 2**63, 9223372036854775808, 2**64])
def test_a_tell_of_a_huge_trial_number_is_422(client, storage_url, number):
    _running_trial(client)
    r = client.post("/api/studies/grid/tell", json={"trial": number, "value": 1.0})
    assert r.status_code == 422 and r.json()["error"].startswith("trial:")
    assert [t.state.name for t in _trials(storage_url)] == ["RUNNING"]


@pytest.mark.parametrize("step", [2**31, 2**63])
def test_a_report_of_a_huge_step_is_422(client, storage_url, step):
    trial = _running_trial(client)
    r = client.post(f"/api/studies/grid/trials/{trial}/report", json={"step": step, "value": 0.5})
    assert r.status_code == 422 and r.json()["error"].startswith("step:")
    assert _trials(storage_url)[0].intermediate_values == {}


@pytest.mark.parametrize("number", [str(2**31), str(2**63), "-1", "1e3", "x"])
def test_a_report_to_a_huge_or_malformed_trial_number_is_422(client, storage_url, number):
    _running_trial(client)
    r = client.post(f"/api/studies/grid/trials/{number}/report", json={"step": 0, "value": 0.5})
    assert r.status_code == 422 and "number" in r.json()["error"]
    assert _trials(storage_url)[0].intermediate_values == {}


@pytest.mark.parametrize(
    ("study", "key"),
    [
        ({"n_trials": 2**63}, "study.n_trials"),
        ({"n_trials": 10**7}, "study.n_trials"),
        ({"sampler": "tpe", "seed": 2**32}, "study.seed"),
        ({"sampler": "random", "seed": 2**64}, "study.seed"),
        ({"sampler": "qmc", "seed": -1}, "study.seed"),
    ],
)
def test_huge_budgets_and_seeds_are_refused_before_anything_is_stored(client, study, key):
    r = client.post("/api/studies", json=_spec(**study))
    assert r.status_code == 422 and f"<api>: {key}: expected" in r.json()["error"]
    _no_studies(client)


@pytest.mark.parametrize(
    "space",
    [
        {"x": {"type": "float", "low": -1e308, "high": 1e308}},
        {"x": {"type": "int", "low": -(2**63), "high": 2**63}},
    ],
)
def test_a_range_too_wide_to_sample_is_refused_before_anything_is_stored(client, space):
    r = client.post("/api/studies", json={**_spec(), "space": space})
    assert r.status_code == 422 and "<api>: space.x." in r.json()["error"]
    _no_studies(client)


@pytest.mark.parametrize("sampler", ["tpe", "qmc", "grid"])
def test_the_widest_range_accepted_is_sampled_without_error(client, sampler):
    spec = _spec(sampler=sampler, n_trials=14)
    spec["space"] = {
        "x": {"type": "float", "low": -1.7976931348623157e308, "high": 0.0},
        "y": {"type": "float", "low": 5e-324, "high": 1e308, "log": True},
    }
    assert client.post("/api/studies", json=spec).status_code == 201
    for i in range(12):  # past TPE's 10 random start-up trials
        ask = client.post("/api/studies/h/ask")
        assert ask.status_code == 200, ask.text
        assert (
            client.post("/api/studies/h/tell", json={"trial": ask.json()["trial"], "value": i % 5}).status_code == 200
        )


def test_a_grid_step_too_fine_to_represent_is_refused(client):
    spec = _spec(sampler="grid")
    spec["space"]["x"]["step"] = 1e-300
    r = client.post("/api/studies", json=spec)
    assert r.status_code == 422 and "<api>: space.x.step" in r.json()["error"]
    _no_studies(client)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [40, 500, 1000, 100_000])
def test_deeply_nested_json_is_a_4xx_and_stores_nothing(client, storage_url, depth):
    body = '{"study": {"name": "deep", "direction": "minimize"}, "space": {"x": ' + _nested(depth) + "}}"
    r = client.post("/api/studies", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422) and "error" in r.json()
    _no_studies(client)
    trial = _running_trial(client)
    tell = f'{{"trial": {trial}, "value": {_nested(depth)}}}'
    r = client.post("/api/studies/grid/tell", content=tell, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422) and "error" in r.json()
    assert [t.state.name for t in _trials(storage_url)] == ["RUNNING"]


def test_nan_and_infinity_in_a_spec_are_refused(client):
    body = json.dumps(_spec()).replace("1.0}", "Infinity}")  # Python's json writes them; some clients do
    r = client.post("/api/studies", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "space.x.high: expected a finite number" in r.json()["error"]
    _no_studies(client)


def test_the_depth_of_a_json_body_is_checked_before_it_is_parsed(client):
    from hpsearch.server._limits import MAX_JSON_DEPTH, json_depth

    assert json_depth(b'{"a": [1, {"b": "[[[[\\"]]"}]}') == 3  # brackets inside strings do not count
    body = '{"study": {"name": "deep", "direction": "minimize"}, "space": {"x": ' + _nested(MAX_JSON_DEPTH) + "}}"
    for headers in ({"Content-Type": "application/json"}, {}):
        r = client.post("/api/studies", content=body, headers=headers)
        assert r.status_code == 400 and r.json() == {
            "error": f"request body nested deeper than {MAX_JSON_DEPTH} levels"
        }
    _no_studies(client)
