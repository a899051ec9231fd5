"""The JSON API through an in-process client: status codes, bodies, validation."""

from __future__ import annotations

import itertools
import time

import httpx
import optuna
import pytest

from hpsearch.search import tell_trial
from tests.server.conftest import grid_spec

GRID = set(itertools.product([0.0, 0.25, 0.5, 1.0], ["a", "b", "c"]))


def _create(client, spec: dict) -> None:
    r = client.post("/api/studies", json=spec)
    assert r.status_code == 201, r.text
    assert r.json() == {"name": spec["study"]["name"]}


def test_create_then_duplicate_is_409(client):
    _create(client, grid_spec("g"))
    r = client.post("/api/studies", json=grid_spec("g"))
    assert r.status_code == 409
    assert "already exists" in r.json()["error"]
    listed = client.get("/api/studies").json()
    assert [s["name"] for s in listed] == ["g"]
    assert listed[0]["direction"] == "maximize" and listed[0]["sampler"] == "grid"
    assert listed[0]["n_trials"] == 0 and listed[0]["best_value"] is None and listed[0]["budget"] == 12


def test_a_grid_smaller_than_n_trials_reports_the_grid_size_as_its_budget(client):
    """Grid search runs each of its 12 points once; asking for 50 trials must not show 50."""
    _create(client, grid_spec("big", n_trials=50))
    assert client.get("/api/studies/big").json()["budget"] == 12


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"study": {"name": "s", "direction": "maximize"}}, "space"),
        ({"space": {"x": {"type": "float", "low": 0, "high": 1}}}, "study"),
        ({**grid_spec("s"), "study": {"name": "s", "direction": "maximize", "sampler": "annealing"}}, "sampler"),
        ({**grid_spec("s"), "study": {"name": "s", "direction": "maximize", "n_trials": "5"}}, "n_trials"),
        ({**grid_spec("s"), "bogus": 1}, "bogus"),
        ([1, 2, 3], "dictionary"),
        ({**grid_spec("s"), "study": {"name": "s", "direction": "maximize", "objective": "os:system"}}, "objective"),
        (
            {
                "study": {"name": "s", "metric": "accuracy"},
                "data": {"dataset": "csv", "path": "/etc/passwd", "target": "x", "task": "classification"},
                "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
            },
            "data.path",
        ),
        (grid_spec("../../etc/passwd"), "path separator"),
        (grid_spec("a\\b"), "path separator"),
        (grid_spec("a..b"), "'..'"),
        (grid_spec("/etc/passwd"), "path separator"),
        (grid_spec("esc\x1b[31mred"), "U+001B"),
        (grid_spec("nul\x00byte"), "U+0000"),
        (grid_spec("bel\x07"), "U+0007"),
        (grid_spec("del\x7f"), "U+007F"),
        (grid_spec("nel\x85"), "U+0085"),
        (grid_spec("line\nbreak"), "U+000A"),
        (grid_spec("evil\u202egnp.exe"), "U+202E"),
        (grid_spec("x" * 201), "name"),
    ],
)
def test_invalid_spec_is_422_with_message(client, body, fragment):
    r = client.post("/api/studies", json=body)
    assert r.status_code == 422, r.text
    assert fragment.lower() in r.json()["error"].lower()
    assert client.get("/api/studies").json() == []  # nothing was created


@pytest.mark.parametrize("path", ["/api/studies", "/api/studies/g/tell", "/api/studies/g/trials/0/report"])
def test_malformed_json_is_400(client, path):
    _create(client, grid_spec("g"))
    r = client.post(path, content=b'{"trial": 0,', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "request body is not valid JSON"}


def test_ask_hands_out_every_grid_point_once_then_409(client):
    _create(client, grid_spec("g"))
    seen, numbers = set(), []
    for _ in range(12):
        r = client.post("/api/studies/g/ask")
        assert r.status_code == 200, r.text
        answer = r.json()
        seen.add((answer["params"]["x"], answer["params"]["c"]))
        numbers.append(answer["trial"])
        value = answer["params"]["x"] + {"a": 0, "b": 1, "c": 2}[answer["params"]["c"]]
        assert client.post("/api/studies/g/tell", json={"trial": answer["trial"], "value": value}).status_code == 200
    assert seen == GRID
    assert sorted(numbers) == list(range(12))
    r = client.post("/api/studies/g/ask")
    assert r.status_code == 409 and "complete" in r.json()["error"]
    summary = client.get("/api/studies/g").json()
    assert summary["states"]["complete"] == 12 and summary["finished"] == 12 and summary["n_trials"] == 12
    assert summary["best_value"] == 3.0
    assert summary["best_trial"]["params"] == {"x": 1.0, "c": "c"}


