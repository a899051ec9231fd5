"""Caps on request bodies, so one hostile POST cannot exhaust the server's memory or stack.

Study specs and tells are a few kilobytes; anything beyond MAX_BODY_BYTES is
refused with 413: at once when the client announces a larger Content-Length,
else as soon as the streamed bytes pass the limit. A JSON body nested deeper
than MAX_JSON_DEPTH (a spec nests 4 deep) is refused with 400 before it is
parsed: parsing, validating or copying it would recurse once per level.
"""

from __future__ import annotations

import re
from itertools import accumulate

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string, escapes included: brackets inside do not count
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """How deep a JSON text nests arrays and objects, without parsing it (linear time, no recursion)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than ``limit`` bytes with ``413 {"error"}``."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        content_type = headers.get(b"content-type", b"").lower()
        is_json = not content_type or b"json" in content_type  # FastAPI reads a body without a type as JSON
        if length is not None and not is_json:
            await self.app(scope, receive, send)  # not JSON: no depth to check, nothing to buffer
            return
        # Buffer the body up to the limit (a streamed one may be larger than announced),
        # check a JSON body's depth, then replay it to the app.
        # (Raising mid-read would not help: FastAPI turns any read error into a 400.)
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if is_json and body and json_depth(body) > MAX_JSON_DEPTH:
            response = JSONResponse(
                {"error": f"request body nested deeper than {MAX_JSON_DEPTH} levels"}, status_code=400
            )
            await response(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"error": f"request body larger than {self.limit} bytes"}, status_code=413)
        await response(scope, receive, send)
