"""The dashboard's download of every trial: the same CSV / JSON as ``hpsearch export``."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import optuna
from fastapi.testclient import TestClient

from hpsearch.export import to_csv, to_json, trial_records, trial_rows
from hpsearch.server import create_app
from hpsearch.storage import open_storage
from tests.server.conftest import grid_spec


def _study(client, name: str, values: list[float]) -> None:
    assert client.post("/api/studies", json=grid_spec(name)).status_code == 201
    for v in values:
        t = client.post(f"/api/studies/{name}/ask").json()["trial"]
        assert client.post(f"/api/studies/{name}/tell", json={"trial": t, "value": v}).status_code == 200
    client.post(f"/api/studies/{name}/ask")  # and one running


def test_csv_and_json_downloads_equal_the_export(client, storage_url):
    _study(client, "runs a", [0.125, 0.3333333333333333])
    r = client.get("/exports/studies/runs%20a.csv")
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="runs-a.csv"'
    storage = open_storage(storage_url, heartbeat=False)
    assert r.text == to_csv(*trial_rows(storage, "runs a"))
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["state"] for row in rows] == ["complete", "complete", "running"]
    assert float(rows[1]["value"]) == 0.3333333333333333 and list(rows[0])[4:] == ["x", "c", "error"]
    j = client.get("/exports/studies/runs%20a.json")
    assert j.status_code == 200 and j.text == to_json(trial_records(storage, "runs a"))


def test_unknown_study_is_a_json_404(client):
    r = client.get("/exports/studies/nope.csv")
    assert r.status_code == 404 and "no study named 'nope'" in r.json()["error"]


def test_study_page_links_to_the_download(client):
    _study(client, "linked", [0.5])
    page = client.get("/studies/linked").text
    href = unescape(re.search(r'<a id="trials-csv" href="([^"]+)" download>', page).group(1))
    assert href == "/exports/studies/linked.csv" and client.get(href).status_code == 200


def test_plain_optuna_study_downloads(client, storage_url):
    study = optuna.create_study(study_name="plain", storage=storage_url)
    study.optimize(lambda t: t.suggest_float("lr", 1e-5, 1e-1, log=True), n_trials=2)
    rows = list(csv.DictReader(io.StringIO(client.get("/exports/studies/plain.csv").text)))
    assert [float(r["lr"]) for r in rows] == [t.params["lr"] for t in study.trials]


def test_a_token_is_needed_and_the_signed_in_cookie_is_enough(storage_url):
    with TestClient(create_app(storage_url, "s3cret"), base_url="http://127.0.0.1") as c:
        optuna.create_study(study_name="t", storage=storage_url)
        assert c.get("/exports/studies/t.csv").status_code == 401
        assert c.get("/exports/studies/t.csv", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        c.get("/?token=s3cret")  # a browser signing in: the cookie is set
        assert c.get("/exports/studies/t.csv").status_code == 200
