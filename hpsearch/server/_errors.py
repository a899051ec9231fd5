"""Every error the service answers is JSON ``{"error": "..."}`` with a 4xx code.

Why one module: FastAPI's defaults answer validation problems with a nested
``{"detail": [...]}`` shape and unexpected exceptions with a bare 500 page.
Clients written in any language should only ever have to read one key, and a
mistake in a request must never surface as a 500 or a traceback.
"""

from __future__ import annotations

import logging

import optuna
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hpsearch.errors import StudyNotFound, UserError

_log = logging.getLogger("hpsearch.server")


class ApiError(UserError):
    """A bad request the server itself detects, carrying its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _status_for(exc: UserError) -> int:
    """Map library errors onto HTTP codes by meaning, most specific first."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, StudyNotFound):
        return 404
    try:
        from hpsearch.search import StudyComplete, TrialAlreadyFinished, TrialNotFound
    except ImportError:  # search not importable: only the generic mapping below
        pass
    else:
        if isinstance(exc, TrialNotFound):
            return 404
        if isinstance(exc, (TrialAlreadyFinished, StudyComplete)):  # incl. SlotsBusy
            return 409
    return 422


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The single error shape of the API."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> tuple[int, str]:
    """One readable line from pydantic's error list; 400 for unparsable JSON."""
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return 400, "request body is not valid JSON"
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return 422, "; ".join(parts) or "invalid request"


def allowed_methods(request: Request) -> str:
    """The methods some route accepts on the request's path, for a 405's ``Allow`` header.

    Starlette names the methods of the first route whose path matches, so a
    path served by a GET route and a POST route (``/api/studies``) answered
    ``Allow: GET``. Here each method is tried against every route.
    """
    from starlette.routing import Match

    routes = request.app.router.routes
    allowed = [
        method
        for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every failure the ``{"error"}`` shape."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _describe_validation(exc)
        return error_response(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            message = f"method {request.method} not allowed on {request.url.path}"
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return error_response(exc.status_code, message, headers)

    @app.exception_handler(UserError)
    async def _user(request: Request, exc: UserError) -> JSONResponse:
        return error_response(_status_for(exc), str(exc))

    @app.exception_handler(optuna.exceptions.DuplicatedStudyError)
    async def _dup(request: Request, exc: Exception) -> JSONResponse:
        return error_response(409, str(exc) or "study already exists")

    @app.exception_handler(optuna.exceptions.UpdateFinishedTrialError)
    async def _finished(request: Request, exc: Exception) -> JSONResponse:
        return error_response(409, str(exc) or "trial already finished")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        from hpsearch.storage import first_line, is_storage_error

        if is_storage_error(exc):
            # The database, not the request: a client (whose asks and tells are safe to repeat)
            # should try again shortly, as hpsearch's own workers do.
            _log.warning("database error on %s %s: %s", request.method, request.url.path, first_line(exc))
            return error_response(503, "the database is unavailable right now; try again shortly", {"Retry-After": "5"})
        # A bug or an environment problem: log it here, never show the client a traceback.
        _log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal server error (see the server log)")
