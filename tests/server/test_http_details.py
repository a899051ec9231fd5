"""A 405's Allow header names what the path accepts; the OpenAPI document is served, behind the token; at
shutdown the server empties a SQLite WAL into its file (issue 26)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hpsearch.server import create_app
from tests.server.conftest import grid_spec


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/studies", {"GET", "POST"}),
        ("PUT", "/api/studies/g/ask", {"GET", "POST"}),  # POST: ask; GET: a study named "g/ask"
        ("PUT", "/api/studies/g/tell", {"GET", "POST"}),
        ("DELETE", "/api/studies/g/trials/0/report", {"GET", "POST"}),
        ("POST", "/", {"GET"}),
        ("POST", "/openapi.json", {"GET", "HEAD"}),
    ],
)
def test_405_names_every_method_the_path_accepts(client, method, path, allow):
    assert client.post("/api/studies", json=grid_spec("g")).status_code == 201
    r = client.request(method, path)
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == allow
    # and each method named there is really routed (not 405)
    for named in allow - {"HEAD"}:
        assert client.request(named, path).status_code != 405, named


def test_the_openapi_document_describes_the_api(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert "/api/studies" in doc["paths"] and {"get", "post"} <= set(doc["paths"]["/api/studies"])


def test_the_openapi_document_needs_the_token_when_one_is_set(storage_url):
    with TestClient(create_app(storage_url, "s3cret"), base_url="http://127.0.0.1") as secured:
        refused = secured.get("/openapi.json")
        assert refused.status_code == 401 and "token" in refused.json()["error"]
        assert secured.get("/openapi.json", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_at_shutdown_the_db_file_alone_holds_the_studies(storage_url, tmp_path):
    import shutil

    import optuna

    db = tmp_path / "study.db"
    with TestClient(create_app(storage_url), base_url="http://127.0.0.1") as http:
        assert http.post("/api/studies", json=grid_spec("g")).status_code == 201
        for value in (0.1, 0.2, 0.3):
            trial = http.post("/api/studies/g/ask").json()["trial"]
            assert http.post("/api/studies/g/tell", json={"trial": trial, "value": value}).status_code == 200
    wal = tmp_path / "studies.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    alone = tmp_path / "alone" / "copy.db"
    alone.parent.mkdir()
    shutil.copyfile(db, alone)
    trials = optuna.load_study(study_name="g", storage=f"sqlite:///{alone}").get_trials(deepcopy=False)
    assert [t.value for t in trials] == [0.1, 0.2, 0.3]


def test_a_database_that_is_away_is_a_503_to_retry_not_a_500(client, monkeypatch):
    import sqlite3

    import sqlalchemy as sa

    def away() -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))

    assert client.get("/api/studies").status_code == 200
    monkeypatch.setattr(client.app.state.hpsearch, "storage", away)
    for method, path in (("GET", "/api/studies"), ("POST", "/api/studies/g/ask")):
        r = client.request(method, path)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5" and "try again" in r.json()["error"]
