"""Import boundaries (docs/architecture.md), read from the sources with ast.

* hpsearch/report/ only reads stored studies: it imports neither ``objectives`` nor anything
  that runs or retrains a study (hpsearch.search's run functions, hpsearch.comparison's
  _arms / _retrain / _flow).
* Optuna's private API lives in hpsearch/storage/ alone: no other file imports an
  ``optuna.*._private`` module or reads a private Optuna attribute (``study._storage``, ...),
  nor reaches into one through ``self`` in a subclass of an Optuna class (``self._rng`` in a
  RandomSampler subclass, an override of QMCSampler's ``_find_sample_id``).
* hpsearch/nn/ imports nothing of hpsearch outside hpsearch.nn.
* Layers run one way: report/ and comparison/ never import each other (both read stored studies
  through hpsearch.results; the report renders the verdict it is handed); search/ imports nothing
  of the server (the trust rule lives in hpsearch.trust); storage/ imports nothing of search/.
* The study's vocabulary lives in hpsearch/records.py: an attribute key written as a literal
  anywhere else in the code (hpsearch, objectives, benchmarks, studies; ``attrs.get("diverged")``,
  ``set_user_attr("comparison", ...)``, ``{"train_seconds": ...}`` as attributes, ``"hpsearch_spec"``
  anywhere) fails.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hpsearch", "objectives")

# Private attributes of Optuna objects that hpsearch reads; hpsearch/storage/_optuna.py wraps them.
# (Any private attribute on a chain starting at ``optuna``, e.g. ``optuna.storages._rdb``, counts too.)
OPTUNA_PRIVATE_ATTRS = frozenset({"_storage", "_study_id", "_trial_id", "_backend", "_get_stale_trial_ids"})

SEARCH_RUNNERS = frozenset(
    {
        "run_study",
        "run_studies",
        "run_pool",
        "work",
        "join_study",
        "prepare_study",
        "ask_trial",
        "tell_trial",
    }
)
COMPARISON_RUNNERS = ("hpsearch.comparison._arms", "hpsearch.comparison._retrain", "hpsearch.comparison._flow")

# Files still reading Optuna's private API, each owned by work in progress elsewhere; the list
# shrinks to nothing as they move to hpsearch.storage (storage_of, study_id_of, trial_id_of, ...).
# Only remove entries from it.
PRIVATE_OPTUNA_PENDING: frozenset[str] = frozenset()
# report/ files still importing hpsearch.comparison._arms for safe_name (now hpsearch._names).
REPORT_PENDING: frozenset[str] = frozenset()


# (importing package, forbidden package): the layers' one-way rule.
FORBIDDEN_IMPORTS = (
    ("hpsearch/report/", "hpsearch.comparison"),
    ("hpsearch/comparison/", "hpsearch.report"),
    ("hpsearch/search/", "hpsearch.server"),
    ("hpsearch/storage/", "hpsearch.search"),
    ("hpsearch/results/", "hpsearch.report"),
    ("hpsearch/results/", "hpsearch.comparison"),
    ("hpsearch/records.py", "hpsearch.search"),
    ("hpsearch/records.py", "hpsearch.storage"),
)
ATTR_READERS = frozenset({"get", "pop", "setdefault"})
ATTR_WRITERS = frozenset(
    {
        "set_user_attr",
        "set_study_user_attr",
        "set_trial_user_attr",
        "set_system_attr",
        "set_study_system_attr",
        "set_trial_system_attr",
    }
)
# Calls that take a dict of attributes: hpsearch.storage's set_user_attrs, and ``update`` on an *attrs.
ATTR_DICT_WRITERS = frozenset({"set_user_attrs"})
# Where the attribute-key rule looks: all code but the tests (which pin the stored names literally,
# so that renaming a constant by mistake fails them).
ATTR_SCANNED = (*PACKAGES, "benchmarks", "studies")


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


SOURCES = dict(_sources())
ATTR_SOURCES = {
    path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
    for top in ATTR_SCANNED
    for path in sorted((ROOT / top).rglob("*.py"))
}


def _module_of(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(rel: str, tree: ast.Module) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, absolute module, names imported from it) for every import, relative ones resolved."""
    package = _module_of(rel) if rel.endswith("__init__.py") else _module_of(rel).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            yield node.lineno, module, tuple(a.name for a in node.names)


