"""DNS rebinding, cross-site writes, security headers and remote code, over real HTTP.

Each test runs a real uvicorn server on a free loopback port and talks to it
with httpx, setting the Host and Origin headers a browser would send.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from hpsearch.errors import UserError
from hpsearch.server import create_app
from hpsearch.server._security import allowed_hosts
from tests.server.conftest import free_port, grid_spec

TOKEN = "s3cret-token"
EVIL = "evil.example.com"


class Server:
    """``create_app(...)`` on uvicorn in a thread, on 127.0.0.1 (or ``host``) and a free port."""

    def __init__(self, app, host: str = "127.0.0.1") -> None:
        self.port = free_port() if host == "127.0.0.1" else _free_port6()
        self.url = f"http://{host}:{self.port}" if ":" not in host else f"http://[{host}]:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "uvicorn did not stop"


def _free_port6() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(storage_url) -> Iterator[Server]:
    s = Server(create_app(storage_url))
    yield s
    s.stop()


@pytest.fixture
def proxied(storage_url) -> Iterator[Server]:
    """With a token, behind a TLS proxy that forwards Host: hpsearch.example.org."""
    s = Server(create_app(storage_url, TOKEN, allowed_hosts=allowed_hosts("127.0.0.1", ["hpsearch.example.org"])))
    yield s
    s.stop()


def _names(server: Server) -> list[str]:
    return [s["name"] for s in httpx.get(f"{server.url}/api/studies").json()]


def test_a_rebinding_host_is_refused_by_the_api_and_the_dashboard(server):
    httpx.post(f"{server.url}/api/studies", json=grid_spec("mine")).raise_for_status()
    for host in (EVIL, f"{EVIL}:{server.port}", "127.0.0.1.nip.io", "localhost.evil.example.com", "192.168.1.10"):
        evil = {"Host": host}
        r = httpx.get(f"{server.url}/api/studies", headers=evil)
        assert r.status_code == 403 and r.headers["content-type"] == "application/json"
        assert host in r.json()["error"] and "--allowed-host" in r.json()["error"]
        r = httpx.post(f"{server.url}/api/studies", json=grid_spec("planted"), headers=evil)
        assert r.status_code == 403 and "error" in r.json()
        assert httpx.post(f"{server.url}/api/studies/mine/ask", headers=evil).status_code == 403
        for page in ("/", "/studies/mine", "/poll", "/static/plotly.min.js"):
            r = httpx.get(f"{server.url}{page}", headers=evil)
            assert r.status_code == 403 and r.headers["content-type"].startswith("text/plain"), page
            assert "not a name of this server" in r.text and "mine" not in r.text
    assert _names(server) == ["mine"]
    assert httpx.get(f"{server.url}/api/studies/mine").json()["n_trials"] == 0  # the asks never ran


def test_loopback_hosts_are_accepted_with_and_without_port(server):
    port = server.port
    for host in (
        f"127.0.0.1:{port}",
        "127.0.0.1",
        f"localhost:{port}",
        "localhost",
        "LocalHost",
        f"[::1]:{port}",
        "[::1]",
    ):
        r = httpx.get(f"{server.url}/api/studies", headers={"Host": host})
        assert r.status_code == 200 and r.json() == [], host
        assert httpx.get(f"{server.url}/", headers={"Host": host}).status_code == 200, host


def test_a_server_on_ipv6_loopback_answers_its_bracketed_host(storage_url):
    try:
        _free_port6()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    server = Server(create_app(storage_url), host="::1")
    try:
        # httpx sends what a browser does for http://[::1]:PORT/: "Host: [::1]:PORT" and that Origin.
        r = httpx.post(f"{server.url}/api/studies", json=grid_spec("v6"), headers={"Origin": server.url})
        assert r.status_code == 201 and r.request.headers["host"] == f"[::1]:{server.port}"
        assert httpx.get(f"{server.url}/").status_code == 200
        assert httpx.get(f"{server.url}/", headers={"Host": EVIL}).status_code == 403
    finally:
        server.stop()


def test_a_foreign_origin_cannot_write_and_the_same_origin_can(server):
    base = server.url
    for origin in (
        f"http://{EVIL}",
        f"http://{EVIL}:{server.port}",
        "null",
        "file://",
        "chrome-extension://x",
        f"http://127.0.0.1.{EVIL}:{server.port}",
    ):
        r = httpx.post(f"{base}/api/studies", json=grid_spec("csrf"), headers={"Origin": origin})
        assert r.status_code == 403 and r.headers["content-type"] == "application/json", origin
        assert "Origin" in r.json()["error"]
    assert _names(server) == []
    # The page's own origin (any loopback name; the Host the request went to) may write.
    r = httpx.post(f"{base}/api/studies", json=grid_spec("g"), headers={"Origin": base})
    assert r.status_code == 201
    ask = httpx.post(f"{base}/api/studies/g/ask", headers={"Origin": f"http://localhost:{server.port}"})
    assert ask.status_code == 200
    trial = ask.json()["trial"]
    # A foreign page cannot tell made-up values into the study...
    r = httpx.post(
        f"{base}/api/studies/g/tell", json={"trial": trial, "value": 1e9}, headers={"Origin": f"https://{EVIL}"}
    )
    assert r.status_code == 403
    assert httpx.get(f"{base}/api/studies/g").json()["best_value"] is None
    # ...scripts without an Origin can, and a foreign Origin may still read (its page cannot see the answer: CORS).
    assert httpx.post(f"{base}/api/studies/g/tell", json={"trial": trial, "value": 0.5}).status_code == 200
    assert httpx.get(f"{base}/api/studies/g", headers={"Origin": f"http://{EVIL}"}).json()["best_value"] == 0.5
    r = httpx.post(
        f"{base}/api/studies/g/ask", headers={"Origin": f"http://[::1]:{server.port}", "Host": f"[::1]:{server.port}"}
    )
    assert r.status_code == 200


def test_security_headers_on_pages_api_static_and_refusals(server, storage_url):
    import optuna

    base = server.url
    httpx.post(f"{base}/api/studies", json=grid_spec("g")).raise_for_status()
    optuna.load_study(study_name="g", storage=storage_url).set_user_attr("comparison", "cmp")
    nonces = set()
    for page in ("/", "/studies/g", "/comparisons/cmp", "/studies/missing"):
        r = httpx.get(base + page)
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
        csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
        assert csp["frame-ancestors"] == "'none'" and csp["default-src"] == "'none'"
        assert csp["connect-src"] == "'self'" and csp["base-uri"] == "'none'"
        nonce = re.fullmatch(r"'self' 'nonce-([\w-]+)'", csp["script-src"]).group(1)  # no 'unsafe-inline'
        inline = re.findall(r"<script(?! src=| type=\"application/json\")([^>]*)>", r.text)
        assert all(attrs == f' nonce="{nonce}"' for attrs in inline), inline
        assert inline or page == "/studies/missing"  # the error page has no script
        nonces.add(nonce)
    assert len(nonces) == 4  # a fresh nonce per response
    # The full report embeds plotly.js inline: its scripts get the response's nonce, and eval for WebGL.
    r = httpx.get(f"{base}/reports/studies/g")
    nonce = re.search(r"'nonce-([\w-]+)' 'unsafe-eval';", r.headers["content-security-policy"]).group(1)
    scripts = re.findall(r"<script[^>]*>", r.text)
    assert "<script>" not in scripts and f'<script nonce="{nonce}">' in scripts
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    for path, method in (
        ("/api/studies", "GET"),
        ("/api/studies/g", "GET"),
        ("/poll", "GET"),
        ("/static/plotly.min.js", "GET"),
        ("/api/studies/nope/ask", "POST"),
    ):
        r = httpx.request(method, base + path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'", path
    refused = httpx.get(base + "/", headers={"Host": EVIL})
    assert refused.status_code == 403 and refused.headers["x-content-type-options"] == "nosniff"


def test_behind_a_proxy_the_allowed_host_and_its_https_origin_work(proxied):
    base, bearer = proxied.url, {"Authorization": f"Bearer {TOKEN}"}
    public = {**bearer, "Host": "hpsearch.example.org", "Origin": "https://hpsearch.example.org"}
    assert httpx.post(f"{base}/api/studies", json=grid_spec("g"), headers=public).status_code == 201
    assert httpx.post(f"{base}/api/studies/g/ask", headers=public).status_code == 200
    other = {**bearer, "Host": "other.example.org"}
    assert httpx.get(f"{base}/api/studies", headers=other).status_code == 403
    # A foreign page cannot write even with a token (e.g. in a browser extension's hands).
    foreign = {**public, "Origin": "https://evil.example.org"}
    assert httpx.post(f"{base}/api/studies/g/ask", headers=foreign).status_code == 403
    # The Host check comes before the token: a rebinding page learns nothing, not even that one is needed.
    assert httpx.get(f"{base}/api/studies", headers={"Host": EVIL}).status_code == 403
    assert httpx.get(f"{base}/api/studies", headers={"Host": "hpsearch.example.org"}).status_code == 401


def test_any_host_only_when_asked_and_only_with_a_token(storage_url):
    from fastapi.testclient import TestClient

    app = create_app(storage_url, TOKEN, allowed_hosts=allowed_hosts("0.0.0.0", ["*"]))
    with TestClient(app, base_url="http://anything.example", raise_server_exceptions=False) as c:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert c.get("/api/studies", headers=bearer).status_code == 200
        # Any Host, but still only the request's own host as Origin.
        assert (
            c.post(
                "/api/studies", json=grid_spec("g"), headers={**bearer, "Origin": "https://anything.example"}
            ).status_code
            == 201
        )
        assert c.post("/api/studies/g/ask", headers={**bearer, "Origin": "https://else.example"}).status_code == 403
    wildcard = create_app(storage_url, TOKEN, allowed_hosts=allowed_hosts(None, ["*.example.org"]))
    with TestClient(wildcard, base_url="http://a.example.org", raise_server_exceptions=False) as c:
        assert c.get("/api/studies", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.get("/api/studies", headers={"Host": "example.net"}).status_code == 403
    for hosts in (["*"], ["hpsearch.example.org"], ["192.168.1.10"]):
        with pytest.raises(UserError, match="token"):
            create_app(storage_url, allowed_hosts=allowed_hosts(None, hosts))
    with pytest.raises(UserError, match="wildcard"):
        create_app(storage_url, TOKEN, allowed_hosts=["a*.example.org"])


SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"study": {"objective": "command"}, "command": {"run": "touch {marker}"}}, "command"),
        ({"command": {"run": "touch {marker}"}}, "command"),
        ({"study": {"objective": "command"}}, "study.objective"),
        ({"study": {"objective": "os:system"}}, "study.objective"),
        ({"study": {"objective": "external", "workdir": "/tmp"}}, "study.workdir"),
        (
            {
                "study": {"objective": "mlp", "metric": "accuracy", "direction": None},
                "data": {"dataset": "csv", "path": "/etc/passwd", "target": "x", "task": "classification"},
            },
            "data.path",
        ),
    ],
)
def test_an_api_study_naming_code_a_command_or_a_path_is_refused(server, storage_url, tmp_path, extra, key, capsys):
    from hpsearch.cli import main

    marker = tmp_path / "ran"
    body = {
        "study": {"name": "c", "direction": "minimize", **extra.get("study", {})},
        "space": SPACE,
        **{k: v for k, v in extra.items() if k != "study"},
    }
    body["study"] = {k: v for k, v in body["study"].items() if v is not None}
    if "command" in body:
        body["command"] = {"run": body["command"]["run"].replace("{marker}", str(marker))}
    r = httpx.post(f"{server.url}/api/studies", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(f"<api>: {key}:") and "spec files" in r.json()["error"]
    assert _names(server) == []
    assert main(["worker", "c", "--storage", storage_url]) == 2  # nothing stored, so nothing to run
    assert "no study" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize("objective", ["command", "os:getcwd"])
def test_a_worker_never_runs_user_code_of_an_api_created_study(server, storage_url, tmp_path, objective, capsys):
    """Even if the stored spec of an API study is changed to name code afterwards, workers refuse it."""
    from hpsearch.cli import main
    from hpsearch.storage import SPEC_ATTR, open_storage

    body = {"study": {"name": "api-made", "direction": "minimize", "objective": "external"}, "space": SPACE}
    assert httpx.post(f"{server.url}/api/studies", json=body).status_code == 201
    trial = httpx.post(f"{server.url}/api/studies/api-made/ask").json()["trial"]
    httpx.post(f"{server.url}/api/studies/api-made/tell", json={"trial": trial, "value": 0.5}).raise_for_status()
    marker = tmp_path / "ran"
    storage = open_storage(storage_url, heartbeat=False)
    study_id = storage.get_study_id_from_name("api-made")
    assert storage.get_study_user_attrs(study_id)["created_by"] == "api"
    spec = storage.get_study_user_attrs(study_id)[SPEC_ATTR]
    spec["study"]["objective"] = objective
    if objective == "command":
        spec["command"] = {"run": f"touch {marker}", "timeout": 60}
    storage.set_study_user_attr(study_id, SPEC_ATTR, spec)  # what only a writer of the database can do
    storage.engine.dispose()

    assert main(["worker", "api-made", "--storage", storage_url]) == 2
    err = capsys.readouterr().err
    assert "created over the HTTP API" in err and "spec files" in err and "Traceback" not in err
    # Nor does `best --evaluate`, which retrains the best configuration with the spec's objective.
    assert main(["best", "api-made", "--evaluate", "--storage", storage_url]) == 2
    assert "created over the HTTP API" in capsys.readouterr().err
    assert not marker.exists()
    assert httpx.get(f"{server.url}/api/studies/api-made").json()["n_trials"] == 1  # the one the client told


def test_check_may_run_leaves_studies_from_spec_files_alone(storage_url):
    import optuna

    from hpsearch.spec import spec_from_dict
    from hpsearch.storage import open_storage
    from hpsearch.trust import check_may_run

    storage = open_storage(storage_url, heartbeat=False)
    spec = spec_from_dict(
        {"study": {"name": "cli", "direction": "minimize", "objective": "os:getcwd"}, "space": SPACE},
        source="spec.toml",
    )
    study = optuna.create_study(storage=storage, study_name="cli")
    check_may_run(storage, study, spec)  # no created_by mark: the spec came from a file
    study.set_user_attr("created_by", "api")
    with pytest.raises(UserError, match="created over the HTTP API"):
        check_may_run(storage, study, spec)
    storage.engine.dispose()


def test_hpsearch_serve_answers_the_names_it_is_given(storage_url, tmp_path):
    """The CLI end to end: a subprocess serving with a token and --allowed-host."""
    import subprocess
    import sys

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hpsearch.cli",
            "serve",
            "--port",
            str(port),
            "--storage",
            storage_url,
            "--token",
            TOKEN,
            "--allowed-host",
            "hpsearch.example.org",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url, bearer = f"http://127.0.0.1:{port}/api/studies", {"Authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                r = httpx.get(url, headers=bearer)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "hpsearch serve did not start"
                time.sleep(0.1)
        assert r.status_code == 200
        assert httpx.get(url, headers={**bearer, "Host": "hpsearch.example.org"}).status_code == 200
        assert httpx.get(url, headers={**bearer, "Host": f"localhost:{port}"}).status_code == 200
        assert httpx.get(url, headers={**bearer, "Host": EVIL}).status_code == 403
        r = httpx.post(url, json=grid_spec("g"), headers={**bearer, "Origin": f"http://{EVIL}"})
        assert r.status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=60)
