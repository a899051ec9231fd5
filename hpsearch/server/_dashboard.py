"""The dashboard: server-rendered HTML pages that reload while trials run.

Pages are rendered from the database on every request with Jinja2
(autoescaping on, so study names, parameter values and user attrs cannot
inject markup). Each page polls ``/poll`` (a cheap fingerprint of the trials it
shows) and reloads when it changes. plotly.js comes from the installed plotly
package via ``/static/plotly.min.js``, never from a CDN, so the dashboard works
offline.
"""

from __future__ import annotations

import math
import statistics
import threading
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from hpsearch.errors import StudyNotFound, UserError
from hpsearch.records import DIVERGED_ATTR, UNKNOWN_SAMPLER, finite_or_none
from hpsearch.results import failures
from hpsearch.server._errors import ApiError
from hpsearch.server._figures import comparison_figure, history_figure
from hpsearch.server._names import check_study_name
from hpsearch.server._security import nonce_scripts
from hpsearch.server._summary import comparison_studies, list_studies, summarize
from hpsearch.storage import (
    SORT_KEYS,
    engine_of,
    param_names,
    recent_errors,
    study_presence,
    trial_page,
    trials_fingerprint,
)

router = APIRouter()

PAGE_SIZE = 100  # rows of the trial table per page (sorted and cut in SQL)
POLL_MS = 3000
_caches_lock = threading.Lock()


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
    """Studies with trial counts by state and best values; a comparison's arm studies (30 for 3
    samplers x 10 seeds) are grouped under the comparison, folded, instead of filling the list."""
    studies = list_studies(request.app.state.hpsearch.storage())
    groups: dict[str, list[dict[str, Any]]] = {}
    alone = []
    for s in studies:
        if isinstance(s["comparison"], str) and s["comparison"]:
            groups.setdefault(s["comparison"], []).append(s)
        else:
            alone.append(s)
    return _render(
        request, "index.html", studies=alone, comparisons=sorted(groups.items()), poll_url=_poll_url(request, [])
    )


def _points(request: Request, name: str) -> list:
    """Every trial of ``name`` as history rows, from the server's cache of finished ones."""
    from hpsearch.server._trial_cache import PointCaches

    ctx = request.app.state.hpsearch
    storage = ctx.storage()
    with _caches_lock:
        caches = getattr(ctx, "dashboard_points", None)
        if caches is None:
            caches = ctx.dashboard_points = PointCaches(storage)
    return caches.points(name)


@router.get("/studies/{name:path}", response_class=HTMLResponse)
def study_page(
    request: Request,
    name: str,
    page: int = Query(default=1, ge=1, le=10**7),
    sort: str = Query(default="number"),
    order: str = Query(default="desc"),
) -> HTMLResponse:
    """One study: counts, best trial, history figure and one page of the trial table.

    Never loads the study's trials: the summary is aggregate SQL, the history
    comes from one narrow query (finished trials cached), the table page is
    sorted and cut in SQL (``?page=N&sort=number|value|duration|state&order=asc|desc``).
    """
    storage = request.app.state.hpsearch.storage()
    try:
        name = check_study_name(name)
        if sort not in SORT_KEYS:
            raise ApiError(400, f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}")
        if order not in ("asc", "desc"):
            raise ApiError(400, f"order must be asc or desc, got {order!r}")
        summary = summarize(storage, name, detail=True)
        engine = engine_of(storage)
        study_id = storage.get_study_id_from_name(name)
        points = None if summary["unsupported"] else _points(request, name)
        failed = failures(recent_errors(storage, study_id)) if summary["states"]["fail"] else []
    except UserError as exc:
        return _error_page(request, exc)
    except KeyError:  # deleted meanwhile
        return _error_page(request, StudyNotFound(f"no study named {name!r}"))
    pages = max(1, math.ceil(summary["n_trials"] / PAGE_SIZE))
    page = min(page, pages)
    rows = [
        _row(p)
        for p in trial_page(
            engine, study_id, sort=sort, descending=order == "desc", offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    ]
    figure = None if points is None else history_figure(points, summary["direction"] == "maximize")
    pareto = _pareto(storage, name, summary) if summary["unsupported"] else None
    return _render(
        request,
        "study.html",
        s=summary,
        trials=rows,
        page=page,
        pages=pages,
        sort=sort,
        order=order,
        sort_keys=SORT_KEYS,
        page_size=PAGE_SIZE,
        param_names=param_names(engine, study_id),
        figure=figure,
        pareto=pareto,
        plotly=True,
        report_url=_report_url(request, "studies", name),
        poll_url=_poll_url(request, [name]),
        failures=failed,
    )


PARETO_MAX_TRIALS = 5000  # trials read for the dashboard's Pareto plot (the full report draws any number)


def _pareto(storage: Any, name: str, summary: dict[str, Any]) -> dict[str, Any] | None:
    """A multi-objective study's Pareto plot (first two objectives), or None when it has too many trials
    to read on every page view (the full report draws it)."""
    from hpsearch.results import metric_names
    from hpsearch.server._figures import hypervolume_figure, pareto_figure

    directions = list(summary["directions"])
    if len(directions) < 2 or summary["n_trials"] > PARETO_MAX_TRIALS:
        return None
    trials = storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False)
    names = metric_names(storage, name, len(directions))
    return pareto_figure(trials, directions[:2], names[:2]) | {
        "objectives": names,
        "hypervolume": hypervolume_figure(trials, directions),
    }


