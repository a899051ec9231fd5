"""hpsearch: hyperparameter search over a fast NumPy MLP, with Optuna underneath.

The public surface is small; submodules hold one concept each:
``hpsearch.nn`` (the MLP), ``hpsearch.spec`` (study specs), ``hpsearch.space``,
``hpsearch.search`` (running studies), ``hpsearch.storage``, ``hpsearch.stats``,
``hpsearch.comparison`` (comparing search strategies), ``hpsearch.report``.
See docs/architecture.md.

For notebooks::

    study = hpsearch.run("studies/quickstart.toml", n_trials=20)        # -> optuna.Study
    verdict = hpsearch.compare("studies/digits.toml", seeds=10, jobs=2)  # -> the verdict dict
    hpsearch.enqueue("quickstart", [{"learning_rate": 0.01, "width": 32}])  # tried first by the next run
    hpsearch.stop("quickstart")                                          # its workers finish and exit
    hpsearch.copy_study("quickstart", "quickstart-pg", storage_to="postgresql+psycopg://...")

They are imported lazily (on first use), so ``import hpsearch`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from hpsearch.errors import SpecError, StudyNotFound, UserError

if TYPE_CHECKING:
    from hpsearch.spec import SpecSource

__all__ = [
    "__version__",
    "SpecError",
    "StudyNotFound",
    "UserError",
    "compare",
    "copy_study",
    "enqueue",
    "run",
    "stop",
]


def run(
    spec: SpecSource,
    *,
    storage: str | None = None,
    objective: Any = None,
    n_trials: int | None = None,
    jobs: int = 1,
    verbose: bool = False,
) -> Any:
    """Create or resume the study of ``spec`` (a path or a dict of the TOML's shape) and run it to
    its budget; returns the ``optuna.Study``. ``objective``: an optional callable
    ``(trial, params) -> float`` replacing the spec's objective. ``verbose``: also Optuna's
    INFO log lines (otherwise only its warnings)."""
    from hpsearch._api import library_logs
    from hpsearch._api import run as _run

    with library_logs(verbose):
        return _run(spec, storage=storage, objective=objective, n_trials=n_trials, jobs=jobs)


def compare(
    spec: SpecSource,
    *,
    samplers: Any = ("grid", "random", "tpe"),
    seeds: int = 10,
    storage: str | None = None,
    objective: Any = None,
    jobs: int = 1,
    n_trials: int | None = None,
    eval_seeds: int = 3,
    progress: bool = False,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run one study per sampler and seed, retrain every repeat's best, and return the verdict dict.

    ``spec``: a spec file path or a dict of the TOML's shape; ``objective``: an
    optional callable ``(trial, params) -> float`` replacing the spec's
    objective (for notebooks); ``storage``: a database URL (default: env
    HPSEARCH_STORAGE, else sqlite:///hpsearch.db). Re-running resumes. ``verbose``: also
    Optuna's INFO log lines, one per study created (otherwise only its warnings).
    """
    from hpsearch._api import console_progress, library_logs
    from hpsearch.comparison._flow import compare_arms

    with library_logs(verbose):
        verdict, _arms = compare_arms(
            spec,
            samplers=samplers,
            seeds=seeds,
            storage=storage,
            objective=objective,
            jobs=jobs,
            n_trials=n_trials,
            eval_seeds=eval_seeds,
            progress=console_progress(progress),
        )
        return verdict


def enqueue(name: str, configurations: Any = (), *, csv: str | None = None, storage: str | None = None) -> Any:
    """Queue configurations (dicts of parameter values, and/or the rows of a CSV file) that study
    ``name`` runs first; they count toward its budget and each runs once (``hpsearch enqueue``).
    Each is checked against the study's space first: one that does not fit raises UserError and
    nothing is stored. Returns what was stored (queue positions, how many wait, free slots)."""
    from hpsearch.search import enqueue as _enqueue
    from hpsearch.storage import resolve_storage_url

    return _enqueue(resolve_storage_url(storage), name, list(configurations), csv=csv)


def stop(name: str, *, storage: str | None = None) -> None:
    """Ask every worker of study ``name`` to finish its running trial and exit (``hpsearch stop``);
    the next ``run`` of the study clears the request and resumes it."""
    from hpsearch.search import request_stop
    from hpsearch.storage import resolve_storage_url

    request_stop(resolve_storage_url(storage), name)


def copy_study(name: str, new: str, *, storage: str | None = None, storage_to: str | None = None) -> int:
    """Copy study ``name`` as ``new`` (every trial, its slots and queue), into ``storage_to`` or the
    same database (``hpsearch copy``); returns the number of trials. UserError if ``new`` exists."""
    from hpsearch.storage import copy_study as _copy
    from hpsearch.storage import resolve_storage_url

    source = resolve_storage_url(storage)
    return _copy(source, name, source if storage_to is None else resolve_storage_url(storage_to), new)
