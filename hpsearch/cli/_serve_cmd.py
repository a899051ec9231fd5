"""``hpsearch serve``: run the dashboard and the ask/tell API on uvicorn.

Binds 127.0.0.1 by default. Anything else (another interface, 0.0.0.0, a
hostname) exposes the studies and the ability to create and finish trials to
the network, so it is refused unless a token is set (``--token`` or env
HPSEARCH_TOKEN); with a token every API call needs ``Authorization: Bearer T``.
"""

from __future__ import annotations

import ipaddress

import click

from hpsearch.cli._common import storage_option
from hpsearch.errors import UserError


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; hostnames other than localhost count as exposed."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--token", envvar="HPSEARCH_TOKEN", default=None, show_envvar=True,
              help="Require 'Authorization: Bearer TOKEN' on every API call (and on the dashboard).")
@click.option("--trial-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Fail a trial whose client sends no report or tell for this long, and hand its configuration "
                   "out again (default: trials wait for their client forever).")
@storage_option
def serve(host: str, port: int, token: str | None, trial_timeout: float | None, storage: str | None) -> None:
    """Dashboard and ask/tell HTTP API over the study database.

    \b
    Examples:
      hpsearch serve                          # http://127.0.0.1:8000/
      hpsearch serve --trial-timeout 600      # reclaim trials of clients silent for 10 minutes
      hpsearch serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"
    """
    import uvicorn

    from hpsearch.server import create_app
    from hpsearch.storage import resolve_storage_url

    check_bind(host, token)
    url = resolve_storage_url(storage)
    app = create_app(url, token or None, trial_timeout=trial_timeout)
    app.state.hpsearch.storage()  # open now: a bad URL is exit 2 before we bind
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"hpsearch: serving {app.state.hpsearch.storage_label} on http://{shown}:{port}/"
               + (" (token required)" if token else ""))
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
