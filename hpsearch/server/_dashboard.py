"""The dashboard: server-rendered HTML pages that reload while trials run.

Pages are rendered from the database on every request with Jinja2
(autoescaping on, so study names, parameter values and user attrs cannot
inject markup). Each page polls ``/poll`` (a cheap fingerprint of the trials it
shows) and reloads when it changes. plotly.js comes from the installed plotly
package via ``/static/plotly.min.js``, never from a CDN, so the dashboard works
offline.
"""

from __future__ import annotations

import statistics
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from optuna.storages._rdb import models
from optuna.trial import TrialState

from hpsearch.errors import StudyNotFound, UserError
from hpsearch.server._errors import ApiError
from hpsearch.server._figures import comparison_figure, history_figure
from hpsearch.server._names import check_study_name
from hpsearch.server._security import nonce_scripts
from hpsearch.server._summary import comparison_studies, list_studies, summary_and_trials, trial_dict

router = APIRouter()

MAX_TRIAL_ROWS = 1000
POLL_MS = 3000


def _render(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    ctx = request.app.state.hpsearch
    context = {"plotly": False, "poll_url": None, **context}
    html = ctx.templates.get_template(template).render(
        base=request.scope.get("root_path", ""), storage_label=ctx.storage_label, poll_ms=POLL_MS, **context
    )
    return HTMLResponse(html, status_code=http_status, headers={"Cache-Control": "no-store"})


def _error_page(request: Request, exc: UserError) -> HTMLResponse:
    status = exc.status if isinstance(exc, ApiError) else 404 if isinstance(exc, StudyNotFound) else 400
    return _render(request, "error.html", http_status=status, status=status, message=str(exc))


def _poll_url(request: Request, names: list[str]) -> str:
    return request.scope.get("root_path", "") + "/poll?" + urlencode([("study", n) for n in names])


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """All studies with trial counts by state and best values; links to comparisons."""
    studies = list_studies(request.app.state.hpsearch.storage())
    groups: dict[str, int] = {}
    for s in studies:
        if isinstance(s["comparison"], str) and s["comparison"]:
            groups[s["comparison"]] = groups.get(s["comparison"], 0) + 1
    return _render(request, "index.html", studies=studies, comparisons=sorted(groups.items()),
                   poll_url=_poll_url(request, []))


@router.get("/studies/{name:path}", response_class=HTMLResponse)
def study_page(request: Request, name: str) -> HTMLResponse:
    """One study: counts, best trial, history figure and the trial table."""
    storage = request.app.state.hpsearch.storage()
    try:
        summary, trials = summary_and_trials(storage, check_study_name(name), detail=True)
    except UserError as exc:
        return _error_page(request, exc)
    rows = [trial_dict(t) for t in sorted(trials, key=lambda t: -t.number)[:MAX_TRIAL_ROWS]]
    param_names = sorted({p for t in trials for p in t.params})
    figure = None if summary["unsupported"] else history_figure(trials, summary["direction"] == "maximize")
    return _render(request, "study.html", s=summary, trials=rows, truncated=len(trials) > len(rows),
                   param_names=param_names, figure=figure, plotly=True,
                   report_url=_report_url(request, "studies", name),
                   poll_url=_poll_url(request, [name]))


@router.get("/comparisons/{group:path}", response_class=HTMLResponse)
def comparison_page(request: Request, group: str) -> HTMLResponse:
    """The studies whose user attr ``comparison`` is ``group``: curves and per-sampler summary."""
    storage = request.app.state.hpsearch.storage()
    views = comparison_studies(storage, group)
    if not views:
        return _error_page(request, ApiError(404, f"no studies belong to comparison {group!r}"))
    studies = [s for s, _ in views]
    maximize = studies[0]["direction"] == "maximize"
    arms = [(s["name"], s["sampler"], trials) for s, trials in views]
    by_sampler = []
    for sampler in sorted({str(s["sampler"]) for s in studies}):
        bests = [s["best_value"] for s in studies if str(s["sampler"]) == sampler and s["best_value"] is not None]
        by_sampler.append({
            "sampler": sampler, "n": sum(str(s["sampler"]) == sampler for s in studies),
            "median": statistics.median(bests) if bests else None,
            "worst": (min(bests) if maximize else max(bests)) if bests else None,
            "best": (max(bests) if maximize else min(bests)) if bests else None,
        })
    return _render(request, "comparison.html", group=group, studies=studies, by_sampler=by_sampler,
                   report_url=_report_url(request, "comparisons", group),
                   figure=comparison_figure(arms, maximize), plotly=True,
                   poll_url=_poll_url(request, [s["name"] for s in studies]))


def _report_url(request: Request, kind: str, name: str) -> str:
    return request.scope.get("root_path", "") + f"/reports/{kind}/" + urlpath(name)


@router.get("/reports/studies/{name:path}", response_class=HTMLResponse)
def study_report(request: Request, name: str) -> HTMLResponse:
    """The full offline report of one study (hpsearch.report), rendered from the database now."""
    return _full_report(request, "study_report_html", name)


@router.get("/reports/comparisons/{group:path}", response_class=HTMLResponse)
def comparison_report(request: Request, group: str) -> HTMLResponse:
    """The full comparison report (hpsearch.report) of the studies grouped as ``group``."""
    return _full_report(request, "comparison_report_html", group)


def _full_report(request: Request, function: str, name: str) -> HTMLResponse:
    import hpsearch.report as report  # here: it loads plotly (~1 s), which the other pages do not need

    try:
        html = getattr(report, function)(request.app.state.hpsearch.storage(), check_study_name(name))
    except UserError as exc:
        return _error_page(request, exc)
    return HTMLResponse(nonce_scripts(html), headers={"Cache-Control": "no-store"})  # the page's CSP


@router.get("/poll")
def poll(request: Request, study: list[str] = Query(default=[])) -> JSONResponse:
    """A fingerprint of the trials of ``study`` (all studies if none): changes when a trial starts
    or ends, or when a watched study appears or disappears."""
    storage = request.app.state.hpsearch.storage()
    studies = models.StudyModel.__table__
    trials = models.TrialModel.__table__
    query = sa.select(
        sa.func.count(trials.c.trial_id),
        sa.func.sum(sa.case((trials.c.state == TrialState.RUNNING, 0), else_=1)),
        sa.func.max(trials.c.datetime_complete),
    )
    if study:
        ids = []
        for name in study[:200]:
            try:
                ids.append(storage.get_study_id_from_name(check_study_name(name)))
            except (KeyError, UserError):
                continue
        query = query.where(trials.c.study_id.in_(ids))
        which = sa.select(sa.literal(",".join(map(str, ids))))
    else:
        which = sa.select(sa.func.count(studies.c.study_id), sa.func.max(studies.c.study_id))
    with storage.engine.connect() as con:
        count, finished, last = con.execute(query).one()
        present = ":".join(str(v) for v in con.execute(which).one())
    version = f"{present}:{count}:{finished or 0}:{last}"
    return JSONResponse({"version": version}, headers={"Cache-Control": "no-store"})


@router.get("/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    """plotly.js from the installed plotly package (the dashboard never loads a CDN)."""
    return Response(request.app.state.hpsearch.plotly_js(), media_type="application/javascript",
                    headers={"Cache-Control": "public, max-age=86400"})


def urlpath(value: str) -> str:
    """Quote a study name for use in a URL path (slashes kept: names may contain them)."""
    return quote(str(value), safe="/")