def _private_optuna_module(module: str, names: tuple[str, ...]) -> bool:
    parts = module.split(".")
    return parts[0] == "optuna" and any(p.startswith("_") for p in [*parts[1:], *names])


def private_optuna_uses(tree: ast.Module) -> list[tuple[int, str]]:
    """Private Optuna modules imported and private Optuna attributes read (not on ``self``)."""
    found = [
        (line, f"import {module} {', '.join(names)}".strip())
        for line, module, names in imports("x.py", tree)
        if _private_optuna_module(module, names)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in OPTUNA_PRIVATE_ATTRS:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and _rooted_at_optuna(node):
            found.append((node.lineno, f"optuna...{node.attr}"))
    return found


def _resolve(node: ast.expr, imported: dict[str, str]) -> object | None:
    """The object a base-class expression names: ``optuna.samplers.X``, or a name imported with
    ``from MODULE import X``; None for anything else (a class of the same file, a variable)."""
    chain: list[str] = []
    while isinstance(node, ast.Attribute):
        chain.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    if node.id in imported:
        module, _, name = imported[node.id].rpartition(".")
        root: object = getattr(importlib.import_module(module), name, None)
    elif node.id == "optuna":
        root = importlib.import_module("optuna")
    else:
        return None
    for part in chain:
        root = getattr(root, part, None)
    return root


def _optuna_private_names(cls: type) -> set[str]:
    """Private names Optuna's classes in ``cls``'s MRO define: methods and class attributes, and
    attributes their methods set on ``self`` (read from their source)."""
    names: set[str] = set()
    for base in cls.__mro__:
        if not base.__module__.startswith("optuna"):
            continue
        names |= {n for n in vars(base) if n.startswith("_") and not n.startswith("__")}
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(base)))
        except (OSError, TypeError):
            continue
        names |= {
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id == "self"
            and n.attr.startswith("_")
            and not n.attr.startswith("__")
        }
    return names


def private_optuna_in_subclasses(tree: ast.Module) -> list[tuple[int, str]]:
    """Optuna's private names used through ``self`` in a subclass of an Optuna class.

    ``self._rng`` in a RandomSampler subclass is Optuna's private state, as much as
    ``sampler._rng`` is; so is overriding a private method (``def _find_sample_id``) or assigning
    a private attribute Optuna's class sets (``self._random_sampler = ...``). A subclass of a class
    of the same file inherits its bases.
    """
    imported = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
        for alias in node.names
    }
    classes = {c.name: c for c in ast.walk(tree) if isinstance(c, ast.ClassDef)}
    private: dict[str, set[str]] = {}

    def names_of(c: ast.ClassDef) -> set[str]:
        if c.name not in private:
            private[c.name] = set()
            for b in c.bases:
                if isinstance(b, ast.Name) and b.id in classes:
                    private[c.name] |= names_of(classes[b.id])
                elif isinstance(cls := _resolve(b, imported), type):
                    private[c.name] |= _optuna_private_names(cls)
        return private[c.name]

    found = []
    for c in classes.values():
        names = names_of(c)
        for node in ast.walk(c):
            if isinstance(node, ast.FunctionDef) and node.name in names and node in c.body:
                found.append((node.lineno, f"def {node.name} (overrides Optuna's)"))
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in names
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                found.append((node.lineno, f"self.{node.attr}"))
    return found


