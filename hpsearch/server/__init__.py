"""The HTTP service: a live dashboard and an ask/tell JSON API over the study storage.

``create_app(storage_url, token)`` builds the FastAPI app; ``hpsearch serve``
runs it on uvicorn. Routes: docs/service.md.

``create_app`` is imported on first use, so light helpers of this package
(``hpsearch.server._trust``, ``_security``) can be imported by the CLI and the
workers without loading FastAPI and the dashboard.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hpsearch.server._app import create_app

        return create_app
    raise AttributeError(f"module 'hpsearch.server' has no attribute {name!r}")
