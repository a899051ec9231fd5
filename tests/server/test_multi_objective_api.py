"""A study with two objectives over the HTTP API: create, ask, tell with values (and constraints), summary."""

from __future__ import annotations

import pytest


def _spec(name="mo", **extra) -> dict:
    return {
        "study": {
            "name": name,
            "objectives": ["quality", "cost"],
            "directions": ["maximize", "minimize"],
            "sampler": "random",
            "n_trials": 6,
            **extra,
        },
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "constraints": {"cost": {"max": 0.75}},
    }


def _point(x: float) -> list[float]:
    """quality = x, cost = x squared: every point is a trade-off (the whole curve is a front)."""
    return [x, x * x]


def test_ask_tell_values_and_the_summary_gives_the_feasible_front(client):
    assert client.post("/api/studies", json=_spec()).status_code == 201
    told = {}
    for _ in range(6):
        asked = client.post("/api/studies/mo/ask").json()
        x = asked["params"]["x"]
        r = client.post("/api/studies/mo/tell", json={"trial": asked["trial"], "values": _point(x)})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "complete"
        told[asked["trial"]] = x
    summary = client.get("/api/studies/mo").json()
    assert summary["directions"] == ["maximize", "minimize"] and summary["objectives"] == ["quality", "cost"]
    assert summary["best_trial"] is None and summary["states"]["complete"] == 6
    front = summary["pareto_front"]
    feasible = {n for n, x in told.items() if x * x <= 0.75}
    # quality up means cost up: every feasible trial is on the front, no infeasible one
    assert {t["number"] for t in front} == feasible
    assert all(t["feasible"] and t["values"] == pytest.approx(_point(told[t["number"]])) for t in front)
    again = client.post("/api/studies/mo/tell", json={"trial": front[0]["number"], "values": front[0]["values"]})
    assert again.status_code == 200  # a repeated tell with the same values


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"values": [0.5]}, "2 numbers"),
        ({"values": [0.5, 0.1, 0.2]}, "2 numbers"),
        ({"value": 0.5}, "2 numbers"),
        ({"values": [0.5, 0.1], "value": 0.5}, "exactly one of"),
        ({"values": [0.5, "a"]}, "values"),
        ({"values": [0.5, 0.1], "constraints": {"c": "x"}}, "constraints"),
        ({"state": "pruned"}, "cannot prune"),
    ],
)
def test_a_malformed_tell_is_a_clear_4xx_and_the_trial_stays_open(client, body, fragment):
    assert client.post("/api/studies", json=_spec()).status_code == 201
    asked = client.post("/api/studies/mo/ask").json()
    r = client.post("/api/studies/mo/tell", json={"trial": asked["trial"], **body})
    assert 400 <= r.status_code < 500, r.text
    assert fragment in r.json()["error"]
    ok = client.post("/api/studies/mo/tell", json={"trial": asked["trial"], "values": [0.5, 0.25]})
    assert ok.status_code == 200, ok.text


def test_constraints_told_by_the_client_make_a_trial_infeasible(client):
    assert client.post("/api/studies", json=_spec()).status_code == 201
    asked = client.post("/api/studies/mo/ask").json()
    body = {"trial": asked["trial"], "values": [0.1, 0.01], "constraints": {"memory": 3.0}}
    assert client.post("/api/studies/mo/tell", json=body).status_code == 200
    assert client.get("/api/studies/mo").json()["pareto_front"] == []


def test_a_diverged_tell_records_every_value_as_unknown(client):
    assert client.post("/api/studies", json=_spec()).status_code == 201
    asked = client.post("/api/studies/mo/ask").json()
    r = client.post("/api/studies/mo/tell", json={"trial": asked["trial"], "state": "diverged"})
    assert r.status_code == 200 and r.json()["state"] == "fail"
    assert client.get("/api/studies/mo").json()["states"]["diverged"] == 1
