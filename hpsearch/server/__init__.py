"""The HTTP service: a live dashboard and an ask/tell JSON API over the study storage.

``create_app(storage_url, token)`` builds the FastAPI app; ``hpsearch serve``
runs it on uvicorn. Routes: docs/service.md and DESIGN.md ("HTTP service").
"""

from __future__ import annotations

from hpsearch.server._app import create_app

__all__ = ["create_app"]