def _rooted_at_optuna(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id == "optuna"


def _targets(module: str, names: tuple[str, ...]) -> list[str]:
    """The module and each ``module.name`` (a name may itself be a module: ``from .. import _arms``)."""
    return [module, *(f"{module}.{n}" for n in names)]


def report_violations(rel: str, tree: ast.Module) -> list[str]:
    """Imports by which a report/ file could run or retrain a study."""
    bad = []
    for line, module, names in imports(rel, tree):
        for target in _targets(module, names):
            if target.split(".")[0] == "objectives" or target.startswith(COMPARISON_RUNNERS):
                bad.append(f"{rel}:{line}: imports {target}")
                break
        else:
            if module.startswith("hpsearch.search") and SEARCH_RUNNERS & set(names):
                bad.append(f"{rel}:{line}: imports {sorted(SEARCH_RUNNERS & set(names))} from {module}")
    return bad


def nn_violations(rel: str, tree: ast.Module) -> list[str]:
    """Imports by which an nn/ file would depend on the rest of hpsearch (or on objectives)."""
    bad = []
    for line, module, names in imports(rel, tree):
        for target in _targets(module, names) if module in ("hpsearch", "") else [module]:
            top = target.split(".")
            if top[0] == "objectives" or (top[0] == "hpsearch" and len(top) > 1 and top[1] != "nn"):
                bad.append(f"{rel}:{line}: imports {target}")
                break
    return bad


def layer_violations(rel: str, tree: ast.Module) -> list[str]:
    """Imports that run a layer backwards (FORBIDDEN_IMPORTS)."""
    bad = []
    for line, module, names in imports(rel, tree):
        for prefix, forbidden in FORBIDDEN_IMPORTS:
            if not rel.startswith(prefix):
                continue
            if any(t == forbidden or t.startswith(forbidden + ".") for t in _targets(module, names)):
                bad.append(f"{rel}:{line}: imports {module} (no {prefix} -> {forbidden})")
    return bad


def _receiver_name(node: ast.expr) -> str:
    while isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def attr_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """Attribute keys of hpsearch.records written as string literals.

    A key of hpsearch's own (``hpsearch_spec``, ``hpsearch_slot``, ... : no other meaning) is a copy
    anywhere. The others (``diverged``, ``seed``, ...) are ordinary words too, so they count where
    they read or write attributes: a read or test on an ``*attrs`` (``attrs.get("diverged")``,
    ``user_attrs["n_val"]``, ``"seed" in attrs``), a ``set_*_attr`` call, and a dict literal of
    attributes (passed to ``set_user_attrs``, merged by ``*attrs.update``, assigned to ``*attrs``).
    """
    from hpsearch.records import ATTRIBUTE_KEYS

    own = {k for k in ATTRIBUTE_KEYS if k.startswith("hpsearch_")}

    def key(node: ast.expr | None) -> list[tuple[int, str]]:
        if isinstance(node, ast.Constant) and node.value in ATTRIBUTE_KEYS and node.value not in own:
            return [(node.lineno, repr(node.value))]
        return []

    def dict_keys(node: ast.expr) -> list[tuple[int, str]]:
        return [hit for k in node.keys for hit in key(k)] if isinstance(node, ast.Dict) else []

    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in own:
            found.append((node.lineno, repr(node.value)))
        elif isinstance(node, ast.Call):
            method = _receiver_name(node.func)
            receiver = _receiver_name(node.func.value) if isinstance(node.func, ast.Attribute) else ""
            if method in ATTR_WRITERS:
                found += [hit for k in node.args[:2] for hit in key(k)]
            elif isinstance(node.func, ast.Attribute) and method in ATTR_READERS and receiver.endswith("attrs"):
                found += key(node.args[0] if node.args else None)
            elif method in ATTR_DICT_WRITERS or (method == "update" and receiver.endswith("attrs")):
                found += [hit for a in node.args for hit in dict_keys(a)]
                found += [(node.lineno, repr(k.arg)) for k in node.keywords if k.arg in ATTRIBUTE_KEYS]
        elif isinstance(node, ast.Subscript) and _receiver_name(node.value).endswith("attrs"):
            found += key(node.slice)
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            if _receiver_name(node.comparators[0]).endswith("attrs"):
                found += key(node.left)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_receiver_name(t).endswith("attrs") for t in targets):
                found += dict_keys(node.value)
    return found


def test_layers_run_one_way() -> None:
    bad = [v for rel, tree in SOURCES.items() for v in layer_violations(rel, tree)]
    assert not bad, "imports against the layers (docs/architecture.md):\n" + "\n".join(bad)


