"""One-line spec errors: "FILE: key.path: expected X, got Y".

Every spec problem, whatever found it (TOML parser, pydantic, the semantic
checks), ends up here so the user always sees the same shape of message.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from hpsearch.errors import SpecError

NOTHING = object()  # "got nothing": a required key is missing
_UNION_MEMBERS = {"bool", "int", "float", "str"}


def show(value: Any) -> str:
    """A short, TOML-looking rendering of a user value."""
    if value is NOTHING:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(path: Iterable[Any]) -> str:
    """('space', 'lr', 'grid', 0) -> 'space.lr.grid[0]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def spec_error(source: str, path: Sequence[Any] | str, expected: str, got: Any) -> SpecError:
    """Build the one-line SpecError; ``got`` is a user value (or NOTHING)."""
    where = path if isinstance(path, str) else dotted(path)
    return SpecError(f"{source}: {where}: expected {expected}, got {show(got)}")


def unknown_key_error(source: str, path: Sequence[Any], key: str, known: Iterable[str]) -> SpecError:
    """An unknown key, with the closest known one suggested."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(known) if known else "no keys"
    where = dotted([*path, key])
    return SpecError(f"{source}: {where}: expected one of {listing}, got unknown key {key!r}{hint}")


def _expected(err: dict[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    simple = {
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "float_type": "a number",
        "float_parsing": "a number",
        "finite_number": "a finite number",
        "string_type": "a string",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "list_type": "a list",
        "dict_type": "a table",
        "model_type": "a table",
        "model_attributes_type": "a table",
        "missing": "a value (required)",
        "string_too_short": "a non-empty string",
        "string_too_long": "a shorter string",
        "union_tag_not_found": "a 'type' key: 'float', 'int' or 'categorical'",
    }
    if kind in simple:
        return simple[kind]
    if kind == "literal_error":
        return "one of " + str(ctx.get("expected", "")).replace(" or ", ", ")
    if kind == "union_tag_invalid":
        return "type 'float', 'int' or 'categorical'"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        bound = next(iter(ctx.values()), "")
        return f"a value {bounds[kind]} {bound}"
    if kind == "too_short":
        return f"at least {ctx.get('min_length', 1)} item(s)"
    return err.get("msg", "a valid value").lower()


def from_validation_error(source: str, exc: ValidationError) -> SpecError:
    """Translate pydantic's first error into our one-line message."""
    err = exc.errors(include_url=False)[0]
    loc = list(err["loc"])
    # Drop pydantic's union-member markers ('float' in space.lr.float.low, 'str' in choices[0].str).
    if len(loc) > 2 and loc[0] == "space" and loc[2] in ("float", "int", "categorical"):
        del loc[2]
    scalar_union = False
    while loc and isinstance(loc[-1], str) and loc[-1] in _UNION_MEMBERS and len(loc) > 2:
        loc.pop()
        scalar_union = True
    expected = "a string, number or true/false" if scalar_union else _expected(err)  # type: ignore[arg-type]
    got = NOTHING if err["type"] == "missing" else err.get("input", NOTHING)
    index = (err.get("ctx") or {}).get("index")
    if err["type"] == "param_range" and isinstance(index, int) and isinstance(got, list):
        loc, got = [*loc, index], got[index]  # a list validator's error about one item
    if err["type"] == "union_tag_not_found":
        got = "no 'type' key"
        return SpecError(f"{source}: {dotted(loc)}: expected {expected}, got {got}")
    if err["type"] == "union_tag_invalid":
        got = (err.get("ctx") or {}).get("tag", got)
        loc = [*loc, "type"]
    return spec_error(source, loc, expected, got)
