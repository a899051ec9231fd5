"""What keeps web pages and other machines from using the service: Host and Origin checks, headers.

Three ASGI middlewares, outermost first (see ``create_app``):

* :class:`SecurityHeadersMiddleware` puts ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer`` and a Content-Security-Policy on every
  answer. HTML pages get a policy that runs only this server's scripts
  (``/static/plotly.min.js`` and inline scripts carrying this response's
  nonce; the full reports may also eval, for plotly's WebGL figures), fetches
  only from this server and cannot be framed; every other answer gets
  ``default-src 'none'``.
* :class:`HostAllowlistMiddleware` answers only requests whose ``Host`` header
  names this server: the loopback names (``localhost``, ``127.0.0.1``,
  ``[::1]``, any port) unless the operator allowed more. This is what defeats
  DNS rebinding: a web page that points its own domain at 127.0.0.1 still sends
  ``Host: its-domain``. The matching is Starlette's ``TrustedHostMiddleware``;
  only the refusal is ours, so it can say why (JSON under ``/api``).
* :class:`OriginCheckMiddleware` refuses a state-changing request (any method
  but GET, HEAD, OPTIONS) whose ``Origin`` header names another site: a page
  elsewhere cannot create studies or tell values through the user's browser.
  Requests without ``Origin`` (curl, scripts, SDKs) are not from a browser
  page and pass. The Origin's host must be this server's (the Host the request
  was sent to, or another allowed host); its port and scheme are not compared,
  so a TLS proxy in front (``https://name`` to ``http://127.0.0.1:8000``)
  needs no extra setting.
"""

from __future__ import annotations

import contextvars
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
ANY_HOST = "*"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The policy of HTML pages. plotly.js sets inline styles on what it draws, so
# styles may be inline; scripts may not (but for this response's nonce).
_HTML_POLICY = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'{eval}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The full reports draw WebGL figures (parallel coordinates), and plotly.js's WebGL
# layer (regl) compiles its drawing code with Function(): those pages may eval what
# their own scripts build. They still run no script but their own (nonce) and fetch nothing.
_EVAL_PATHS = ("/reports/",)

_nonce: contextvars.ContextVar[str] = contextvars.ContextVar("hpsearch_csp_nonce", default="")


def csp_nonce() -> str:
    """The nonce of the response being rendered (templates: ``<script nonce="{{ csp_nonce() }}">``)."""
    return _nonce.get()


def nonce_scripts(html: str, nonce: str | None = None) -> str:
    """``html`` with every bare ``<script>`` tag carrying the nonce.

    For pages that are also standalone files (the full reports of
    ``hpsearch report``), whose template cannot know a response's nonce. Text
    from the database cannot add a ``<script>`` tag (it is escaped), so only the
    page's own scripts match; event-handler attributes stay blocked.
    """
    nonce = csp_nonce() if nonce is None else nonce
    return html.replace("<script>", f'<script nonce="{nonce}">') if nonce else html