def test_attribute_keys_only_in_records() -> None:
    bad = []
    for rel, tree in ATTR_SOURCES.items():
        if rel == "hpsearch/records.py":
            continue
        bad += [f"{rel}:{line}: {key}" for line, key in attr_literals(tree)]
    assert not bad, "attribute keys as literals (import them from hpsearch.records):\n" + "\n".join(bad)


def test_report_only_reads_stored_studies() -> None:
    bad = [
        v
        for rel, tree in SOURCES.items()
        if rel.startswith("hpsearch/report/") and rel not in REPORT_PENDING
        for v in report_violations(rel, tree)
    ]
    assert not bad, "hpsearch/report/ must only read stored studies:\n" + "\n".join(bad)


def test_optuna_private_api_only_in_storage() -> None:
    bad = []
    for rel, tree in SOURCES.items():
        if rel.startswith("hpsearch/storage/") or rel in PRIVATE_OPTUNA_PENDING:
            continue
        bad += [f"{rel}:{line}: {what}" for line, what in private_optuna_uses(tree)]
        bad += [f"{rel}:{line}: {what}" for line, what in private_optuna_in_subclasses(tree)]
    assert not bad, "private Optuna API outside hpsearch/storage/ (use hpsearch.storage._optuna):\n" + "\n".join(bad)


def test_pending_lists_name_files_that_still_need_them() -> None:
    """An entry whose file no longer breaks its rule must be removed (the lists only shrink)."""
    for rel in PRIVATE_OPTUNA_PENDING:
        assert private_optuna_uses(SOURCES[rel]), f"{rel} is clean: drop it from PRIVATE_OPTUNA_PENDING"
    for rel in REPORT_PENDING:
        assert report_violations(rel, SOURCES[rel]), f"{rel} is clean: drop it from REPORT_PENDING"


def test_nn_imports_nothing_else_of_hpsearch() -> None:
    bad = [v for rel, tree in SOURCES.items() if rel.startswith("hpsearch/nn/") for v in nn_violations(rel, tree)]
    assert not bad, "hpsearch/nn/ must stand alone:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("from objectives import build_objective", "report"),
        ("from hpsearch.search import run_study", "report"),
        ("from hpsearch.comparison._retrain import retrain_bests", "report"),
        ("from ..comparison import _arms", "report"),
        ("from optuna.storages._rdb import models", "optuna"),
        ("import optuna.trial._state", "optuna"),
        ("from optuna.storages import _CachedStorage", "optuna"),
        ("x = study._storage.get_all_trials(study._study_id)", "optuna"),
        ("models = optuna.storages._rdb.models", "optuna"),
        ("from hpsearch.spec import Spec", "nn"),
        ("from .. import stats", "nn"),
        ("import objectives.mlp", "nn"),
    ],
)
def test_each_rule_catches_a_violation(source: str, rule: str) -> None:
    """The checks above are not vacuous: each flags a planted violation."""
    tree = ast.parse(source)
    if rule == "report":
        assert report_violations("hpsearch/report/_x.py", tree)
    elif rule == "optuna":
        assert private_optuna_uses(tree)
    else:
        assert nn_violations("hpsearch/nn/_x.py", tree)


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("hpsearch/report/_x.py", "from hpsearch.comparison._verdict import group_arms"),
        ("hpsearch/report/_x.py", "from hpsearch import comparison"),
        ("hpsearch/comparison/_x.py", "from hpsearch.report._importance import importance_spread"),
        ("hpsearch/comparison/_x.py", "from ..report import write_report"),
        ("hpsearch/search/_x.py", "from hpsearch.server._trust import check_may_run"),
        ("hpsearch/storage/_x.py", "from hpsearch.search._display import finished"),
        ("hpsearch/storage/_x.py", "from .. import search"),
    ],
)
def test_layer_rule_catches_a_backward_import(rel: str, source: str) -> None:
    assert layer_violations(rel, ast.parse(source))


