"""The single-study report: figures, the trial table, best configuration, provenance."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hpsearch import samplers
from hpsearch._names import safe_name
from hpsearch.export import csv_data_uri, rows_of
from hpsearch.records import (
    OPTUNA_VERSION_ATTR,
    SAMPLER_ARGS_ATTR,
    SPEC_ATTR,
    TEST_METRICS_ATTR,
    TEST_SCORE_ATTR,
    TEST_SCORE_STD_ATTR,
    TEST_SEEDS_ATTR,
    TEST_TRIAL_ATTR,
    direction_name,
)
from hpsearch.report import _pareto_figures as pf
from hpsearch.report import _study_figures as sf
from hpsearch.report._html import fmt, render
from hpsearch.results._failures import failures
from hpsearch.results._importance import importances
from hpsearch.results._studies import StudyData
from hpsearch.spec.catalog import EXTERNAL_OBJECTIVE
from hpsearch.spec.command import COMMAND_OBJECTIVE

FANOVA_MAX = 1000  # complete trials; past that the random forest takes several seconds
IMPORTANCE_MAX = 2000  # complete trials importance is computed on: a seeded sample beyond (10,000 took ~4 s)


def _importance_sample(study: StudyData, seed: int) -> list:
    """The study's trials, with at most IMPORTANCE_MAX COMPLETE ones (a seeded random sample, in order)."""
    complete = [i for i, t in enumerate(study.frozen) if t.state.name == "COMPLETE"]
    if len(complete) <= IMPORTANCE_MAX:
        return study.frozen
    import random

    keep = set(random.Random(seed).sample(complete, IMPORTANCE_MAX))
    return [t for i, t in enumerate(study.frozen) if t.state.name != "COMPLETE" or i in keep]


_KNOWN_ATTRS = ("sampler", "sampler_args", "seed", "optuna_version", "comparison")


