"""Slow and idle clients cannot take the server down: read deadlines and a cap on open connections.

uvicorn closes a keep-alive connection that sends nothing for a few seconds,
but a connection that trickles a byte now and then (slowloris), or never
finishes its first request, stays open for ever: 21,000 of them exhausted the
server's file descriptors, and probes timed out. So each connection gets:

* a **header deadline** (HEADER_TIMEOUT): from when it opens, or from the end
  of its previous response, its next request's headers must have arrived in
  full; trickling bytes does not extend it;
* a **body deadline** (BODY_TIMEOUT): from the end of the headers, the whole
  body must have arrived;
* and the server holds at most ``max_connections`` open: when one more
  arrives, the connection that has been *waiting* longest (no request in
  progress: idle, or still sending headers) is closed to make room, so a new
  client (a probe, a worker's ask) always gets in. Requests being served are
  never cut off by this.

``run_server`` is how ``hpsearch serve`` runs the app on uvicorn with these
guards (h11 protocol, ``timeout_keep_alive`` for plain idle connections).
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0  # seconds for a request's headers to arrive in full
BODY_TIMEOUT = 30.0  # seconds for its body to arrive, once the headers have
KEEP_ALIVE_TIMEOUT = 5.0  # seconds an idle keep-alive connection is kept (uvicorn closes it)
MAX_CONNECTIONS = 4096  # open connections at most (less when the process may open fewer files)


def connection_cap(requested: int | None = None) -> int:
    """How many connections to hold open: ``requested`` (default MAX_CONNECTIONS), kept below the
    process's open-file limit so that accept() never fails for lack of descriptors."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = soft - 256 if soft != resource.RLIM_INFINITY else MAX_CONNECTIONS
    return max(16, min(requested or MAX_CONNECTIONS, room))


class ConnectionGuard:
    """The server's open connections, the ones waiting for a request in arrival order, and the limits."""

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self.max_connections = connection_cap(max_connections)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.open: set[Any] = set()
        self.waiting: dict[Any, None] = {}  # insertion-ordered: the oldest waiting first
        self.closed_slow = 0  # connections closed for missing a deadline (for tests and logs)
        self.evicted = 0  # waiting connections closed to make room

    def protocol(self) -> type[H11Protocol]:
        """uvicorn's h11 protocol class, bound to this guard (pass as ``http=``)."""
        guard = self

        class GuardedH11Protocol(_GuardedH11Protocol):
            _guard = guard

        return GuardedH11Protocol

    def make_room(self) -> None:
        while len(self.open) > self.max_connections and self.waiting:
            oldest = next(iter(self.waiting))
            self.evicted += 1
            oldest.close_now()


class _GuardedH11Protocol(H11Protocol):
    _guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._seen_cycle: Any = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard.open.add(self)
        self._wait_for_request()
        self._guard.make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.open.discard(self)
        self._guard.waiting.pop(self, None)
        self._set_deadline(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle
        if cycle is None or self.transport.is_closing():
            return
        if cycle is not self._seen_cycle:  # a request's headers arrived: it is in progress now
            self._seen_cycle = cycle
            self._guard.waiting.pop(self, None)
            self._set_deadline(self._guard.body_timeout if cycle.more_body else None)
        elif not cycle.more_body and self._deadline is not None and self not in self._guard.waiting:
            self._set_deadline(None)  # the body is complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait_for_request()

    def _wait_for_request(self) -> None:
        self._guard.waiting.pop(self, None)
        self._guard.waiting[self] = None
        self._set_deadline(self._guard.header_timeout)

    def _set_deadline(self, seconds: float | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if seconds is not None:
            self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _too_slow(self) -> None:
        self._deadline = None
        self._guard.closed_slow += 1
        self.close_now()

    def close_now(self) -> None:
        """Close the connection (a request in progress is told its client disconnected)."""
        self._guard.waiting.pop(self, None)
        self._guard.open.discard(self)
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_settings(guard: ConnectionGuard) -> dict[str, Any]:
    """The uvicorn.Config / uvicorn.run keyword arguments that install ``guard``."""
    return {"http": guard.protocol(), "timeout_keep_alive": KEEP_ALIVE_TIMEOUT, "backlog": 4096}


def run_server(app: Any, host: str, port: int, *, guard: ConnectionGuard | None = None) -> None:
    """Serve ``app`` on uvicorn with the read deadlines and the connection cap (blocks until stopped)."""
    import uvicorn

    uvicorn.run(
        app, host=host, port=port, log_level="warning", access_log=False, **uvicorn_settings(guard or ConnectionGuard())
    )