def _row(p) -> dict[str, Any]:
    """A table row (hpsearch.storage.TrialPoint) in trial_dict's shape."""
    return {
        "number": p.number,
        "state": p.state.name.lower(),
        "value": finite_or_none(p.value),
        "params": p.params,
        "duration": p.duration,
        "diverged": bool(p.user_attrs.get(DIVERGED_ATTR)) and p.state.name == "FAIL",
    }


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
    for sampler in sorted({(s["sampler"] or UNKNOWN_SAMPLER) for s in studies}):
        mine = [s for s in studies if (s["sampler"] or UNKNOWN_SAMPLER) == sampler]
        bests = [s["best_value"] for s in mine if s["best_value"] is not None]
        by_sampler.append(
            {
                "sampler": sampler,
                "n": len(mine),
                "median": statistics.median(bests) if bests else None,
                "worst": (min(bests) if maximize else max(bests)) if bests else None,
                "best": (max(bests) if maximize else min(bests)) if bests else None,
            }
        )
    return _render(
        request,
        "comparison.html",
        group=group,
        studies=studies,
        by_sampler=by_sampler,
        report_url=_report_url(request, "comparisons", group),
        # several objectives have no best-so-far curve: the full report draws their hypervolumes
        figure=None if studies[0]["unsupported"] else comparison_figure(arms, maximize),
        unsupported=studies[0]["unsupported"],
        plotly=True,
        poll_url=_poll_url(request, [s["name"] for s in studies]),
    )


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


REPORT_CACHE_SIZE = 4  # full reports kept (up to ~10 MB each at 10,000 trials)
_reports: dict[tuple[str, str], tuple[tuple, str]] = {}


def _verdict_for(storage: Any, function: str, name: str) -> dict[str, Any]:
    """A comparison report opens with the comparison's verdict (stored, else computed; nothing written)."""
    if function != "comparison_report_html":
        return {}
    from hpsearch.comparison import current_verdict

    try:
        return {"verdict": current_verdict(storage, name)}
    except StudyNotFound:
        return {}  # the report says there is no such comparison


def _full_report(request: Request, function: str, name: str) -> HTMLResponse:
    """The report, rendered again only when the database changed since the last one (its figures
    cost seconds on long studies): the key is /poll's fingerprint of all trials, the studies
    present and their user attrs (a comparison's retraining results live there)."""
    import hpsearch.report as report  # here: it loads plotly (~1 s), which the other pages do not need

    storage = request.app.state.hpsearch.storage()
    try:
        name = check_study_name(name)
        version = _database_version(storage)
        with _caches_lock:
            known = _reports.get((function, name))
        if known is not None and known[0] == version:
            html = known[1]
        else:
            html = getattr(report, function)(storage, name, **_verdict_for(storage, function, name))
            with _caches_lock:
                _reports.pop((function, name), None)
                _reports[(function, name)] = (version, html)
                while len(_reports) > REPORT_CACHE_SIZE:
                    _reports.pop(next(iter(_reports)))
    except UserError as exc:
        return _error_page(request, exc)
    return HTMLResponse(nonce_scripts(html), headers={"Cache-Control": "no-store"})  # the page's CSP


def _database_version(storage) -> tuple:
    import json

    engine = engine_of(storage)
    attrs = json.dumps(
        sorted((s.study_name, s.user_attrs) for s in storage.get_all_studies()), sort_keys=True, default=str
    )
    return (str(engine.url), study_presence(engine), trials_fingerprint(engine, None), attrs)


@router.get("/poll")
def poll(request: Request, study: Annotated[list[str] | None, Query()] = None) -> JSONResponse:
    """A fingerprint of the trials of ``study`` (all studies if none): changes when a trial starts
    or ends, or when a watched study appears or disappears."""
    study = study or []
    storage = request.app.state.hpsearch.storage()
    ids: list[int] | None = None
    if study:
        ids = []
        for name in study[:200]:
            try:
                ids.append(storage.get_study_id_from_name(check_study_name(name)))
            except (KeyError, UserError):
                continue
        present = ",".join(map(str, ids))
    else:
        present = ":".join(str(v) for v in study_presence(engine_of(storage)))
    count, finished, last = trials_fingerprint(engine_of(storage), ids)
    version = f"{present}:{count}:{finished}:{last}"
    return JSONResponse({"version": version}, headers={"Cache-Control": "no-store"})


@router.get("/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    """plotly.js from the installed plotly package (the dashboard never loads a CDN)."""
    return Response(
        request.app.state.hpsearch.plotly_js(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def urlpath(value: str) -> str:
    """Quote a study name for use in a URL path (slashes kept: names may contain them)."""
    return quote(str(value), safe="/")