def _short(x: Any, limit: int = 300) -> str:
    text = x if isinstance(x, str) else json.dumps(x, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + " …"


def test_score_items(attrs: dict[str, Any]) -> list[tuple[str, str]]:
    """Held-out test results stored with a study, as table rows ([] if none).

    Reads ``test_metrics`` (dict), ``test_score`` (number or dict),
    ``test_score_std`` and ``test_seeds`` / ``test_trial`` when present; any
    other shape is shown as text rather than dropped.
    """
    rows: list[tuple[str, str]] = []
    std = attrs.get(TEST_SCORE_STD_ATTR)
    seeds = attrs.get(TEST_SEEDS_ATTR)
    pm = f" ± {fmt(std)} (std over {len(seeds)} training seeds)" if isinstance(std, float) and seeds else ""
    metrics = attrs.get(TEST_METRICS_ATTR)
    score = attrs.get(TEST_SCORE_ATTR)
    if isinstance(metrics, dict) and metrics:
        for i, (k, v) in enumerate(metrics.items()):
            rows.append((str(k), (fmt(v) if isinstance(v, float) else _short(v)) + (pm if i == 0 else "")))
    elif isinstance(score, dict):
        rows += [(str(k), fmt(v) if isinstance(v, float) else _short(v)) for k, v in score.items()]
    elif TEST_SCORE_ATTR in attrs:
        rows.append(("test score", (fmt(score) if isinstance(score, float) else _short(score)) + pm))
    if rows and TEST_TRIAL_ATTR in attrs:
        rows.append(("evaluated trial", _short(attrs[TEST_TRIAL_ATTR])))
    return rows


def objectives_text(study: StudyData) -> str:
    """``accuracy (maximize), train_seconds (minimize)``; a single objective's direction alone."""
    if not study.multi_objective:
        return study.direction
    return ", ".join(f"{n} ({direction_name(d)})" for n, d in zip(study.metric_names, study.directions, strict=True))


def provenance(study: StudyData) -> list[tuple[str, str]]:
    rows = [("study", study.name), ("objectives" if study.multi_objective else "direction", objectives_text(study))]
    rows += [(k, _short(study.attrs[k])) for k in _KNOWN_ATTRS if k in study.attrs]
    if study.note and not study.multi_objective:  # the Pareto section says it for several objectives
        rows.append(("note", study.note))
    return rows


def arm_provenance(arms: dict[str, list[StudyData]]) -> list[list[str]]:
    """A comparison's provenance table: one row per arm study (sampler, name, seed, Optuna version,
    sampler arguments), for both the single- and the multi-objective comparison page."""
    return [
        [
            s.sampler,
            s.name,
            fmt(s.seed),
            str(s.attrs.get(OPTUNA_VERSION_ATTR, "–")),
            _short(s.attrs.get(SAMPLER_ARGS_ATTR, "–")),
        ]
        for ss in arms.values()
        for s in ss
    ]


def _trial_rows(study: StudyData, params: list[str]) -> list[list[dict[str, Any]]]:
    rows = []
    for t in study.trials:
        state = t.outcome.upper()
        cells: list[dict[str, Any]] = [
            {"t": t.number, "v": t.number},
            {"t": state, "v": state, "cls": "state-" + t.state},
        ]
        if study.multi_objective:
            vs = t.values or (math.nan,) * len(study.directions)
            cells += [{"t": fmt(v, 6), "v": v if math.isfinite(v) else ""} for v in vs]
        else:
            cells.append({"t": fmt(t.value, 6), "v": t.value if math.isfinite(t.value) else ""})
        cells += [
            {"t": fmt(t.seconds, 3), "v": t.seconds if math.isfinite(t.seconds) else ""},
            {"t": fmt(t.epochs), "v": t.epochs if math.isfinite(t.epochs) else ""},
        ]
        for p in params:
            x = t.params.get(p)
            cells.append({"t": fmt(x), "v": "" if x is None else x})
        rows.append(cells)
    return rows


def _failure_items(study: StudyData) -> list[dict[str, Any]]:
    """The newest failed trials (hpsearch.results.failures), each with a file: link to its stderr log."""
    items = []
    for f in failures(study.frozen):
        path = Path(f.stderr_log) if f.stderr_log else None
        uri = path.as_uri() if path is not None and path.is_absolute() else ""
        items.append({**asdict(f), "log_uri": uri})
    return items


def _front_rows(study: StudyData, points: pf.Points, params: list[str]) -> list[list[str]]:
    """The Pareto front's trials as table rows: number, every objective, every parameter; best first on
    the first objective."""
    on = [i for i in range(len(points.trials)) if points.ranks[i] == 0]
    sign = -1.0 if points.directions[0] == "maximize" else 1.0
    on.sort(key=lambda i: (sign * points.values[i, 0], points.trials[i].number))
    return [
        [str(points.trials[i].number)]
        + [fmt(float(v), 6) for v in points.values[i]]
        + [fmt(points.trials[i].params.get(p), 6) for p in params]
        for i in on
    ]


def evaluate_hint(study: StudyData) -> str:
    """How to score this study's best on held-out data, or "" when hpsearch cannot (from the stored spec).

    The report never loads user code, so a user function is assumed to
    accept ``split`` (``best --evaluate`` says so clearly if it does not);
    a command needs its ``[command] test`` program; an external objective is
    scored by its own client.
    """
    spec = study.attrs.get(SPEC_ATTR)
    section = spec.get("study") if isinstance(spec, dict) else None
    kind = section.get("objective") if isinstance(section, dict) else None
    if kind is None or kind == EXTERNAL_OBJECTIVE:
        return ""
    command = spec.get("command") if isinstance(spec, dict) else None
    if kind == COMMAND_OBJECTIVE and not (isinstance(command, dict) and command.get("test")):
        return (
            'A command study is scored on held-out data by a [command] test = "..." program (its last '
            f"line is the score); add one to the spec, then run hpsearch best {study.name} --evaluate."
        )
    return f"Not evaluated on the test split yet (hpsearch best {study.name} --evaluate)."


def study_page(study: StudyData, *, seed: int = 0) -> str:
    """HTML of one study's report (see module docstring)."""
    params = list(study.distributions)
    if study.multi_objective:
        return _multi_objective_page(study, params, seed)
    # fANOVA suits independent (random / quasi-random) trials; PED-ANOVA is fast at any size
    n_done = sum(1 for t in study.trials if t.state == "COMPLETE")
    method = (
        "fanova"
        if samplers.is_exchangeable(study.sampler) and study.sampler != "grid" and n_done <= FANOVA_MAX
        else "ped-anova"
    )
    imp, imp_note = importances(_importance_sample(study, seed), study.direction, method, seed=seed)
    if n_done > IMPORTANCE_MAX:
        imp_note += f" (a seeded random sample of the study's {n_done})"
    ranked = list(imp) or params
    figures = [
        sf.history(study),
        sf.importance(imp, imp_note),
        sf.contour(study, ranked[:2]),
        sf.parallel(study, params),
        sf.slices(study, params),
        sf.learning_curves(study),
        sf.states(study, seed=seed),
    ]
    best = study.best()
    return render(
        "study.html",
        figures=[f for f in figures if f is not None],
        **_common(study, params),
        value_columns=["value"],
        front_rows=None,
        best=best,
        best_params=[(k, fmt(v, 6)) for k, v in (best.params.items() if best else [])],
        best_value=fmt(best.value, 6) if best else "",
        test_score=test_score_items(study.attrs),
        importance_note=imp_note,
        evaluate_hint=evaluate_hint(study),
    )


def _common(study: StudyData, params: list[str]) -> dict[str, Any]:
    """What every study page shows, whatever its number of objectives."""
    counts = study.counts()
    return dict(
        title=f"Study {study.name}",
        study=study,
        objectives=objectives_text(study),
        counts=[(k, v) for k, v in counts.items() if v],
        failures=_failure_items(study),
        n_failed=counts.get("failed", 0),
        provenance=provenance(study),
        spec_json=json.dumps(study.attrs[SPEC_ATTR], indent=2, default=str) if SPEC_ATTR in study.attrs else "",
        params=params,
        trial_rows=_trial_rows(study, params),
        csv_name=safe_name(study.name) + ".csv",
        csv_href=_csv_href(study),
    )


def _multi_objective_page(study: StudyData, params: list[str], seed: int) -> str:
    """A study with several objectives: the Pareto section replaces the single-value figures (history,
    importance, contour, slices, learning curves), which would all draw one objective as if it were the
    whole result."""
    points = pf.points_of(study)
    figures = [
        pf.front(study, points),
        pf.hypervolume_history(study, points),
        pf.parallel_by_rank(study, points, params),
        sf.states(study, seed=seed),
    ]
    return render(
        "study.html",
        figures=[f for f in figures if f is not None],
        **_common(study, params),
        value_columns=list(study.metric_names),
        front_rows=_front_rows(study, points, params),
        front_header=["#", *study.metric_names, *params],
        infeasible=int((~points.feasible).sum()),
        best=None,
        best_params=[],
        best_value="",
        test_score=[],
        importance_note="",
        evaluate_hint="",
    )


def _csv_href(study: StudyData) -> str:
    """Every trial as the CSV of ``hpsearch export`` (hpsearch.export), as a data: URI."""
    n_objectives = max((len(t.values) for t in study.frozen if t.values), default=1)
    return csv_data_uri(*rows_of(study.frozen, n_objectives=n_objectives, attrs=study.attrs))
