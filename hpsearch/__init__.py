"""hpsearch: hyperparameter search over a fast NumPy MLP, with Optuna underneath.

The public surface is small; submodules hold one concept each:
``hpsearch.nn`` (the MLP), ``hpsearch.spec`` (study specs), ``hpsearch.space``,
``hpsearch.search`` (running studies), ``hpsearch.storage``, ``hpsearch.stats``,
``hpsearch.comparison`` (comparing search strategies), ``hpsearch.report``.
See docs/architecture.md.

For notebooks::

    study = hpsearch.run("studies/quickstart.toml", n_trials=20)        # -> optuna.Study
    verdict = hpsearch.compare("studies/digits.toml", seeds=10, jobs=2)  # -> the verdict dict

Both are imported lazily (on first use), so ``import hpsearch`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from hpsearch.errors import SpecError, StudyNotFound, UserError

if TYPE_CHECKING:
    from hpsearch.spec import SpecSource

__all__ = ["__version__", "SpecError", "StudyNotFound", "UserError", "compare", "run"]


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
    from hpsearch.comparison._flow import compare as _compare

    with library_logs(verbose):
        return _compare(
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
