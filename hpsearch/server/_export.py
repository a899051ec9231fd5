"""Downloads of every trial of a study: the same CSV / JSON as ``hpsearch export`` (hpsearch.export).

``GET /exports/studies/{name}.csv`` and ``GET /exports/studies/{name}.json``.
Outside ``/api/`` on purpose: the dashboard links here, and a browser that
signed in with ``/?token=T`` sends the cookie, which ``/api/`` does not accept
(see :mod:`hpsearch.server._auth`); scripts send ``Authorization: Bearer T`` as
everywhere. An unknown study is a JSON 404 like every API error.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hpsearch._names import safe_name
from hpsearch.export import to_csv, to_json, trial_records, trial_rows
from hpsearch.server._names import check_study_name

router = APIRouter()

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _download(request: Request, name: str, fmt: str) -> Response:
    storage = request.app.state.hpsearch.storage()
    name = check_study_name(name)
    text = to_csv(*trial_rows(storage, name)) if fmt == "csv" else to_json(trial_records(storage, name))
    return Response(
        text,
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name(name)}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/exports/studies/{name:path}.csv")
def export_csv(request: Request, name: str) -> Response:
    """Every trial of study ``name`` as CSV: number, state, value, seconds, then the parameters."""
    return _download(request, name, "csv")


@router.get("/exports/studies/{name:path}.json")
def export_json(request: Request, name: str) -> Response:
    """Every trial of study ``name`` as a JSON list of {number, state, value, seconds, params}."""
    return _download(request, name, "json")
