"""The study spec as pydantic models: the *shape* of a spec.

The models check types and simple bounds; relations between keys (low < high,
a metric that fits the dataset, a name both fixed and searched) are checked in
:mod:`hpsearch.spec.checks`, which fills in what follows from them
(direction, metric, task). Unknown keys are forbidden everywhere, so a typo is
an error rather than a silently ignored setting.
"""

from __future__ import annotations

import math
from os import PathLike
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from hpsearch.samplers import SamplerName


# Bounds on every number a spec carries, so nothing accepted here can fail later in
# storage or sampling (a 4xx / exit 2 now rather than a 500 at the first ask):
MAX_TRIALS = 1_000_000  # n_trials: far beyond any real budget, small enough to count slots
MAX_SEED = 2**32 - 1  # numpy's seeds (every sampler) must be < 2**32
MAX_INT_VALUE = 2**53  # int params travel as floats inside Optuna: exact up to 2**53
Finite = Annotated[float, Field(allow_inf_nan=False)]
Scalar = Union[bool, int, Finite, str]


class _Section(BaseModel):
    # strict: "1e-3" (a string) is not a number and 1.0 is not an integer.
    model_config = ConfigDict(extra="forbid", strict=True)


class StudySection(_Section):
    """[study]: what is optimised, how, and for how many trials."""

    name: str = Field(min_length=1, max_length=200)
    objective: str = Field("mlp", description="mlp | text | external | package.module:function")
    metric: str | None = Field(None, description="validation metric; sets the direction")
    direction: Literal["maximize", "minimize"] | None = None
    sampler: SamplerName = "tpe"
    n_trials: int = Field(20, ge=1, le=MAX_TRIALS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    pruner: Literal["none", "median", "hyperband"] = "none"
    workdir: str | None = Field(
        None, description="folder a user objective is imported from and a command runs in; "
                          "default: the spec file's folder")


class DataSection(_Section):
    """[data]: the dataset, its split, and dataset options."""

    dataset: Literal[
        "digits", "breast_cancer", "wine", "iris", "diabetes",
        "moons", "make_classification", "csv", "text",
    ]
    path: str | None = Field(None, description="csv/text file, relative to the spec file")
    target: str | None = Field(None, description="name of the target column")
    text_column: str | None = Field(None, description="text dataset from a file: the text column")
    task: Literal["classification", "regression"] | None = None
    val_fraction: float = Field(0.2, gt=0, lt=1)
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="split seed; default: study.seed")
    n_samples: int | None = Field(None, ge=20, le=1_000_000)
    noise: float | None = Field(None, ge=0, allow_inf_nan=False)
    n_features: int | None = Field(None, ge=1, le=10_000)
    n_informative: int | None = Field(None, ge=1, le=10_000)
    n_classes: int | None = Field(None, ge=2, le=1_000)
    class_sep: float | None = Field(None, gt=0, allow_inf_nan=False)
    drop: list[str] | None = Field(None, description="csv: columns to leave out")
    categorical: list[str] | None = Field(None, description="csv: columns to one-hot encode even if numeric")


class FloatParam(_Section):
    """A real-valued hyperparameter in [low, high]."""

    type: Literal["float"]
    low: Finite
    high: Finite
    log: bool = False
    step: float | None = Field(None, gt=0, allow_inf_nan=False)
    grid: list[Finite] | None = Field(None, min_length=1)

    @field_validator("high")
    @classmethod
    def _width_is_finite(cls, high: float, info: ValidationInfo) -> float:
        """[-1e308, 1e308] has finite ends but an infinite width, which no sampler can draw from."""
        low = info.data.get("low")
        if low is not None and not math.isfinite(high - low):
            raise PydanticCustomError(
                "finite_width", "a value with a finite width high - low (low = {low})", {"low": low})
        return high


class IntParam(_Section):
    """An integer hyperparameter in [low, high] (both included)."""

    type: Literal["int"]
    low: int = Field(ge=-MAX_INT_VALUE, le=MAX_INT_VALUE)
    high: int = Field(ge=-MAX_INT_VALUE, le=MAX_INT_VALUE)
    log: bool = False
    step: int = Field(1, ge=1, le=MAX_INT_VALUE)
    grid: list[Annotated[int, Field(ge=-MAX_INT_VALUE, le=MAX_INT_VALUE)]] | None = Field(None, min_length=1)


class CategoricalParam(_Section):
    """A hyperparameter taking one of a list of values."""

    type: Literal["categorical"]
    choices: list[Scalar] = Field(min_length=1)
    grid: list[Scalar] | None = Field(None, min_length=1)


Param = Annotated[Union[FloatParam, IntParam, CategoricalParam], Field(discriminator="type")]
PARAM_TYPES = {"float": FloatParam, "int": IntParam, "categorical": CategoricalParam}


# A command's timeout is bounded so a typo (600000 for 600) is caught: one week.
MAX_COMMAND_TIMEOUT = 7 * 24 * 3600


class CommandSection(_Section):
    """[command]: the user's own training program, for ``objective = "command"``."""

    run: str = Field(min_length=1, description="command line; {name} is a parameter; split like a shell, "
                                                "run without one")
    timeout: float = Field(3600, gt=0, le=MAX_COMMAND_TIMEOUT, description="seconds per trial, then it fails")


class Spec(_Section):
    """A whole study spec. Build it with ``load_spec`` or ``spec_from_dict``."""

    study: StudySection
    data: DataSection | None = None
    training: dict[str, Scalar] = Field(default_factory=dict)
    space: dict[str, Param]
    command: CommandSection | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict; ``spec_from_dict(spec.to_dict()) == spec``."""
        return self.model_dump(mode="json", exclude_none=True)

    @property
    def split_seed(self) -> int:
        """Seed of the train/val/test split: data.seed, else study.seed."""
        if self.data is not None and self.data.seed is not None:
            return self.data.seed
        return self.study.seed


#: What the Python API (hpsearch.run, hpsearch.compare) accepts as a spec: a validated Spec,
#: a dict of the TOML's shape, or the path of a TOML file.
SpecSource = Union[Spec, dict[str, Any], str, PathLike]
