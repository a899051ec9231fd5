"""The API's bounds and idempotency on PostgreSQL, whose INTEGER columns stop at 2^31 - 1."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hpsearch.server import create_app
from tests.distributed.conftest import pg_server_url, pg_url  # noqa: F401 - fixtures
from tests.server.conftest import grid_spec

pytestmark = pytest.mark.postgres


def test_bounds_keys_and_repeated_tells_on_postgresql(pg_url):  # noqa: F811 - the fixture
    with TestClient(create_app(pg_url), base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        assert client.post("/api/studies", json=grid_spec()).status_code == 201
        first = client.post("/api/studies/grid/ask", headers={"Idempotency-Key": "pg"}).json()
        assert client.post("/api/studies/grid/ask", headers={"Idempotency-Key": "pg"}).json() == first
        trial = first["trial"]
        ok = client.post(f"/api/studies/grid/trials/{trial}/report", json={"step": 2**31 - 1, "value": 0.5})
        assert ok.json() == {"prune": False}
        for step in (2**31, 2**63):
            r = client.post(f"/api/studies/grid/trials/{trial}/report", json={"step": step, "value": 0.5})
            assert r.status_code == 422
        for number in (2**31, 2**63):
            assert client.post("/api/studies/grid/tell", json={"trial": number, "value": 1.0}).status_code == 422
            assert client.post(f"/api/studies/grid/trials/{number}/heartbeat").status_code == 422
        assert client.post("/api/studies/grid/tell", json={"trial": trial, "value": 1.0}).status_code == 200
        assert client.post("/api/studies/grid/tell", json={"trial": trial, "value": 1.0}).status_code == 200
        assert client.post("/api/studies/grid/tell", json={"trial": trial, "value": 2.0}).status_code == 409
        summary = client.get("/api/studies/grid").json()
        assert summary["states"]["complete"] == 1 and summary["states"]["running"] == 0