def test_tell_errors(client):
    _create(client, grid_spec("g"))
    trial = client.post("/api/studies/g/ask").json()["trial"]
    cases = [
        ({"trial": trial}, 422, "exactly one"),
        ({"trial": trial, "value": 1.0, "state": "fail"}, 422, "exactly one"),
        ({"trial": trial, "state": "complete"}, 422, "state"),
        ({"trial": str(trial), "value": 1.0}, 422, "trial"),
        ({"trial": -1, "value": 1.0}, 422, "trial"),
        ({"trial": trial, "value": "0.5"}, 422, "value"),
        ({"trial": trial, "value": 1.0, "extra": 1}, 422, "extra"),
        ({"trial": 99, "value": 1.0}, 404, "no trial 99"),
    ]
    for body, status, fragment in cases:
        r = client.post("/api/studies/g/tell", json=body)
        assert r.status_code == status, (body, r.text)
        assert fragment in r.json()["error"], (body, r.text)
    assert client.post("/api/studies/g/tell", json={"trial": trial, "value": 0.5}).status_code == 200
    r = client.post("/api/studies/g/tell", json={"trial": trial, "value": 0.7})
    assert r.status_code == 409 and "already finished" in r.json()["error"]
    r = client.post("/api/studies/nope/tell", json={"trial": 0, "value": 1.0})
    assert r.status_code == 404 and "nope" in r.json()["error"]
    assert client.get("/api/studies/g").json()["best_value"] == 0.5  # the second tell changed nothing


