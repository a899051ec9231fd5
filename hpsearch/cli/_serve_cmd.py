"""``hpsearch serve``: run the dashboard and the ask/tell API on uvicorn.

Binds 127.0.0.1 by default. Anything else (another interface, 0.0.0.0, a
hostname) exposes the studies and the ability to create and finish trials to
the network, so it is refused unless a token is set (``--token`` or env
HPSEARCH_TOKEN); with a token every API call needs ``Authorization: Bearer T``.

The server answers only to the Host names it knows (DNS-rebinding protection,
see hpsearch.server._security): the loopback names, the bind address, and the
names given with ``--allowed-host`` (a token is required for those). A bind to
every interface (0.0.0.0, ::) says nothing about the names clients use, so it
needs at least one ``--allowed-host`` (``'*'``: any name, said explicitly).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from hpsearch.cli._common import storage_option
from hpsearch.errors import UserError

_EVERY_INTERFACE = ("0.0.0.0", "::", "[::]")


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (hpsearch.server._security, imported when used:
    it loads Starlette, which other commands do not need)."""
    from hpsearch.server._security import is_loopback

    return is_loopback(host)


def check_bind(host: str, token: str | None) -> None:
    """Refuse (UserError, exit 2) to expose the service without a token."""
    if not host.strip():
        raise UserError("--host: expected an address such as 127.0.0.1, got an empty string")
    if token is not None and not token.strip():
        raise UserError("--token (or HPSEARCH_TOKEN): the token must not be empty")
    if not is_loopback(host) and not token:
        raise UserError(
            f"--host {host}: refusing to serve on a non-loopback address without a token; "
            "pass --token T (or set HPSEARCH_TOKEN), or bind 127.0.0.1"
        )


def check_port_free(host: str, port: int) -> None:
    """Fail with one line (exit 1) when ``host:port`` cannot be bound, before saying "serving on".

    Binding a probe socket the way uvicorn binds (SO_REUSEADDR, so a port in
    TIME_WAIT counts as free) catches the common case, another server on the
    port; uvicorn would otherwise print its own error after our banner and exit 3.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise click.ClickException(
                f"hpsearch serve: cannot listen on {host}:{port}: {reason} (is another server using it? "
                "choose a free port with --port)"
            ) from None


def served_hosts(host: str, token: str | None, extra: Sequence[str]) -> list[str]:
    """The Host names to answer to (see module docstring); UserError when they are not clear or not safe."""
    from hpsearch.server._security import ANY_HOST, allowed_hosts

    names = [name.strip() for name in extra]
    if any(not name for name in names):
        raise UserError("--allowed-host: expected a host name such as hpsearch.example.org, got an empty string")
    exposed = [name for name in names if not is_loopback(name)]
    if exposed and not token:
        raise UserError(
            f"--allowed-host {exposed[0]}: without a token the server answers only to loopback names "
            "(otherwise any web page could reach it under that name); pass --token T (or set HPSEARCH_TOKEN)"
        )
    if host.strip() in _EVERY_INTERFACE and not names:
        raise UserError(
            f"--host {host.strip()}: serving every interface, so say which names clients use to reach this "
            "server: --allowed-host NAME (repeatable; e.g. the machine's name or address), or "
            f"--allowed-host '{ANY_HOST}' to answer to any name"
        )
    return allowed_hosts(host, names)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option(
    "--token",
    envvar="HPSEARCH_TOKEN",
    default=None,
    show_envvar=True,
    help="Require 'Authorization: Bearer TOKEN' on every API call (and on the dashboard).",
)
@click.option(
    "--allowed-host",
    "allowed",
    multiple=True,
    metavar="NAME",
    help="Also answer requests for this Host name (repeatable; '*' any name, '*.example.org' its "
    "subdomains). Needs a token. Default: only localhost, 127.0.0.1, [::1] and the --host address.",
)
@click.option(
    "--trial-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Fail a trial whose client sends no report or tell for this long, and hand its configuration "
    "out again (default: 3600, one hour; reports and heartbeats renew it).",
)
@storage_option
def serve(
    host: str, port: int, token: str | None, allowed: tuple[str, ...], trial_timeout: float | None, storage: str | None
) -> None:
    """Dashboard and ask/tell HTTP API over the study database.

    \b
    Examples:
      hpsearch serve                          # http://127.0.0.1:8000/
      hpsearch serve --trial-timeout 600      # reclaim trials of clients silent for 10 minutes
      hpsearch serve --host 0.0.0.0 --token "$(openssl rand -hex 16)" --allowed-host gpu1.lab.example
      hpsearch serve --token T --allowed-host hpsearch.example.org   # behind a TLS reverse proxy

    A port another program holds is one error line and exit code 1.
    """
    from hpsearch.server import create_app
    from hpsearch.server._connections import run_server
    from hpsearch.storage import resolve_storage_url

    check_bind(host, token)
    hosts = served_hosts(host, token, allowed)
    url = resolve_storage_url(storage)
    app = create_app(url, token or None, trial_timeout=trial_timeout, allowed_hosts=hosts)
    app.state.hpsearch.storage()  # open now: a bad URL is exit 2 before we bind
    check_port_free(host, port)
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"hpsearch: serving {app.state.hpsearch.storage_label} on http://{shown}:{port}/"
        + (" (token required)" if token else "")
    )
    run_server(app, host, port)  # with read deadlines and a cap on open connections (slow clients)
