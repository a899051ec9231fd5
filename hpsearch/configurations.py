"""Configurations given by hand (``hpsearch enqueue``): read from JSON or CSV, checked against a space.

A configuration must be a point the study's own search could have drawn:
every parameter that exists at that point (``when`` conditions decide which,
see hpsearch.conditions) and no other, each within its range, on its step,
or one of its choices. Checked before anything is stored, so a typo is one
clear message (which configuration, which key, what was expected) and never
a trial that Optuna would quietly run outside the space.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hpsearch.conditions import conditions, decision_order, holds, same_value
from hpsearch.errors import UserError
from hpsearch.spec.models import CategoricalParam, FloatParam, IntParam


def check_configuration(space: Mapping[str, Any], values: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """``values`` as the trial's parameters, in the space's order; UserError naming ``where`` and the key.

    ``values`` may hold None for a parameter that is absent (an empty CSV cell).
    """
    given = {k: v for k, v in values.items() if v is not None}
    unknown = [k for k in given if k not in space]
    if unknown:
        raise UserError(f"{where}: unknown parameter {unknown[0]!r}; the study's parameters are {', '.join(space)}")
    out: dict[str, Any] = {}
    for name in decision_order(space):
        p = space[name]
        if not holds(p, out):
            if name in given:
                when = ", ".join(f"{k} in {v}" for k, v in conditions(p).items())
                raise UserError(f"{where}: {name!r} does not exist at this point (it needs {when}); leave it out")
            continue
        if name not in given:
            raise UserError(f"{where}: missing parameter {name!r} ({_expected(p)})")
        out[name] = _checked_value(p, given[name], f"{where}: {name!r}")
    return {name: out[name] for name in space if name in out}


def parse_json_configuration(text: str, *, where: str) -> dict[str, Any]:
    """One configuration from a JSON object (``--params``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise UserError(f"{where}: expected a JSON object of parameter values, got {type(value).__name__}")
    return value


def read_csv_configurations(path: str | Path, space: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every row of a CSV file (a header of parameter names, one configuration per row), checked.

    Cells are text: each is read as its parameter's type (an empty cell: absent).
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the file ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise UserError(f"{path}: empty; expected a header of parameter names and one configuration per row")
    header = [h.strip() for h in rows[0]]
    for name in header:
        if name not in space:
            raise UserError(
                f"{path}: column {name!r} is not a parameter; the study's parameters are {', '.join(space)}"
            )
    if len(set(header)) != len(header):
        raise UserError(f"{path}: a column name appears twice in the header")
    if len(rows) == 1:
        raise UserError(f"{path}: no configurations below the header")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        where = f"{path}, row {number}"
        if len(row) != len(header):
            raise UserError(f"{where}: {len(row)} cells, expected {len(header)} (one per column)")
        cells = {
            name: _from_text(space[name], cell.strip(), f"{where}: {name!r}")
            for name, cell in zip(header, row, strict=True)
        }
        out.append(check_configuration(space, cells, where=where))
    return out


def _from_text(p: Any, cell: str, where: str) -> Any:
    if cell == "":
        return None
    if isinstance(p, CategoricalParam):
        matches = [c for c in p.choices if str(c) == cell or (isinstance(c, bool) and cell.lower() == str(c).lower())]
        if not matches:
            raise UserError(f"{where}: {cell!r} is not one of the choices {list(p.choices)}")
        return matches[0]
    try:
        number = float(cell)
    except ValueError:
        raise UserError(f"{where}: expected a number, got {cell!r}") from None
    if isinstance(p, IntParam):
        if not number.is_integer():
            raise UserError(f"{where}: expected a whole number, got {cell!r}")
        return int(number)
    return number


def _checked_value(p: Any, value: Any, where: str) -> Any:
    if isinstance(p, CategoricalParam):
        for choice in p.choices:
            if same_value(choice, value) or (
                isinstance(choice, float) and isinstance(value, int) and not isinstance(value, bool) and choice == value
            ):
                return choice
        raise UserError(f"{where}: {value!r} is not one of the choices {list(p.choices)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: expected a number ({_expected(p)}), got {value!r}")
    if isinstance(p, IntParam):
        if isinstance(value, float) and not value.is_integer():
            raise UserError(f"{where}: expected a whole number ({_expected(p)}), got {value!r}")
        value = int(value)
        if not p.low <= value <= p.high:
            raise UserError(f"{where}: {value} is out of range ({_expected(p)})")
        if (value - p.low) % p.step:
            raise UserError(f"{where}: {value} is not on the step ({_expected(p)})")
        return value
    value = float(value)
    if not math.isfinite(value) or not p.low <= value <= p.high:
        raise UserError(f"{where}: {value!r} is out of range ({_expected(p)})")
    if p.step is not None:
        steps = (value - p.low) / p.step
        if abs(steps - round(steps)) > 1e-8 * max(1.0, abs(steps)):
            raise UserError(f"{where}: {value!r} is not on the step ({_expected(p)})")
    return value


def _expected(p: Any) -> str:
    if isinstance(p, CategoricalParam):
        return f"one of {list(p.choices)}"
    kind = "a whole number" if isinstance(p, IntParam) else "a number"
    step = f", step {p.step}" if isinstance(p, (IntParam, FloatParam)) and p.step not in (None, 1) else ""
    return f"{kind} in [{p.low}, {p.high}]{step}"
