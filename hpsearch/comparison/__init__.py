"""Comparing search strategies: run the arms, retrain every repeat's best, compute the verdict.

This package is the comparison *engine* (it trains); ``hpsearch.report`` only
reads what it stored. Pieces, one concept each:

* ``_arms``: the arm studies (one per sampler and seed, same split and budget) and running them;
* ``_retrain``: every repeat's best retrained with several training seeds, scored on test;
* ``_verdict``: the verdict dict (exact rank tests, Holm, Hodges-Lehmann, min_p), from the arm
  studies as hpsearch.results reads them, and storing it with the comparison;
* ``_flow``: the whole flow behind the CLI's ``compare`` and ``hpsearch.compare(...)``: run the arms,
  re-score every repeat's best, compute and store the verdict, telling a progress callback.

The public function is ``hpsearch.compare`` (defined in ``hpsearch/__init__.py``);
this package is named ``comparison`` so that the two never shadow each other.
"""

from __future__ import annotations

from typing import Any

from hpsearch.comparison._arms import SAMPLERS, arm_name, arm_specs, parse_samplers, run_comparison, safe_name

__all__ = [
    "SAMPLERS",
    "arm_name",
    "arm_specs",
    "comparison_verdict",
    "current_verdict",
    "load_verdict",
    "parse_samplers",
    "retrain_bests",
    "run_comparison",
    "safe_name",
]


def comparison_verdict(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See hpsearch.comparison._verdict.comparison_verdict (imported lazily: it needs SciPy)."""
    from hpsearch.comparison._verdict import comparison_verdict as _verdict

    return _verdict(*args, **kwargs)


def current_verdict(storage: Any, name: str, *, seed: int = 0) -> dict[str, Any]:
    """The verdict of comparison ``name``: the stored one if still current, else computed (nothing stored)."""
    from hpsearch.comparison._verdict import current_verdict as _current

    return _current(storage, name, seed=seed)


def load_verdict(storage: Any, name: str, *, seed: int = 0) -> dict[str, Any]:
    """The verdict of comparison ``name`` read from storage."""
    from hpsearch.comparison._verdict import load_verdict as _load

    return _load(storage, name, seed=seed)


def retrain_bests(*args: Any, **kwargs: Any) -> int:
    """See hpsearch.comparison._retrain.retrain_bests."""
    from hpsearch.comparison._retrain import retrain_bests as _retrain

    return _retrain(*args, **kwargs)
