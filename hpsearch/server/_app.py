"""The FastAPI application: the JSON API, the dashboard, auth, Host/Origin checks and error shapes.

:func:`create_app` builds a fresh app per call (no module-level state); the
storage URL and token live on ``app.state.hpsearch``. Kept in memory: the
SQLAlchemy engine of the storage (one connection pool per process) and Optuna's
cache of *finished* trials (which never change); every write goes straight to
the database, so a restarted server carries on where the old one stopped.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any

import jinja2
from fastapi import FastAPI, Response

from hpsearch._format import fmt_number
from hpsearch.errors import UserError
from hpsearch.server import _api, _dashboard
from hpsearch.server import _export as _export_routes
from hpsearch.server._auth import OPENAPI_PATH, TokenAuthMiddleware
from hpsearch.server._errors import install_error_handlers
from hpsearch.server._limits import BodySizeLimitMiddleware
from hpsearch.server._security import (
    LOOPBACK_HOSTS,
    HostAllowlistMiddleware,
    OriginCheckMiddleware,
    SecurityHeadersMiddleware,
    check_host_patterns,
    csp_nonce,
    is_loopback,
)


def _table_number(value: Any, digits: int = 4) -> str:
    """Numbers for the dashboard's tables (hpsearch._format); None and NaN as blank."""
    return fmt_number(value, digits, nan="")


class ServerContext:
    """What every request needs: the storage (opened once, lazily) and the templates."""

    def __init__(self, storage_url: str, token: str | None, trial_timeout: float | None = None) -> None:
        self.storage_url = storage_url
        self.token = token
        self.trial_timeout = (
            trial_timeout  # lease of API trials in seconds; None: the default (_access.DEFAULT_TRIAL_LEASE)
        )
        self._lock = threading.Lock()
        self._storage: Any = None
        self._caches: Any = None
        self._plotly_js: str | None = None
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("hpsearch.server", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        env.filters["num"] = _table_number
        env.filters["urlpath"] = _dashboard.urlpath
        env.globals["csp_nonce"] = csp_nonce  # inline scripts carry the response's nonce (see _security)
        self.templates = env

    @cached_property
    def storage_label(self) -> str:
        """The storage URL without its password, for the page header."""
        from hpsearch.storage import display_url

        return display_url(self.storage_url)

    def storage(self) -> Any:
        """The Optuna RDBStorage, opened on first use (the engine is shared by all requests)."""
        with self._lock:
            if self._storage is None:
                from hpsearch.storage import open_storage

                # No heartbeats: API trials are driven by remote clients, not by
                # an optimize loop in this process.
                self._storage = open_storage(self.storage_url, heartbeat=False)
            return self._storage

    def close(self) -> None:
        """At shutdown: a SQLite database's WAL emptied into its file (the .db alone is the study)."""
        with self._lock:
            if self._storage is not None:
                from hpsearch.storage import checkpoint

                checkpoint(self._storage)

    def study_storage(self, name: str) -> Any:
        """The storage to load study ``name`` with: Optuna's trial cache, kept across requests.

        See :mod:`hpsearch.server._trial_cache` for why and how it stays correct.
        """
        storage = self.storage()
        with self._lock:
            if self._caches is None:
                from hpsearch.server._trial_cache import TrialCaches

                self._caches = TrialCaches(storage)
            caches = self._caches
        return caches.for_study(name)

    def plotly_js(self) -> str:
        """The plotly.js bundle of the installed plotly package (read once)."""
        with self._lock:
            if self._plotly_js is None:
                from plotly.offline import get_plotlyjs

                self._plotly_js = get_plotlyjs()
            return self._plotly_js


def create_app(
    storage_url: str,
    token: str | None = None,
    *,
    trial_timeout: float | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The hpsearch service over ``storage_url``; with ``token``, every request needs it.

    ``trial_timeout`` (seconds): a trial whose client sends no report or tell
    for that long is failed and its configuration handed out again (None: one hour).

    ``allowed_hosts``: the names the server answers to in the Host header
    (default: the loopback names ``localhost``, ``127.0.0.1``, ``[::1]``;
    ``"*"``: any, ``"*.example.org"``: subdomains). Names other than loopback
    need a token. See :mod:`hpsearch.server._security`.

    Opens nothing yet (the storage is opened by the first request), so creating
    the app is cheap; call :meth:`ServerContext.storage` to fail early on a bad URL.
    """
    if token is not None and not token:
        raise UserError("--token: the token must not be empty")
    if trial_timeout is not None and not trial_timeout > 0:
        raise UserError(f"--trial-timeout: expected a number of seconds > 0, got {trial_timeout!r}")
    hosts = list(LOOPBACK_HOSTS if allowed_hosts is None else allowed_hosts)
    try:
        check_host_patterns(hosts)
    except ValueError as exc:
        raise UserError(f"--allowed-host: {exc}") from None
    exposed = [h for h in hosts if not is_loopback(h)]
    if exposed and not token:
        raise UserError(
            f"--allowed-host {exposed[0]}: only loopback names are served without a token "
            "(any web page could otherwise reach the API under that name); pass --token T "
            "(or set HPSEARCH_TOKEN)"
        )
    # The OpenAPI document (for generated clients) at /openapi.json, behind the token when one is
    # set (hpsearch.server._auth); no interactive docs pages (they would load scripts from a CDN).
    context = ServerContext(storage_url, token, trial_timeout)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()

    app = FastAPI(title="hpsearch", docs_url=None, redoc_url=None, openapi_url=OPENAPI_PATH, lifespan=lifespan)
    app.state.hpsearch = context
    install_error_handlers(app)
    app.include_router(_api.router)
    app.include_router(_export_routes.router)
    app.include_router(_dashboard.router)
    # Browsers ask every site for /favicon.ico: an empty answer, not a 404 logged in the console.
    app.add_api_route("/favicon.ico", lambda: Response(status_code=204), methods=["GET"], include_in_schema=False)
    # Added last = runs first. Outermost: headers on every answer (refusals too), then
    # Host and Origin (a foreign page learns nothing, not even whether a token is set),
    # then the token (before any body is read), then the body size limit.
    app.add_middleware(BodySizeLimitMiddleware)
    if token:
        app.add_middleware(TokenAuthMiddleware, token=token)
    app.add_middleware(OriginCheckMiddleware, hosts=hosts)
    app.add_middleware(HostAllowlistMiddleware, hosts=hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
