"""hpsearch: hyperparameter search over a fast NumPy MLP, with Optuna underneath.

The public surface is small; submodules hold one concept each:
``hpsearch.nn`` (the MLP), ``hpsearch.spec`` (study specs), ``hpsearch.space``,
``hpsearch.search`` (running studies), ``hpsearch.storage``, ``hpsearch.stats``,
``hpsearch.report``. See docs/architecture.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

from hpsearch.errors import SpecError, StudyNotFound, UserError

__all__ = ["__version__", "SpecError", "StudyNotFound", "UserError"]
