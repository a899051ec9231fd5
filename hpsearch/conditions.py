"""Conditional parameters: when a hyperparameter exists in a trial.

A parameter of [space] with ``when = { optimizer = ["sgd", "momentum"] }``
exists in a trial only while each named parameter (a categorical of the same
[space], its *parent*) exists and takes one of the listed values. Otherwise it
is not suggested at all: it is absent from the trial's params (empty in
exports), and the objective uses its fixed or default value. Why absent
rather than a dummy value: a momentum drawn for Adam would be noise that TPE
models and that reports plot as if it mattered.

Parents are decided before their children (:func:`decision_order`), so a
parent may itself be conditional. The spec checks (hpsearch.spec.checks)
refuse unknown parents, non-categorical parents, values that are not among
the parent's choices, and cycles, before anything runs; this module assumes
a checked space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def conditions(p: Any) -> dict[str, list[Any]]:
    """The parameter's ``when`` table ({} for an unconditional one)."""
    return dict(getattr(p, "when", None) or {})


def has_conditions(space: Mapping[str, Any]) -> bool:
    """Whether any parameter of the space is conditional."""
    return any(conditions(p) for p in space.values())


def parent_names(space: Mapping[str, Any]) -> list[str]:
    """The parameters some condition names, in the space's order."""
    named = {parent for p in space.values() for parent in conditions(p)}
    return [name for name in space if name in named]


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same type: 1, 1.0 and True are different choices."""
    return bool(a == b and type(a) is type(b))


def holds(p: Any, values: Mapping[str, Any]) -> bool:
    """Whether the parameter exists given the values of the parameters decided so far."""
    for parent, allowed in conditions(p).items():
        if parent not in values or not any(same_value(values[parent], v) for v in allowed):
            return False
    return True


def find_cycle(space: Mapping[str, Any]) -> list[str] | None:
    """A cycle of conditions as a path (``["a", "b", "a"]``), or None. Unknown parents are ignored."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for parent in conditions(space[name]):
            if parent not in space:
                continue
            if state.get(parent) == 1:
                return path[path.index(parent) :] + [parent]
            if parent not in state:
                found = visit(parent)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return None

    for name in space:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def decision_order(space: Mapping[str, Any]) -> list[str]:
    """The space's names with every parent before its children, else in the space's order."""
    done: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for parent in conditions(space[name]):
            if parent in space:
                add(parent)
        done.append(name)

    if find_cycle(space):
        raise ValueError(f"conditions form a cycle: {' -> '.join(find_cycle(space) or [])}")
    for name in space:
        add(name)
    return done


def active(space: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of a full assignment that exists, in the space's order.

    Decided parents first, so a child of an absent parent is absent too.
    """
    kept: dict[str, Any] = {}
    for name in decision_order(space):
        if name in values and holds(space[name], kept):
            kept[name] = values[name]
    return {name: kept[name] for name in space if name in kept}


def condition_depths(space: Mapping[str, Any]) -> dict[str, int]:
    """How many conditions stand above each parameter: 0 unconditional, 1 + its deepest parent's."""
    depths: dict[str, int] = {}
    for name in decision_order(space):
        parents = [p for p in conditions(space[name]) if p in space]
        depths[name] = 1 + max((depths[p] for p in parents), default=0) if conditions(space[name]) else 0
    return depths