def test_tell_states_fail_pruned_and_diverged(client):
    _create(client, grid_spec("g"))
    a, b, c, d = (client.post("/api/studies/g/ask").json()["trial"] for _ in range(4))
    assert client.post("/api/studies/g/tell", json={"trial": a, "state": "pruned"}).json()["state"] == "pruned"
    assert client.post("/api/studies/g/tell", json={"trial": b, "state": "fail"}).json()["state"] == "fail"
    # A non-finite value is a diverged run: a real result (FAIL + diverged), not a crash.
    r = client.post(
        "/api/studies/g/tell", content=f'{{"trial": {c}, "value": NaN}}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 200 and r.json()["state"] == "fail"
    r = client.post("/api/studies/g/tell", json={"trial": d, "state": "diverged"})  # for strict-JSON clients
    assert r.status_code == 200 and r.json()["state"] == "fail"
    states = client.get("/api/studies/g").json()["states"]
    assert (states["pruned"], states["fail"], states["diverged"], states["finished"]) == (1, 3, 2, 4)
    assert states["crashed"] == 0  # a told fail is the objective failing (a result), not a crash
    r = client.post("/api/studies/g/tell", json={"trial": b, "state": "fail"})  # the same tell again
    assert r.status_code == 200 and r.json()["state"] == "fail"


def test_a_told_fail_keeps_its_error_and_is_not_handed_out_again(client, storage_url):
    spec = grid_spec("two")
    spec["space"] = {"c": {"type": "categorical", "choices": ["a", "b"]}}
    _create(client, spec)
    first, second = client.post("/api/studies/two/ask").json(), client.post("/api/studies/two/ask").json()
    told = {"trial": first["trial"], "state": "fail", "error": "CUDA out of memory"}
    r = client.post("/api/studies/two/tell", json=told)
    assert r.status_code == 200 and r.json()["state"] == "fail"
    r = client.post("/api/studies/two/ask")  # the failed point is done: only the running one is left
    assert r.status_code == 409 and "running" in r.json()["error"]
    assert client.post("/api/studies/two/tell", json={"trial": second["trial"], "value": 1.0}).status_code == 200
    r = client.post("/api/studies/two/ask")
    assert r.status_code == 409 and "complete" in r.json()["error"]
    study = optuna.load_study(study_name="two", storage=storage_url)
    assert study.trials[first["trial"]].user_attrs["error"] == "CUDA out of memory"
    r = client.post("/api/studies/two/tell", json={"trial": second["trial"], "value": 1.0, "error": "x"})
    assert r.status_code == 422 and '"error" goes with' in r.json()["error"]


def test_report_asks_the_studys_pruner(client):
    spec = {
        "study": {"name": "p", "direction": "maximize", "sampler": "random", "n_trials": 20, "pruner": "median"},
        "space": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
    }
    _create(client, spec)
    for _ in range(5):  # MedianPruner(n_startup_trials=5): five complete curves at 0.9
        t = client.post("/api/studies/p/ask").json()["trial"]
        for step in range(4):
            r = client.post(f"/api/studies/p/trials/{t}/report", json={"step": step, "value": 0.9})
            assert r.json() == {"prune": False}
        client.post("/api/studies/p/tell", json={"trial": t, "value": 0.9})
    weak = client.post("/api/studies/p/ask").json()["trial"]
    strong = client.post("/api/studies/p/ask").json()["trial"]
    answers = [
        client.post(f"/api/studies/p/trials/{weak}/report", json={"step": s, "value": 0.1}).json() for s in range(3)
    ]
    assert answers == [{"prune": False}, {"prune": False}, {"prune": True}]  # n_warmup_steps=2
    r = client.post(f"/api/studies/p/trials/{strong}/report", json={"step": 2, "value": 0.95})
    assert r.json() == {"prune": False}
    client.post("/api/studies/p/tell", json={"trial": weak, "state": "pruned"})
    r = client.post(f"/api/studies/p/trials/{weak}/report", json={"step": 3, "value": 0.1})
    assert r.status_code == 409 and "already finished" in r.json()["error"]
    assert client.post("/api/studies/p/trials/99/report", json={"step": 0, "value": 1.0}).status_code == 404
    for number, body in [
        ("abc", {"step": 0, "value": 1.0}),
        (str(strong), {"step": -1, "value": 1.0}),
        (str(strong), {"step": 0}),
        (str(strong), {"step": 0, "value": "x"}),
    ]:
        r = client.post(f"/api/studies/p/trials/{number}/report", json=body)
        assert r.status_code in (400, 422) and "error" in r.json(), (number, body, r.text)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/studies/%2E%2E", 400),
        ("/api/studies/a%2F%2E%2E%2Fb", 400),
        ("/api/studies/a%5Cb", 400),
        ("/api/studies/a%00b", 400),
        ("/api/studies/" + "y" * 300, 400),
        ("/api/studies/%3Cscript%3E", 404),
    ],
)
def test_hostile_names_in_paths_are_4xx_json(client, path, status):
    for method, suffix in [("GET", ""), ("POST", "/ask")]:
        r = client.request(method, path + suffix)
        assert r.status_code == status, (method, path, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert set(r.json()) == {"error"}


def test_slashes_in_names_of_studies_made_elsewhere_work(client, storage_url):
    """hpsearch's own names never hold a '/', but other Optuna tools' may: looking those up works."""
    assert client.post("/api/studies", json=grid_spec("digits/grid/seed0")).status_code == 422
    optuna.create_study(study_name="digits/grid/seed0", storage=storage_url, direction="minimize")
    r = client.get("/api/studies/digits/grid/seed0")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "digits/grid/seed0"


def test_unknown_routes_and_methods_are_json(client):
    r = client.get("/api/nothing")
    assert r.status_code == 404 and "error" in r.json()
    r = client.delete("/api/studies")
    assert r.status_code == 405 and "error" in r.json()


def test_study_without_hpsearch_spec_is_a_clear_4xx(client, storage_url):
    optuna.create_study(study_name="plain", storage=storage_url, direction="minimize")
    r = client.post("/api/studies/plain/ask")
    assert r.status_code == 422 and "spec" in r.json()["error"]
    summary = client.get("/api/studies/plain").json()
    assert summary["direction"] == "minimize" and summary["sampler"] is None


def test_study_deleted_and_recreated_under_a_running_server(client, storage_url):
    """SQLite reuses the ids of deleted rows; the server's trial cache must not mistake the new study for the old."""
    _create(client, grid_spec("other"))
    _create(client, grid_spec("again"))
    for value in (0.1, 0.2):
        t = client.post("/api/studies/again/ask").json()["trial"]
        assert client.post("/api/studies/again/tell", json={"trial": t, "value": value}).status_code == 200
    client.post("/api/studies/other/ask")  # takes the next trial id, so the new study's trial ids differ
    old_id = optuna.load_study(study_name="again", storage=storage_url)._study_id
    optuna.delete_study(study_name="again", storage=storage_url)
    _create(client, grid_spec("again"))
    assert optuna.load_study(study_name="again", storage=storage_url)._study_id == old_id  # the hazard is real
    answer = client.post("/api/studies/again/ask").json()
    assert answer["trial"] == 0
    r = client.post("/api/studies/again/tell", json={"trial": 1, "value": 0.5})
    assert r.status_code == 404, r.text  # the old study's trial 1 is gone with it
    r = client.post("/api/studies/again/tell", json={"trial": 0, "value": 0.9})
    assert r.status_code == 200, r.text
    summary = client.get("/api/studies/again").json()
    assert summary["n_trials"] == 1 and summary["best_value"] == 0.9


def test_oversized_bodies_are_refused_with_413(client, live_server):
    big = b'{"study": {"name": "' + b"x" * 2_000_000 + b'"}}'
    r = client.post("/api/studies", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["error"]

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(40):
            yield b" " * 100_000

    r = httpx.post(f"{live_server.url}/api/studies", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    assert httpx.get(f"{live_server.url}/api/studies").json() == []


def test_ask_while_the_last_trials_run_is_409_then_a_crashed_point_is_handed_out_again(client, storage_url):
    spec = grid_spec("two")
    spec["space"] = {"c": {"type": "categorical", "choices": ["a", "b"]}}
    _create(client, spec)
    first, second = client.post("/api/studies/two/ask").json(), client.post("/api/studies/two/ask").json()
    r = client.post("/api/studies/two/ask")
    assert r.status_code == 409 and "running" in r.json()["error"]
    # A crash (what an expired lease records: FAIL without an error): the point runs again.
    tell_trial(optuna.load_study(study_name="two", storage=storage_url), first["trial"], state="fail")
    again = client.post("/api/studies/two/ask").json()
    assert again["params"] == first["params"] and again["trial"] not in (first["trial"], second["trial"])


def _one_point_study(client, name: str) -> None:
    spec = grid_spec(name)
    spec["space"] = {"c": {"type": "categorical", "choices": ["a"]}}
    _create(client, spec)


class _WallClock:
    """The wall clock that leases are read against, moved by hand: no test waits for a lease to run out,
    so a slow machine cannot let one expire early."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def __getattr__(self, name):  # monotonic, sleep, ...: the real ones
        return getattr(time, name)


@pytest.fixture
def wall_clock(monkeypatch) -> _WallClock:
    clock = _WallClock()
    monkeypatch.setattr("hpsearch.search._trial.time", clock)  # where leases are granted and renewed
    monkeypatch.setattr("hpsearch.search._recovery.time", clock)  # where they are checked
    return clock


def test_with_trial_timeout_a_silent_clients_trial_is_failed_and_handed_out_again(storage_url, wall_clock):
    from fastapi.testclient import TestClient

    from hpsearch.server import create_app

    with TestClient(
        create_app(storage_url, trial_timeout=60), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        _one_point_study(client, "lease")
        first = client.post("/api/studies/lease/ask").json()
        wall_clock.now += 59
        r = client.post("/api/studies/lease/ask")
        assert r.status_code == 409 and "running" in r.json()["error"]  # the lease still holds
        wall_clock.now += 2
        again = client.post("/api/studies/lease/ask").json()
        assert again["params"] == first["params"] and again["trial"] != first["trial"]
        late = client.post("/api/studies/lease/tell", json={"trial": first["trial"], "value": 1.0})
        assert late.status_code == 409 and "already finished (fail)" in late.json()["error"]
        assert client.post("/api/studies/lease/tell", json={"trial": again["trial"], "value": 1.0}).status_code == 200
    study = optuna.load_study(study_name="lease", storage=storage_url)
    failed = study.trials[first["trial"]]
    assert failed.state == optuna.trial.TrialState.FAIL and "lease expired" in failed.system_attrs["fail_reason"]
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]


def test_reports_renew_the_lease(storage_url, wall_clock):
    from fastapi.testclient import TestClient

    from hpsearch.server import create_app

    with TestClient(
        create_app(storage_url, trial_timeout=60), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        _one_point_study(client, "alive")
        trial = client.post("/api/studies/alive/ask").json()["trial"]
        for step in range(4):  # 4 x 45 s: three times the lease, but never silent for that long
            wall_clock.now += 45
            assert client.post(
                f"/api/studies/alive/trials/{trial}/report", json={"step": step, "value": 0.5}
            ).json() == {"prune": False}
        r = client.post("/api/studies/alive/ask")
        assert r.status_code == 409 and "running" in r.json()["error"]
        assert client.post("/api/studies/alive/tell", json={"trial": trial, "value": 0.5}).status_code == 200


def test_without_trial_timeout_api_trials_get_a_one_hour_lease(client, wall_clock):
    _one_point_study(client, "patient")
    first = client.post("/api/studies/patient/ask").json()
    wall_clock.now += 3599
    assert client.post("/api/studies/patient/ask").status_code == 409  # the client may still be training
    wall_clock.now += 2
    again = client.post("/api/studies/patient/ask").json()
    assert again["trial"] != first["trial"] and again["params"] == first["params"]
    assert client.post("/api/studies/patient/tell", json={"trial": first["trial"], "value": 1.0}).status_code == 409


def test_a_heartbeat_extends_the_lease(client, wall_clock):
    _one_point_study(client, "beat")
    trial = client.post("/api/studies/beat/ask").json()["trial"]
    for _ in range(3):
        wall_clock.now += 3000
        r = client.post(f"/api/studies/beat/trials/{trial}/heartbeat")
        assert r.json() == {"trial": trial, "lease_seconds": 3600.0}
    assert client.post("/api/studies/beat/ask").status_code == 409
    assert client.post("/api/studies/beat/tell", json={"trial": trial, "value": 1.0}).status_code == 200
    r = client.post(f"/api/studies/beat/trials/{trial}/heartbeat")
    assert r.status_code == 409 and "already finished" in r.json()["error"]
    assert client.post("/api/studies/beat/trials/7/heartbeat").status_code == 404


def test_an_expired_lease_is_handed_out_before_fresh_slots(storage_url, wall_clock):
    from fastapi.testclient import TestClient

    from hpsearch.server import create_app

    with TestClient(
        create_app(storage_url, trial_timeout=60), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        _create(client, grid_spec("early"))  # 12 slots
        first = client.post("/api/studies/early/ask").json()
        wall_clock.now += 61
        again = client.post("/api/studies/early/ask").json()  # 11 fresh slots are free: slot 0 comes first anyway
        assert again["params"] == first["params"] and again["trial"] == first["trial"] + 1


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan")])
def test_trial_timeout_must_be_positive(storage_url, timeout):
    from hpsearch.errors import UserError
    from hpsearch.server import create_app

    with pytest.raises(UserError, match="--trial-timeout"):
        create_app(storage_url, trial_timeout=timeout)


def test_tpe_over_the_api_is_reproducible_for_a_client_that_asks_and_tells_in_turn(tmp_path, _empty_db):
    """Same spec and seed, same client loop: the same proposals, past TPE's random start-up trials."""
    import shutil

    from fastapi.testclient import TestClient

    from hpsearch.server import create_app

    spec = {
        "study": {"name": "tpe", "direction": "minimize", "sampler": "tpe", "n_trials": 14, "seed": 3},
        "space": {
            "x": {"type": "float", "low": -2.0, "high": 2.0},
            "k": {"type": "categorical", "choices": ["a", "b"]},
        },
    }
    runs = []
    for run in range(2):
        db = tmp_path / f"run{run}.db"
        shutil.copyfile(_empty_db, db)
        with TestClient(
            create_app(f"sqlite:///{db}"), base_url="http://127.0.0.1", raise_server_exceptions=False
        ) as client:
            _create(client, spec)
            asked = []
            for _ in range(14):
                a = client.post("/api/studies/tpe/ask").json()
                asked.append(a["params"])
                value = (a["params"]["x"] - 0.5) ** 2 + (a["params"]["k"] == "b")
                assert (
                    client.post("/api/studies/tpe/tell", json={"trial": a["trial"], "value": value}).status_code == 200
                )
        runs.append(asked)
    assert runs[0] == runs[1]
    assert len({p["x"] for p in runs[0]}) == 14  # and they are 14 different points