@pytest.mark.parametrize(
    "source",
    [
        'x = study.user_attrs.get("diverged")',
        'study.set_user_attr("comparison", name)',
        'storage.set_trial_user_attr(tid, "error", text)',
        'storage.set_trial_system_attr(tid, "fail_reason", text)',
        'n = s.attrs["n_val"]',
        'if "test_score" in study.user_attrs: pass',
        'KEY = "hpsearch_spec"',
        'x = t.system_attrs.get("hpsearch_slot")',
        'LEASE = "hpsearch_lease_until"',
        'set_user_attrs(trial, {"train_seconds": t, "diverged": d})',
        'attrs = {"epochs_run": n}',
        'attrs: dict = {"learning_curve": c}',
        'trial.user_attrs.update({"n_parameters": n})',
        'study.user_attrs.update(stop_reason="done")',
    ],
)
def test_attribute_literal_rule_catches_a_copy(source: str) -> None:
    assert attr_literals(ast.parse(source))


def test_attribute_rule_flags_every_planted_key_of_a_module() -> None:
    """The rule as the test applies it, on a small module: each copy is reported with its line."""
    source = (
        "import math\n"
        'attrs = {"train_seconds": 1.0, "note": "x"}\n'
        'if attrs.get("diverged"):\n'
        '    trial.set_user_attr("error", "boom")\n'
        'SLOT = "hpsearch_slot"\n'
    )
    assert sorted(attr_literals(ast.parse(source))) == [
        (2, "'train_seconds'"),
        (3, "'diverged'"),
        (4, "'error'"),
        (5, "'hpsearch_slot'"),
    ]


def test_attribute_rule_scans_all_code_but_the_tests() -> None:
    scanned = set(ATTR_SOURCES)
    expected = ("objectives/mlp.py", "objectives/command.py", "hpsearch/storage/_attrs.py", "benchmarks/bench_scale.py")
    assert set(expected) <= scanned
    assert not any(rel.startswith("tests/") for rel in scanned)


def test_attribute_literal_rule_passes_other_strings() -> None:
    tree = ast.parse(
        'row = {"sampler": s}\nx = summary.get("sampler")\nstate = "diverged"\n'
        'y = t.user_attrs.get(DIVERGED_ATTR)\nz = params.get("seed")'
    )
    assert attr_literals(tree) == []


def test_allowed_imports_pass() -> None:
    assert not nn_violations(
        "hpsearch/nn/_x.py", ast.parse("from . import _layers\nfrom hpsearch.nn._blas import axpy")
    )
    assert not report_violations(
        "hpsearch/report/_x.py",
        ast.parse("from hpsearch.records import is_finished\nfrom hpsearch.results import group_by_sampler"),
    )


@pytest.mark.parametrize(
    "source",
    [
        "from optuna.samplers import RandomSampler\nclass S(RandomSampler):\n"
        "    def before_trial(self, study, trial):\n        self._rng.rng.seed(1)",
        "import optuna\nclass S(optuna.samplers.CmaEsSampler):\n    def f(self):\n        return self._cma_rng",
        "from optuna.samplers import TPESampler\nclass S(TPESampler):\n"
        "    def __init__(self):\n        self._random_sampler = None",
        "from optuna.samplers import QMCSampler\nclass S(QMCSampler):\n"
        "    def _find_sample_id(self, study, space):\n        return 0",
        "from optuna.samplers import RandomSampler\nclass A(RandomSampler):\n    pass\n"
        "class B(A):\n    def f(self):\n        return self._rng",
    ],
)
def test_private_optuna_rule_catches_a_subclass_reaching_in(source: str) -> None:
    assert private_optuna_in_subclasses(ast.parse(source))


def test_a_subclass_own_private_names_pass() -> None:
    tree = ast.parse(
        "from optuna.samplers import RandomSampler\nclass S(RandomSampler):\n"
        "    def __init__(self, seed):\n        super().__init__(seed=seed)\n        self._base_seed = seed\n"
        "    def _mine(self):\n        return self._base_seed\n"
        "class Plain:\n    def f(self):\n        return self._rng"
    )
    assert private_optuna_in_subclasses(tree) == []


def test_public_optuna_names_pass() -> None:
    tree = ast.parse(
        "from optuna.trial import TrialState, FrozenTrial\nimport optuna.storages\n"
        "self._storage = s\nfrom optuna.samplers import TPESampler"
    )
    assert private_optuna_uses(tree) == []
