"""The list of private Optuna names in hpsearch/storage/_optuna.py is exact (issue 22).

An AST scan of hpsearch/storage/: every private Optuna module imported and every private
name used (an attribute ``x._name``, a ``from ... import _name``, ``getattr``/``hasattr``
with a ``"_name"`` literal, a private method of a subclass of ``optuna.x.Y``) must be listed
in PRIVATE_MODULES / PRIVATE_NAMES, and every listed entry must still be used. An Optuna upgrade then has one checklist.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from hpsearch.storage._optuna import PRIVATE_MODULES, PRIVATE_NAMES

STORAGE = Path(__file__).resolve().parents[2] / "hpsearch" / "storage"

# Private-looking names in storage/ that are not Optuna's: SQLAlchemy's documented Row._mapping,
# and names hpsearch's own classes define and use through other objects.
NOT_OPTUNA = frozenset({"_mapping", "_on", "_original"})


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _optuna_class(base: ast.expr) -> bool:
    """A base class written ``optuna.x.Y``."""
    while isinstance(base, ast.Attribute):
        base = base.value
    return isinstance(base, ast.Name) and base.id == "optuna"


def _uses() -> Iterator[tuple[str, int, str, str]]:
    """(file, line, kind, name) for each private use in hpsearch/storage/: kind "module" or "name"."""
    for path in sorted(STORAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("optuna"):
                module = node.module or ""
                if any(_private(part) for part in module.split(".")):
                    yield path.name, node.lineno, "module", module
                for alias in node.names:
                    full = f"{module}.{alias.name}"
                    if _private(alias.name):
                        yield path.name, node.lineno, "name", alias.name
                    elif any(_private(part) for part in full.split(".")) and full in PRIVATE_MODULES:
                        yield path.name, node.lineno, "module", full  # `from optuna.storages._rdb import models`
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("optuna") and any(_private(p) for p in alias.name.split(".")):
                        yield path.name, node.lineno, "module", alias.name
            elif isinstance(node, ast.ClassDef) and any(_optuna_class(b) for b in node.bases):
                for item in node.body:  # a private method overridden: a use of Optuna's hook
                    if isinstance(item, ast.FunctionDef) and _private(item.name):
                        yield path.name, item.lineno, "name", item.name
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    continue
                yield path.name, node.lineno, "name", node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and _private(node.args[1].value)
            ):
                yield path.name, node.lineno, "name", node.args[1].value


USES = [u for u in _uses() if u[3] not in NOT_OPTUNA]


def test_every_private_optuna_use_in_storage_is_listed():
    unlisted = [
        f"{file}:{line} {name}"
        for file, line, kind, name in USES
        if name not in (PRIVATE_MODULES if kind == "module" else PRIVATE_NAMES)
    ]
    assert not unlisted, "private Optuna uses missing from hpsearch/storage/_optuna.py: " + ", ".join(unlisted)


def test_every_listed_private_name_is_still_used():
    used_modules = {name for _, _, kind, name in USES if kind == "module"}
    used_names = {name for _, _, kind, name in USES if kind == "name"}
    assert set(PRIVATE_MODULES) <= used_modules, f"listed but unused: {set(PRIVATE_MODULES) - used_modules}"
    assert set(PRIVATE_NAMES) <= used_names, f"listed but unused: {set(PRIVATE_NAMES) - used_names}"


def test_the_scan_sees_private_uses():
    """The scan itself works: it finds the uses this list was written from."""
    names = {name for _, _, _, name in USES}
    assert {"_storage", "_trial_id", "_CachedStorage", "_VersionManager", "_rng", "_find_sample_id"} <= names
