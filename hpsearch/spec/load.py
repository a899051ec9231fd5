"""Reading a spec: TOML file or dict -> validated :class:`Spec`, or one SpecError."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hpsearch.errors import SpecError, UserError
from hpsearch.spec import catalog
from hpsearch.spec.checks import check_keys, check_spec
from hpsearch.spec.messages import NOTHING, from_validation_error, spec_error
from hpsearch.spec.models import Spec
from hpsearch.spec.tables import TABLE_OBJECTIVE

MAX_DEPTH = 32  # a real spec nests 4 deep (space.x.grid[0]); deeper input is refused before it is copied
_KEY_PATH = re.compile(r"^(study|data|training|space)[.:]")
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def load_spec(path: str | Path, *, preflight: bool = True) -> Spec:
    """Load and validate a TOML study spec.

    ``study.name`` defaults to the file's stem and ``data.path`` is resolved
    relative to the spec file, so a spec works from any current directory.
    With ``preflight`` (the default) the problems only the data or the user's
    code reveal are found now too: a CSV's ragged row (UserError naming its
    line) or an unimportable ``study.objective``.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{source}: expected an existing spec file, got no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{source}: expected a readable UTF-8 spec file, got {exc}") from None
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise SpecError(
            f"{source}: expected a spec nested at most {MAX_DEPTH} levels deep, "
            "got arrays or tables nested too deep to read"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        if match and match.group(1):
            where = f"line {match.group(1)}, column {match.group(2)}"
        else:
            where = "end of file" if match else "TOML syntax"
        reason = _TOML_POSITION.sub("", message)
        raise SpecError(f"{source}: {where}: expected valid TOML, got {reason}") from None
    study = raw.get("study")
    if isinstance(study, dict):
        study.setdefault("name", path.stem)
        study.setdefault("objective", "mlp")
    check_depth(raw, source)
    spec = _build(raw, source, base_dir=path.resolve().parent, check_files=True)
    if preflight:
        _preflight(spec, source)
    return spec


def _preflight(spec: Spec, source: str) -> None:
    from objectives import preflight

    try:
        preflight(spec)
    except SpecError:
        raise
    except UserError as exc:  # "study.objective: ..." gets the spec file; CSV errors name their own file
        message = str(exc)
        if _KEY_PATH.match(message):
            raise SpecError(f"{source}: {message}") from None
        raise


def spec_from_dict(
    d: Any,
    source: str = "<api>",
    *,
    base_dir: str | Path | None = None,
    check_files: bool = False,
    stored: bool = False,
) -> Spec:
    """Validate a spec given as a dict (a JSON body, or the copy stored with a study).

    Same rules as :func:`load_spec`. A missing ``study.objective`` means
    "mlp" when a [data] table is present and "external" otherwise: an API
    client that evaluates trials itself sends only [study] (with direction)
    and [space]. Files are checked for existence only when asked, so a study
    whose CSV moved can still be reported on. ``stored``: the copy stored with a
    study, whose name may hold a ``/`` if an earlier version made it (new names may not).
    """
    check_depth(d, source)
    d = copy.deepcopy(d)
    if isinstance(d, dict) and isinstance(d.get("study"), dict) and "objective" not in d["study"]:
        d["study"]["objective"] = "mlp" if "data" in d else catalog.EXTERNAL_OBJECTIVE
    return _build(d, source, base_dir=Path(base_dir) if base_dir else None, check_files=check_files, stored=stored)


def check_depth(d: Any, source: str, limit: int = MAX_DEPTH) -> None:
    """Refuse lists and dicts nested deeper than ``limit`` (SpecError), without recursion.

    Copying or validating a 1000-deep body would overflow Python's stack.
    """
    stack = [(d, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node  # type: ignore[assignment]
        else:
            continue
        if depth > limit:
            raise SpecError(f"{source}: expected a spec nested at most {limit} levels deep, got deeper nesting")
        stack.extend((child, depth + 1) for child in children)


def _build(d: Any, source: str, *, base_dir: Path | None, check_files: bool, stored: bool = False) -> Spec:
    check_keys(d, source)
    if "study" not in d:
        raise spec_error(source, "study", "a [study] table", NOTHING)
    if "space" not in d and _objective(d) == TABLE_OBJECTIVE:
        d = {**d, "space": {}}  # a table searches all its own axes unless [space] narrows them
    if "space" not in d:
        raise spec_error(source, "space", "a [space] table of searched hyperparameters", NOTHING)
    try:
        spec = Spec.model_validate(d, context={"stored": stored})
    except ValidationError as exc:
        raise from_validation_error(source, exc) from None
    return check_spec(spec, source, base_dir, check_files)


def _objective(d: dict) -> Any:
    study = d.get("study")
    return study.get("objective") if isinstance(study, dict) else None


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of a spec (for the HTTP API and editors).

    The built-in objectives' [training]/[space] names are listed in the
    descriptions, not enforced (a user objective may use any names); the
    rules between keys (low < high, metric fits dataset) are beyond JSON
    Schema and are enforced by the loaders.
    """
    schema = Spec.model_json_schema()
    schema["title"] = "hpsearch study spec"
    names = ", ".join(sorted(catalog.hyperparameters("text")))  # type: ignore[arg-type]
    schema["properties"]["training"]["description"] = "fixed settings; for the built-in objectives one of: " + names
    schema["properties"]["space"]["description"] = (
        "searched hyperparameters; for the built-in objectives one of: " + names
    )
    return schema
