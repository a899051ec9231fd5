"""Bearer-token protection for the whole service.

Why a middleware rather than a FastAPI dependency: it runs before the request
body is read, so a client without the token learns nothing (not even whether
its JSON parsed), and no route can forget to declare it.

* ``/api/...`` needs ``Authorization: Bearer T`` (scripts; no cookies, so no
  cross-site request can ride on a browser session).
* Dashboard pages accept the same header, or a cookie that a first visit to
  ``/?token=T`` sets (HttpOnly, SameSite=Strict), so people can use a browser.
* ``/static/...`` (the bundled plotly.js) is public library code, and
  ``/favicon.ico`` is empty.
* The Host and Origin checks (:mod:`hpsearch.server._security`) run before
  this one: a request for a name the server does not answer to is refused
  before its token is looked at.

Tokens are compared with :func:`hmac.compare_digest` so timing reveals nothing.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode

from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE_NAME = "hpsearch_token"


OPENAPI_PATH = "/openapi.json"  # the API's description: behind the token like the API itself


def _same(given: str | None, token: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def _bearer(conn: HTTPConnection) -> str | None:
    scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


class TokenAuthMiddleware:
    """Refuse every request that does not carry ``token`` (see module docstring)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)  # Starlette's own header, cookie and query parsing
        path: str = scope.get("path", "")
        if path.startswith("/static/") or path == "/favicon.ico" or _same(_bearer(conn), self.token):
            await self.app(scope, receive, send)
            return
        if path == "/api" or path.startswith("/api/") or path == OPENAPI_PATH:
            response: Any = JSONResponse(
                {"error": "missing or wrong bearer token (send 'Authorization: Bearer <token>')"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif _same(conn.cookies.get(COOKIE_NAME), self.token):
            await self.app(scope, receive, send)
            return
        else:
            response = self._dashboard_login(conn)
        await response(scope, receive, send)

    def _dashboard_login(self, conn: HTTPConnection) -> Any:
        """``?token=T`` sets the cookie and redirects to the same page without it."""
        scope = conn.scope
        given = conn.query_params.getlist("token")
        if given and _same(given[-1], self.token):
            rest = urlencode([(k, v) for k, v in conn.query_params.multi_items() if k != "token"])
            # One leading slash only: "//host" would redirect to another site.
            path = "/" + scope.get("path", "/").lstrip("/")
            target = scope.get("root_path", "") + path + (f"?{rest}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE_NAME, self.token, httponly=True, samesite="strict", path="/")
            return response
        return HTMLResponse(
            "<!doctype html><title>hpsearch: token needed</title>"
            "<p>This hpsearch server needs its token: open this page once as "
            "<code>?token=YOUR_TOKEN</code>.</p>",
            status_code=401,
        )
