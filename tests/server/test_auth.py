"""Token auth (API bearer header, dashboard cookie) and the refusal to expose the service without one."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest
from fastapi.testclient import TestClient
from starlette.requests import HTTPConnection

from hpsearch.cli import main
from hpsearch.cli._serve_cmd import check_bind, is_loopback
from hpsearch.errors import UserError
from hpsearch.server import create_app
from hpsearch.server._auth import TokenAuthMiddleware
from tests.server.conftest import grid_spec

TOKEN = "s3cret-token"


@pytest.fixture
def secured(storage_url):
    with TestClient(create_app(storage_url, TOKEN), base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


def test_api_needs_the_bearer_token(secured):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Cookie": f"hpsearch_token={TOKEN}"},
    ):
        r = secured.get("/api/studies", headers=headers)
        assert r.status_code == 401, headers
        assert "token" in r.json()["error"] and r.headers["www-authenticate"] == "Bearer"
        assert secured.post("/api/studies", json=grid_spec("g"), headers=headers).status_code == 401
    # Auth is checked before the body is read: no hint whether the JSON parsed.
    r = secured.post("/api/studies", content=b"{broken", headers={"content-type": "application/json"})
    assert r.status_code == 401
    assert secured.post("/api/studies", json=grid_spec("g"), headers=bearer).status_code == 201
    r = secured.get("/api/studies", headers=bearer)
    assert r.status_code == 200 and [s["name"] for s in r.json()] == ["g"]
    ask = secured.post("/api/studies/g/ask", headers=bearer)
    assert ask.status_code == 200
    assert secured.post("/api/studies/g/tell", json={"trial": ask.json()["trial"], "value": 1.0}).status_code == 401


def test_dashboard_login_by_query_token_sets_cookie(secured):
    assert secured.get("/").status_code == 401
    assert secured.get("/studies/g", params={"token": "wrong"}).status_code == 401
    r = secured.get("/studies/x?token=" + TOKEN + "&keep=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/studies/x?keep=1"
    cookie = r.headers["set-cookie"]
    assert "hpsearch_token=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    secured.cookies.set("hpsearch_token", TOKEN)
    assert secured.get("/").status_code == 200
    assert secured.get("/api/studies").status_code == 401  # the cookie never opens the API
    secured.cookies.clear()
    assert secured.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert secured.get("/static/plotly.min.js").status_code == 200  # library code, public
    assert secured.get("/favicon.ico").status_code == 204  # empty, so the login page logs no error


def test_login_redirect_stays_on_this_site():
    # A raw ASGI scope: HTTP clients would read "//evil.example" as a host.
    auth = TokenAuthMiddleware(app=None, token=TOKEN)
    scope = {"type": "http", "path": "//evil.example/x", "query_string": f"token={TOKEN}".encode()}
    response = auth._dashboard_login(HTTPConnection(scope))
    assert response.status_code == 303 and response.headers["location"] == "/evil.example/x"


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"hpsearch_token={TOKEN}", True),
        (f"other=1; junk; hpsearch_token={TOKEN}", True),  # Starlette skips a malformed pair, not the header
        (f'hpsearch_token="{TOKEN}"', True),
        ("hpsearch_token=wrong", False),
        (f"hpsearch_token_x={TOKEN}", False),
        ("", False),
    ],
)
def test_dashboard_cookie_is_read_by_starlette(header, ok):
    """Headers, cookies and the query string are Starlette's parsing (HTTPConnection), not ours."""
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])

    async def send(message):
        seen.append(message.get("status"))

    scope = {"type": "http", "path": "/", "query_string": b"", "headers": [(b"cookie", header.encode())]}
    # A thread of its own: an earlier test's Playwright (sync API) may leave this thread's event loop marked running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, TokenAuthMiddleware(app=app, token=TOKEN)(scope, None, send)).result()
    assert (seen == ["/"]) is ok


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_check_bind():
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "t")
    with pytest.raises(UserError, match="non-loopback"):
        check_bind("0.0.0.0", None)
    with pytest.raises(UserError, match="empty"):
        check_bind("127.0.0.1", "  ")


def test_serve_refuses_non_loopback_without_token_exit_2(storage_url, monkeypatch, capsys):
    monkeypatch.delenv("HPSEARCH_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8765", "--storage", storage_url]) == 2
    err = capsys.readouterr().err
    assert "non-loopback" in err and "--token" in err and "Traceback" not in err
    assert main(["serve", "--port", "70000", "--storage", storage_url]) == 2


def test_serve_on_a_busy_port_says_so_once_and_exits_1(storage_url, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--storage", storage_url]) == 1
    out, err = capsys.readouterr()
    assert "serving" not in out  # no banner for a server that never served
    (line,) = err.strip().splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line


def test_serve_refuses_a_non_positive_trial_timeout_exit_2(storage_url, capsys):
    assert main(["serve", "--trial-timeout", "0", "--storage", storage_url]) == 2
    err = capsys.readouterr().err
    assert "--trial-timeout" in err and "Traceback" not in err


def test_served_hosts():
    from hpsearch.cli._serve_cmd import served_hosts

    assert served_hosts("127.0.0.1", None, ()) == ["localhost", "127.0.0.1", "[::1]"]
    assert served_hosts("127.5.6.7", None, ("localhost",))[-1] == "127.5.6.7"
    assert served_hosts("::1", None, ()) == ["localhost", "127.0.0.1", "[::1]"]
    assert served_hosts("192.168.1.10", "t", ())[-1] == "192.168.1.10"
    assert served_hosts("0.0.0.0", "t", ("gpu1.lab", "10.0.0.7", "fe80::1"))[-3:] == [
        "gpu1.lab",
        "10.0.0.7",
        "[fe80::1]",
    ]
    assert served_hosts("::", "t", ("*",))[-1] == "*"
    with pytest.raises(UserError, match="--allowed-host NAME"):
        served_hosts("0.0.0.0", "t", ())  # every interface: which names? say it
    with pytest.raises(UserError, match="token"):
        served_hosts("127.0.0.1", None, ("hpsearch.example.org",))
    with pytest.raises(UserError, match="token"):
        served_hosts("127.0.0.1", None, ("*",))


def test_serve_refuses_unclear_or_unsafe_host_names_exit_2(storage_url, monkeypatch, capsys):
    monkeypatch.delenv("HPSEARCH_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--token", "t", "--storage", storage_url]) == 2
    assert "--allowed-host" in capsys.readouterr().err
    assert main(["serve", "--allowed-host", "evil.example.com", "--storage", storage_url]) == 2
    err = capsys.readouterr().err
    assert "without a token" in err and "Traceback" not in err
    assert main(["serve", "--token", "t", "--allowed-host", "a*.example.org", "--storage", storage_url]) == 2
    assert "wildcard" in capsys.readouterr().err
    assert main(["serve", "--token", "t", "--allowed-host", "hpsearch.example.org:443", "--storage", storage_url]) == 2
    assert "without a port" in capsys.readouterr().err