def _is_api(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return path == "/api" or path.startswith("/api/")


def _refusal(scope: Scope, status: int, message: str) -> Any:
    """JSON ``{"error"}`` under /api (and for writes), a short text otherwise."""
    if _is_api(scope) or scope.get("method", "GET") not in SAFE_METHODS:
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(f"hpsearch: {message}\n", status_code=status)


class SecurityHeadersMiddleware:
    """nosniff, no-referrer, no framing and a Content-Security-Policy on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        token = _nonce.set(nonce)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                evals = " 'unsafe-eval'" if scope.get("path", "").startswith(_EVAL_PATHS) else ""
                headers.setdefault(
                    "Content-Security-Policy", _HTML_POLICY.format(nonce=nonce, eval=evals) if html else _OTHER_POLICY
                )
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _nonce.reset(token)


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; hostnames other than localhost count as exposed."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind: str | None = None, extra: Iterable[str] = ()) -> list[str]:
    """The Host names the service answers to: loopback names, the bind address if it names
    a host (not 0.0.0.0 / ::), and ``extra`` (``"*"``: any)."""
    hosts = list(LOOPBACK_HOSTS)
    if bind and bind.strip("[]") not in ("0.0.0.0", "::", ""):
        name = bind.strip().lower()
        hosts.append(f"[{name.strip('[]')}]" if ":" in name else name)
    for host in extra:
        name = host.strip().lower()
        if _is_ipv6(name):  # Host headers bracket IPv6 addresses
            name = f"[{name}]"
        hosts.append(name)
    return list(dict.fromkeys(hosts))


def _is_ipv6(name: str) -> bool:
    try:
        ipaddress.IPv6Address(name)
    except ValueError:
        return False
    return True


def check_host_patterns(hosts: Sequence[str]) -> None:
    """ValueError for a pattern Starlette would reject (``*`` only alone or as ``*.domain``)."""
    for host in hosts:
        if not host or "/" in host or " " in host:
            raise ValueError(f"expected a host name such as hpsearch.example.org, got {host!r}")
        if ":" in host and not (host.startswith("[") and host.endswith("]") and _is_ipv6(host[1:-1])):
            raise ValueError(f"expected a host name without a port (ports are not compared), got {host!r}")
        if "*" in host[1:] or (host.startswith("*") and host != ANY_HOST and not host.startswith("*.")):
            raise ValueError(f"a wildcard must be '*' (any host) or '*.example.org', got {host!r}")


async def _accept(scope: Scope, receive: Receive, send: Send) -> None:
    scope["hpsearch.host_ok"] = True


async def _nothing() -> Message:  # pragma: no cover - the probe never reads the body
    return {"type": "http.disconnect"}


async def _discard(message: Message) -> None:
    pass


class _HostMatcher:
    """Whether a Host header value is allowed, decided by Starlette's TrustedHostMiddleware."""

    def __init__(self, hosts: Sequence[str]) -> None:
        check_host_patterns(hosts)
        self.hosts = list(hosts)
        self.any = ANY_HOST in hosts
        self._probe = TrustedHostMiddleware(_accept, allowed_hosts=self.hosts, www_redirect=False)

    async def allows(self, host_header: str | None) -> bool:
        if host_header is None:
            return False
        scope = {"type": "http", "headers": [(b"host", host_header.encode("latin-1"))]}
        await self._probe(scope, _nothing, _discard)
        return bool(scope.get("hpsearch.host_ok"))


class HostAllowlistMiddleware:
    """Refuse requests whose Host header is not one of ``hosts`` (403 saying why)."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str]) -> None:
        self.app = app
        self.matcher = _HostMatcher(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if self.matcher.any or await self.matcher.allows(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # (the service has none; refuse the handshake all the same)
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = "no Host header" if host is None else f"Host {host[:100]!r}"
        message = (
            f"{shown} is not a name of this server (it answers to {', '.join(self.matcher.hosts)}); "
            "requests for other names are refused so that a web page cannot reach this server by "
            "pointing its own domain at this machine. To serve other names, start the server with "
            "a token and --allowed-host NAME."
        )
        await _refusal(scope, 403, message)(scope, receive, send)


def _hostname(netloc: str) -> str | None:
    """The host of ``netloc`` (``name``, ``name:port``, ``[v6]:port``), lowercased; None if unparsable."""
    try:
        return urlsplit("//" + netloc).hostname
    except ValueError:
        return None


class OriginCheckMiddleware:
    """Refuse (403 JSON) a state-changing request whose Origin is not this server."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str]) -> None:
        self.app = app
        self.matcher = _HostMatcher(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or await self._own(origin, headers.get("host")):
            await self.app(scope, receive, send)
            return
        await JSONResponse(
            {
                "error": f"Origin {origin[:100]!r} is not this server: a page of another site cannot "
                "change studies through your browser (requests without an Origin header, "
                "from scripts or curl, are accepted)"
            },
            status_code=403,
        )(scope, receive, send)

    async def _own(self, origin: str, host_header: str | None) -> bool:
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # "null" (sandboxed frames, file: pages), extensions, garbage
        own = _hostname(host_header) if host_header else None
        if own is not None and parts.hostname == own:
            return True
        if self.matcher.any:  # any Host is served: only the one this request was sent to is "own"
            return False
        netloc = parts.netloc.rpartition("@")[2]
        return await self.matcher.allows(netloc)
