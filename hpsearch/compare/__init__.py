"""Comparing search strategies: run the arms, retrain every repeat's best, compute the verdict.

This package is the comparison *engine* (it trains); ``hpsearch.report`` only
reads what it stored. Pieces, one concept each:

* ``_arms``: the arm studies (one per sampler and seed, same split and budget) and running them;
* ``_retrain``: every repeat's best retrained with several training seeds, scored on test;
* ``_verdict``: the verdict dict (exact rank tests, Holm, Hodges-Lehmann, min_p), from stored studies;
* ``_stored``: the little of an arm study the engine reads back (its best trial);
* ``_api``: the whole flow behind the CLI's ``compare`` and ``hpsearch.compare(...)``.

``hpsearch.compare(spec, ...)`` is both this package and the public function:
the module is callable (``hpsearch.compare(spec, samplers=..., seeds=...)``),
because a subpackage and a function cannot share the name ``hpsearch.compare``
otherwise (importing the package would replace the function).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from hpsearch.compare._arms import SAMPLERS, arm_name, arm_specs, parse_samplers, run_comparison, safe_name
from hpsearch.compare._stored import StoredArm, arm_studies, best_trial

__all__ = ["SAMPLERS", "StoredArm", "arm_name", "arm_specs", "arm_studies", "best_trial", "compare",
           "comparison_verdict", "load_verdict", "parse_samplers", "retrain_bests", "run_comparison", "safe_name"]


def compare(spec: Any, *, samplers: Any = ("grid", "random", "tpe"), seeds: int = 3, storage: str | None = None,
            objective: Any = None, jobs: int = 1, n_trials: int | None = None, eval_seeds: int = 3,
            progress: bool = False) -> dict[str, Any]:
    """Run one study per sampler and seed, retrain every repeat's best, and return the verdict dict.

    ``spec``: a spec file path or a dict of the TOML's shape; ``objective``: an
    optional callable ``(trial, params) -> float`` replacing the spec's
    objective (for notebooks); ``storage``: a database URL (default: env
    HPSEARCH_STORAGE, else sqlite:///hpsearch.db). Re-running resumes.
    """
    from hpsearch.compare._api import compare as _compare

    return _compare(spec, samplers=samplers, seeds=seeds, storage=storage, objective=objective, jobs=jobs,
                    n_trials=n_trials, eval_seeds=eval_seeds, progress=progress)


def comparison_verdict(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See hpsearch.compare._verdict.comparison_verdict (imported lazily: it needs SciPy)."""
    from hpsearch.compare._verdict import comparison_verdict as _verdict

    return _verdict(*args, **kwargs)


def load_verdict(storage: Any, name: str, *, seed: int = 0) -> dict[str, Any]:
    """The verdict of comparison ``name`` read from storage."""
    from hpsearch.compare._verdict import load_verdict as _load

    return _load(storage, name, seed=seed)


def retrain_bests(*args: Any, **kwargs: Any) -> int:
    """See hpsearch.compare._retrain.retrain_bests."""
    from hpsearch.compare._retrain import retrain_bests as _retrain

    return _retrain(*args, **kwargs)


class _CallableModule(types.ModuleType):
    """``hpsearch.compare(...)`` calls :func:`compare` (see the module docstring)."""

    def __call__(self, spec: Any, **kwargs: Any) -> dict[str, Any]:
        return compare(spec, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
