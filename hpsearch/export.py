"""Every trial of a study as a table: CSV or JSON, for spreadsheets, pandas, R or other tools.

The one home of the export; ``hpsearch export``, ``hpsearch best --json``, the
HTML report's download link and the dashboard's ``trials.csv`` all call it::

    from hpsearch.export import trial_rows, trial_records, to_csv, to_json
    columns, rows = trial_rows(storage, "digits")   # one row per trial, by trial number
    text = to_csv(columns, rows)                     # or to_json(trial_records(storage, "digits"))

Columns: ``number, state, value, seconds``, then one column per parameter by
its name (the stored spec's order first, then any other parameter in the order
trials first used it; a parameter named like a fixed column is ``params_NAME``),
then ``error``.

- ``state``: hpsearch's words (:func:`hpsearch.search.state_name`): complete,
  pruned, diverged, failed (the objective raised), crashed, running, waiting.
- ``value``: the value stored with the trial (empty when none, e.g. failed or
  running trials).
- ``seconds``: user attr ``train_seconds`` when the trial has it (as the report
  and ``show`` print), else the wall-clock time from start to end; empty while
  a trial runs.
- A parameter a trial did not use is an empty cell (``null`` in JSON).
- ``error``: the objective's error text of a failed trial (its cause on the
  first line, e.g. ``command exited with code 1: ModuleNotFoundError: ...``,
  then the details), empty for every other trial.

Numbers keep every digit: CSV cells are ``repr`` of the float (``float(cell)``
gives the stored number back); JSON numbers likewise. JSON has no NaN or
Infinity, so non-finite numbers are ``null`` there (CSV writes ``nan``/``inf``).

Works on any Optuna study in the storage, hpsearch's or not. A multi-objective
study has one column per objective in place of ``value``, named by its metric
(``accuracy, train_seconds``: the study's metric names), or ``value_0,
value_1, ...`` where it has none (JSON: ``"values": [...]`` and
``"objectives": [names]``).

A study whose trials carry constraint values (``[constraints]``, or
``trial.set_constraint``) gets, after ``seconds``, a ``feasible`` column
(every constraint value <= 0; empty for a trial without values yet) and one
column per constraint, ``constraint: n_params <= 50000`` (how far beyond the
bound: <= 0 is within it). JSON: ``"feasible"`` and ``"constraints": {...}``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from hpsearch.records import (
    SPEC_ATTR,
    TRAIN_SECONDS_ATTR,
    best_trial,
    error_text,
    is_feasible,
    json_safe,
    state_name,
)
from hpsearch.storage import find_study_id, metric_names

FORMATS = ("csv", "json")


def _study(storage: optuna.storages.BaseStorage, name: str) -> tuple[int, list, list[FrozenTrial]]:
    """(study id, directions, trials by number); StudyNotFound for an unknown name."""
    study_id = find_study_id(storage, name)
    trials = sorted(storage.get_all_trials(study_id, deepcopy=False), key=lambda t: t.number)
    return study_id, storage.get_study_directions(study_id), trials


def param_names(trials: Sequence[FrozenTrial], attrs: dict[str, Any] | None = None) -> list[str]:
    """The used parameters: the stored spec's (in study user ``attrs``) in its order, then others in
    the order trials (by number) first used them."""
    spec = (attrs or {}).get(SPEC_ATTR)
    space = spec.get("space") if isinstance(spec, dict) else None
    names = dict.fromkeys(space if isinstance(space, dict) else ())
    for t in sorted(trials, key=lambda t: t.number):
        names.update(dict.fromkeys(t.params))
    used = {p for t in trials for p in t.params}
    return [n for n in names if n in used]


def trial_seconds(t: FrozenTrial) -> float | None:
    """``train_seconds`` when the trial recorded it, else start to end; None while it runs."""
    recorded = t.user_attrs.get(TRAIN_SECONDS_ATTR)
    if isinstance(recorded, (int, float)) and not isinstance(recorded, bool) and math.isfinite(recorded):
        return float(recorded)
    if t.datetime_start is not None and t.datetime_complete is not None:
        return (t.datetime_complete - t.datetime_start).total_seconds()
    return None


def objective_columns(n_objectives: int, names: Sequence[str] | None = None) -> list[str]:
    """The value columns: ``value`` for one objective; else the objectives' metric names where the
    study has them (distinct, and not a fixed column's name), else ``value_0, value_1, ...``."""
    if n_objectives == 1:
        return ["value"]
    named = list(names or [])
    if len(named) == n_objectives and len(set(named)) == n_objectives and not set(named) & _FIXED:
        return named
    return [f"value_{i}" for i in range(n_objectives)]


_FIXED = frozenset({"number", "state", "value", "seconds", "feasible", "params", "error"})
CONSTRAINT_PREFIX = "constraint: "


def constraint_keys(trials: Sequence[FrozenTrial]) -> list[str]:
    """Every constraint key the trials carry, in the order trials (by number) first did."""
    keys: dict[str, None] = {}
    for t in sorted(trials, key=lambda t: t.number):
        keys.update(dict.fromkeys(t.constraints))
    return list(keys)


def _record(
    t: FrozenTrial, n_objectives: int, names: Sequence[str] | None = None, constrained: bool = False
) -> dict[str, Any]:
    values = list(t.values) if t.values is not None else [None] * n_objectives
    out: dict[str, Any] = {"number": t.number, "state": state_name(t)}
    if n_objectives == 1:
        out["value"] = values[0]
    else:
        out["values"] = values
        if names:
            out["objectives"] = list(names)
    out["seconds"] = trial_seconds(t)
    if constrained:
        out["feasible"] = is_feasible(t) if t.constraints else None
        out["constraints"] = dict(t.constraints)
    out["params"] = dict(t.params)
    out["error"] = error_text(t)
    return out


def trial_rows(storage: optuna.storages.BaseStorage, name: str) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of study ``name``: one row per trial, cells as Python values (None = empty)."""
    study_id, directions, trials = _study(storage, name)
    return rows_of(
        trials,
        n_objectives=len(directions),
        attrs=storage.get_study_user_attrs(study_id),
        names=metric_names(storage, study_id),
    )


def rows_of(
    trials: Sequence[FrozenTrial],
    *,
    n_objectives: int = 1,
    attrs: dict[str, Any] | None = None,
    names: Sequence[str] | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of trials already read (a report's), with the study's user ``attrs`` and its
    objectives' metric ``names`` (several objectives)."""
    trials = sorted(trials, key=lambda t: t.number)
    params = param_names(trials, attrs)
    keys = constraint_keys(trials)
    fixed = ["number", "state", *objective_columns(n_objectives, names), "seconds"]
    if keys:
        fixed += ["feasible", *(CONSTRAINT_PREFIX + k for k in keys)]
    columns = fixed + [f"params_{p}" if p in (*fixed, "error") else p for p in params] + ["error"]
    rows = []
    for t in trials:
        r = _record(t, n_objectives, constrained=bool(keys))
        values = [r["value"]] if n_objectives == 1 else r["values"]
        checks = [r["feasible"], *(t.constraints.get(k) for k in keys)] if keys else []
        rows.append(
            [r["number"], r["state"], *values, r["seconds"], *checks, *(t.params.get(p) for p in params), r["error"]]
        )
    return columns, rows


def trial_records(storage: optuna.storages.BaseStorage, name: str) -> list[dict[str, Any]]:
    """Study ``name`` as a list of ``{"number", "state", "value", "seconds", "params": {...}}``
    (several objectives: ``"values"`` and ``"objectives"``; constraints: ``"feasible"``, ``"constraints"``)."""
    study_id, directions, trials = _study(storage, name)
    names = metric_names(storage, study_id) if len(directions) > 1 else None
    constrained = bool(constraint_keys(trials))
    return [_record(t, len(directions), names, constrained) for t in trials]


def best_record(storage: optuna.storages.BaseStorage, name: str) -> dict[str, Any] | None:
    """The best trial of single-objective study ``name`` as a record plus ``study`` and ``direction``.

    None when there is no feasible complete trial with a finite value, or the study is
    multi-objective (hpsearch.records.best_trial; its front: :func:`front_records`).
    """
    _, directions, trials = _study(storage, name)
    top = best_trial(trials, directions)  # None for a multi-objective study
    if top is None:
        return None
    record = _record(top, 1)
    del record["error"]  # a complete trial has none
    return {"study": name, "direction": directions[0].name.lower(), **record}


def front_records(storage: optuna.storages.BaseStorage, name: str) -> list[dict[str, Any]]:
    """The Pareto front of study ``name`` (hpsearch.records.pareto_front: feasible trials only) as records
    with ``"objectives"`` (the value names) and ``"directions"``, by trial number."""
    from hpsearch.records import pareto_front

    study_id, directions, trials = _study(storage, name)
    names = objective_columns(len(directions), metric_names(storage, study_id))
    out = []
    for t in pareto_front(trials, directions):
        record = _record(t, len(directions))
        del record["error"]
        out.append({"study": name, **record, "objectives": names, "directions": [d.name.lower() for d in directions]})
    return out


def _cell(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return repr(x)
    return str(x)


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV (``\\n`` line ends, cells quoted where needed); floats as ``repr``, None as empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(x) for x in row] for row in rows)
    return buf.getvalue()


def to_json(records: Any) -> str:
    """Strict JSON (non-finite numbers as null), one trial per line inside the list."""
    if isinstance(records, list):
        body = ",\n".join(" " + json.dumps(json_safe(r), allow_nan=False, default=str) for r in records)
        return "[\n" + body + "\n]\n" if records else "[]\n"
    return json.dumps(json_safe(records), allow_nan=False, default=str, indent=2) + "\n"


def export_text(storage: optuna.storages.BaseStorage, name: str, fmt: str = "csv") -> str:
    """Study ``name`` as CSV or JSON text (``fmt`` in FORMATS)."""
    if fmt == "json":
        return to_json(trial_records(storage, name))
    if fmt == "csv":
        return to_csv(*trial_rows(storage, name))
    raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")


def csv_data_uri(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The CSV as a ``data:`` URI for ``<a download href=...>``: works offline, needs no server.

    Percent-encoded throughout, so the URI is plain ASCII and safe in an HTML attribute.
    """
    from urllib.parse import quote

    return "data:text/csv;charset=utf-8," + quote(to_csv(columns, rows), safe="")
