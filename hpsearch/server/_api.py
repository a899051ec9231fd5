"""The JSON API: create studies, ask for hyperparameters, tell results.

Routes and status codes are those of docs/service.md ("Routes"). Handlers are
plain ``def`` functions, so FastAPI runs them in its thread pool and a slow
database write never stalls the event loop. Each handler reads and writes the
storage directly; the server keeps nothing of its own, so it can be restarted
mid-study and CLI workers can feed the same study at the same time.

Study names may contain ``/`` (studies made by other Optuna tools may use them),
hence the ``{name:path}`` converters; a study whose name itself ends in
``/ask`` or ``/tell`` is therefore not addressable by the POST routes.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hpsearch.server import _access
from hpsearch.server._errors import ApiError
from hpsearch.server._names import check_study_name
from hpsearch.server._summary import list_studies, summarize

router = APIRouter(prefix="/api")

MAX_INT32 = 2**31 - 1  # trial numbers and steps are INTEGER columns (PostgreSQL: 32 bits)
_Number = Annotated[int, Field(strict=True, ge=0, le=MAX_INT32)]
_TrialPath = Annotated[int, Path(ge=0, le=MAX_INT32, description="the trial's number")]
_Key = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="ask again with the same key: the same trial, until it is told"),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TellBody(_Body):
    trial: _Number
    value: Annotated[float, Field(strict=True)] | None = None
    # several objectives: one value each, in the order of the study's objectives
    values: Annotated[list[Annotated[float, Field(strict=True)]], Field(min_length=1, max_length=64)] | None = None
    # Optuna's convention: <= 0 is satisfied; a trial with one > 0 is kept but never best nor on the front
    constraints: (
        Annotated[
            dict[Annotated[str, Field(max_length=200)], Annotated[float, Field(strict=True)]], Field(max_length=64)
        ]
        | None
    ) = None
    state: Literal["fail", "pruned", "diverged"] | None = None
    error: Annotated[str, Field(max_length=2000)] | None = None  # with "fail": why the run failed, kept with it


class ReportBody(_Body):
    step: _Number
    value: Annotated[float, Field(strict=True)]


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ApiError(422, f'{what} must be a finite number (tell the trial {{"state": "diverged"}} instead)')
    return value


def _storage(request: Request) -> Any:
    return request.app.state.hpsearch.storage()


def _study_storage(request: Request, name: str) -> Any:
    return request.app.state.hpsearch.study_storage(check_study_name(name))


def _lease(request: Request) -> float:
    """Seconds an API trial's client may stay silent: serve --trial-timeout, else the default (one hour)."""
    return request.app.state.hpsearch.trial_timeout or _access.DEFAULT_TRIAL_LEASE


@router.get("/studies")
def get_studies(request: Request) -> list[dict[str, Any]]:
    """Every study: name, direction, trial counts by state, best value."""
    return list_studies(_storage(request))


@router.post("/studies", status_code=201)
def post_study(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Create a study from a spec (the TOML schema, as JSON). 409 if the name is taken."""
    name = _access.create_study(_storage(request), body)
    return JSONResponse({"name": name}, status_code=201)


@router.get("/studies/{name:path}")
def get_study(request: Request, name: str) -> dict[str, Any]:
    """One study's summary with its best trial."""
    return summarize(_storage(request), check_study_name(name), detail=True)


@router.post("/studies/{name:path}/ask")
def ask(request: Request, name: str, idempotency_key: _Key = None) -> dict[str, Any]:
    """Start a trial and hand out its hyperparameters; 409 once the budget is used up.

    With ``Idempotency-Key: K``, asking again with K returns the same trial
    and parameters until that trial is told (also across server restarts).
    """
    key = _access.check_key(idempotency_key)
    number, params = _access.ask(_study_storage(request, name), name, lease=_lease(request), key=key)
    return {"trial": number, "params": params}


@router.post("/studies/{name:path}/tell")
def tell(request: Request, name: str, body: TellBody) -> dict[str, Any]:
    """Finish a trial with a value (``values``: one per objective), or as failed/pruned. 409 if already
    told; 404 if unknown; 422 for as many values as the study has not objectives.

    A non-finite value (``NaN`` where the client's JSON allows it) or state
    "diverged" records a diverged run: FAIL with user attr diverged, a real
    result that is not re-run. "fail" (optional "error": why) is the client's
    training failing on this configuration: kept with its error, not re-run
    either; a client that dies instead loses its lease, and that point runs again.
    """
    if body.error is not None and body.state != "fail":
        raise ApiError(422, '"error" goes with "state": "fail" only')
    given = [k for k in ("value", "values", "state") if getattr(body, k) is not None]
    if len(given) != 1:
        raise ApiError(
            422,
            'send exactly one of "value" (a number), "values" (one number per objective) '
            'or "state" ("fail", "pruned" or "diverged")',
        )
    if body.constraints is not None and body.state is not None:
        raise ApiError(422, '"constraints" go with "value" or "values" only')
    value: float | list[float] | None = body.values if body.values is not None else body.value
    state = body.state
    if state == "diverged":
        value, state = float("nan"), None
    for c in (body.constraints or {}).values():
        _finite(c, "a constraint value")
    state = _access.tell(  # type: ignore[assignment]
        _study_storage(request, name),
        name,
        body.trial,
        value=value,
        state=state,
        error=body.error,
        constraints=body.constraints,
    )
    return {"trial": body.trial, "state": state}


@router.post("/studies/{name:path}/trials/{number}/report")
def report(request: Request, name: str, number: _TrialPath, body: ReportBody) -> dict[str, bool]:
    """Record an intermediate value; answer whether the study's pruner stops the trial. Extends its lease."""
    prune = _access.report(
        _study_storage(request, name),
        name,
        number,
        body.step,
        _finite(body.value, "value"),
        lease=_lease(request),
    )
    return {"prune": prune}


@router.post("/studies/{name:path}/trials/{number}/heartbeat")
def heartbeat(request: Request, name: str, number: _TrialPath) -> dict[str, Any]:
    """The client is still training trial ``number``: extend its lease. 409 if it is finished."""
    lease = _lease(request)
    _access.heartbeat(_study_storage(request, name), name, number, lease=lease)
    return {"trial": number, "lease_seconds": lease}
