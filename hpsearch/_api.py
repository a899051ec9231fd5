"""The notebook-facing Python API behind ``hpsearch.run`` and ``hpsearch.compare``.

``spec`` is a spec file path or a dict of the TOML's shape. ``objective`` is an
optional callable ``(trial, params) -> float`` that replaces the spec's
objective. Studies store their objective as ``"package.module:function"``
(workers in other processes import it from there), so:

* a function importable by that reference (defined in a module) is stored as
  it is and works with any ``jobs``;
* a function that cannot be imported again (defined in a notebook, in
  ``__main__``, a lambda or a closure) is registered here, in this process,
  and stored as ``hpsearch._api:<its name>``; it needs ``jobs=1``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import UserError

if TYPE_CHECKING:
    from hpsearch.spec import Spec, SpecSource

_REGISTERED: dict[str, Callable[..., float]] = {}
_PREFIX = "notebook_"


def __getattr__(name: str) -> Callable[..., float]:
    """``load_objective("hpsearch._api:notebook_<name>")`` finds registered callables here."""
    if name.startswith(_PREFIX) and name in _REGISTERED:
        return _REGISTERED[name]
    raise AttributeError(name)


def objective_reference(objective: Callable[..., float], jobs: int) -> str:
    """The ``package.module:function`` a study stores for ``objective`` (see the module docstring)."""
    if not callable(objective):
        raise UserError(f"objective: expected a callable (trial, params) -> float, got {type(objective).__name__}")
    module, qualname = getattr(objective, "__module__", None), getattr(objective, "__qualname__", "")
    if module and module != "__main__" and qualname.isidentifier():
        try:
            if getattr(importlib.import_module(module), qualname, None) is objective:
                return f"{module}:{qualname}"
        except Exception:  # not importable again: register it below
            pass
    if jobs != 1:
        raise UserError(
            "objective: a function defined in a notebook or __main__ (or a lambda) runs in this "
            "process only; use jobs=1, or define it in an importable module"
        )
    name = _PREFIX + "".join(c if c.isalnum() else "_" for c in getattr(objective, "__name__", "objective"))
    _REGISTERED[name] = objective
    return f"{__name__}:{name}"


def resolve_spec(spec: SpecSource, objective: Callable[..., float] | None = None, jobs: int = 1) -> Spec:
    """A validated Spec from a path, a dict or a Spec; ``objective`` replaces the spec's objective."""
    from hpsearch.spec import Spec, load_spec, spec_from_dict

    if isinstance(spec, Spec):
        d, source = spec.to_dict(), spec.study.name
    elif isinstance(spec, (str, Path)):
        if objective is None:
            return load_spec(spec)
        d, source = load_spec(spec, preflight=False).to_dict(), str(spec)
    elif isinstance(spec, dict):
        d, source = spec, "<dict>"
    else:
        raise UserError(f"spec: expected a spec file path or a dict of the TOML's shape, got {type(spec).__name__}")
    if objective is not None:
        d = {**d, "study": {**d.get("study", {}), "objective": objective_reference(objective, jobs)}}
        d.pop("data", None)  # a user objective loads its own data
    return spec_from_dict(d, source=source)


def run(
    spec: SpecSource,
    *,
    storage: str | None = None,
    objective: Callable[..., float] | None = None,
    n_trials: int | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> Any:
    """Create or resume the study of ``spec`` and run it to its budget; returns the optuna.Study."""
    from hpsearch.search import run_study
    from hpsearch.storage import resolve_storage_url

    resolved = resolve_spec(spec, objective, jobs)
    return run_study(
        resolved, resolve_storage_url(storage), n_trials=n_trials, jobs=jobs, progress=console_progress(progress)
    )


@contextmanager
def library_logs(verbose: bool) -> Iterator[None]:
    """Optuna's INFO lines (one "A new study created" per study: 61 for one run and one compare),
    only when ``verbose``; warnings always. The caller's own verbosity is restored after."""
    import optuna

    before = optuna.logging.get_verbosity()
    if not verbose:
        optuna.logging.set_verbosity(min(max(before, optuna.logging.WARNING), optuna.logging.CRITICAL))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def console_progress(progress: bool) -> Any:
    """The Python API's ``progress=True``: the command line's display (a bar, notes, the summary)."""
    if not progress:
        return None
    from rich.console import Console

    from hpsearch.cli._progress import ConsoleProgress

    return ConsoleProgress(Console())
