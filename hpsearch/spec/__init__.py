"""Study specs: TOML/JSON -> a validated :class:`Spec`, with one-line errors.

See docs/architecture.md (the spec contract). Every problem raises
:class:`hpsearch.errors.SpecError` with the message
``FILE: key.path: expected X, got Y``.
"""

from __future__ import annotations

from hpsearch.spec.catalog import METRICS, hyperparameters, metric_direction
from hpsearch.spec.load import load_spec, spec_from_dict, spec_json_schema
from hpsearch.spec.models import (
    CategoricalParam,
    DataSection,
    FloatParam,
    IntParam,
    Param,
    Spec,
    SpecSource,
    StudySection,
)

__all__ = [
    "METRICS",
    "CategoricalParam",
    "DataSection",
    "FloatParam",
    "IntParam",
    "Param",
    "Spec",
    "SpecSource",
    "StudySection",
    "hyperparameters",
    "load_spec",
    "metric_direction",
    "spec_from_dict",
    "spec_json_schema",
]
