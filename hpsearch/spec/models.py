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
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from hpsearch._names import name_problem
from hpsearch.samplers import SamplerName

# Bounds on every number a spec carries, so nothing accepted here can fail later in
# storage or sampling (a 4xx / exit 2 now rather than a 500 at the first ask):
MAX_TRIALS = 1_000_000  # n_trials: far beyond any real budget, small enough to count slots
MAX_SEED = 2**32 - 1  # numpy's seeds (every sampler) must be < 2**32
MAX_INT_VALUE = 2**53  # int params travel as floats inside Optuna: exact up to 2**53
MAX_OBJECTIVES = 8  # objectives of one study: a Pareto front in more dimensions is rarely readable
Finite = Annotated[float, Field(allow_inf_nan=False)]
Scalar = bool | int | Finite | str


class _Section(BaseModel):
    # strict: "1e-3" (a string) is not a number and 1.0 is not an integer.
    model_config = ConfigDict(extra="forbid", strict=True)


class StudySection(_Section):
    """[study]: what is optimised, how, and for how many trials."""

    name: str = Field(min_length=1, max_length=200)
    objective: str = Field("mlp", description="mlp | text | table | command | external | package.module:function")
    metric: str | None = Field(None, description="validation metric; sets the direction")
    direction: Literal["maximize", "minimize"] | None = None
    objectives: list[str] | None = Field(
        None,
        min_length=2,
        max_length=MAX_OBJECTIVES,
        description="several metrics optimised at once (a Pareto front); each direction follows from its metric",
    )
    directions: list[Literal["maximize", "minimize"]] | None = Field(
        None,
        min_length=2,
        max_length=MAX_OBJECTIVES,
        description="one per objective, for metrics whose direction hpsearch cannot know (user objectives)",
    )
    sampler: SamplerName = "tpe"
    n_trials: int = Field(20, ge=1, le=MAX_TRIALS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    pruner: Literal["none", "median", "hyperband"] = "none"
    workdir: str | None = Field(
        None,
        description="folder a user objective is imported from and a command runs in; default: the spec file's folder",
    )

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str, info: ValidationInfo) -> str:
        # A study stored by an earlier version may have a '/' in its name: it stays readable.
        problem = name_problem(name, lookup=bool(info.context and info.context.get("stored")))
        if problem is not None:
            raise _expected(f"a printable name without '/', '\\' or '..' (it {problem})")
        return name


class DataSection(_Section):
    """[data]: the dataset, its split, and dataset options."""

    dataset: Literal[
        "digits",
        "breast_cancer",
        "wine",
        "iris",
        "diabetes",
        "moons",
        "make_classification",
        "csv",
        "text",
        # table benchmarks (objective = "table"; hpsearch.spec.tables lists which benchmark has which)
        "australian",
        "blood_transfusion",
        "car",
        "credit_g",
        "kc1",
        "phoneme",
        "segment",
        "vehicle",
        "naval_propulsion",
        "parkinsons_telemonitoring",
        "protein_structure",
        "slice_localization",
    ]
    benchmark: Literal["hpobench", "hpolib"] | None = Field(
        None, description="objective 'table': the recorded benchmark the dataset belongs to"
    )
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


MAX_STEPS = 10**15  # most steps in a stepped float range (as hpsearch.space.MAX_STEPS)


def _expected(expected: str, index: int | None = None) -> PydanticCustomError:
    """A range error, written by hpsearch.spec.messages as "FIELD: expected <expected>, got <input>";
    with ``index``, about one item of a list field: "FIELD[index]: ..., got <that item>"."""
    ctx = {} if index is None else {"index": index}
    return PydanticCustomError("param_range", expected.replace("{", "{{").replace("}", "}}"), ctx)


def _on_step(value: float, low: float, step: float) -> bool:
    k = (value - low) / step
    return abs(k - round(k)) < 1e-9 * max(1.0, abs(k))


def _distinct(values: list[Any] | None) -> list[Any] | None:
    """The values, if no two are equal (1 and 1.0 and True are different values here)."""
    seen: list[Any] = []
    for i, v in enumerate(values or []):
        if any(v == s and type(v) is type(s) for s in seen):
            raise _expected("distinct values", i)
        seen.append(v)
    return values


class _RangeParam(_Section):
    """The checks a float and an int range share, each on the field it is about.

    Fields validate in declaration order, so each validator sees the ones before it:
    ``log`` is declared before ``low``, ``step`` and ``grid`` after ``high``.
    """

    _integers: ClassVar[bool] = False

    @field_validator("low", check_fields=False)
    @classmethod
    def _positive_if_log(cls, low: float, info: ValidationInfo) -> float:
        if info.data.get("log") and low <= 0:
            raise _expected("a value > 0 (log = true)")
        return low

    @field_validator("high", check_fields=False)
    @classmethod
    def _above_low(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and not math.isfinite(high - low):
            # [-1e308, 1e308] has finite ends but an infinite width, which no sampler can draw from.
            raise _expected(f"a value with a finite width high - low (low = {low})")
        if low is not None and low >= high:
            raise _expected(f"a value > low ({low:g})")
        return high

    @field_validator("step", check_fields=False)
    @classmethod
    def _fits_range(cls, step: float | None, info: ValidationInfo) -> float | None:
        low, high = info.data.get("low"), info.data.get("high")
        if step is None or low is None or high is None:
            return step
        if info.data.get("log") and not (cls._integers and step == 1):
            raise _expected("no step with log = true")
        if step > high - low:
            raise _expected(f"a step <= high - low ({high - low:g})")
        if not cls._integers and not (high - low) / step <= MAX_STEPS:
            raise _expected(
                f"a step >= (high - low) / {MAX_STEPS:.0e} "
                f"({(high - low) / MAX_STEPS:g}; finer steps are not representable)"
            )
        return step

    @field_validator("grid", check_fields=False)
    @classmethod
    def _on_the_range(cls, grid: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
        low, high, step = info.data.get("low"), info.data.get("high"), info.data.get("step")
        if grid is None or low is None or high is None:
            return grid
        for i, value in enumerate(grid):
            if not low <= value <= high:
                raise _expected(f"a value in [{low:g}, {high:g}]", i)
            if step is not None and not _on_step(value, low, step):
                raise _expected(f"low + a multiple of step ({step:g})", i)
        return _distinct(grid)


#: ``when = { optimizer = ["sgd", "momentum"] }``: the parameter exists in a trial only while each
#: named parameter of [space] (a categorical) takes one of the listed values; hpsearch.space reads it.
When = dict[str, Annotated[list[Scalar], Field(min_length=1)]]
_WHEN_DOC = "exists only when each named categorical of [space] has one of the listed values"


class FloatParam(_RangeParam):
    """A real-valued hyperparameter in [low, high]."""

    type: Literal["float"]
    log: bool = False
    low: Finite
    high: Finite
    step: float | None = Field(None, gt=0, allow_inf_nan=False)
    grid: list[Finite] | None = Field(None, min_length=1)
    when: When | None = Field(None, min_length=1, description=_WHEN_DOC)


class IntParam(_RangeParam):
    """An integer hyperparameter in [low, high] (both included)."""

    _integers: ClassVar[bool] = True

    type: Literal["int"]
    log: bool = False
    low: int = Field(ge=-MAX_INT_VALUE, le=MAX_INT_VALUE)
    high: int = Field(ge=-MAX_INT_VALUE, le=MAX_INT_VALUE)
    step: int = Field(1, ge=1, le=MAX_INT_VALUE)
    grid: list[Annotated[int, Field(ge=-MAX_INT_VALUE, le=MAX_INT_VALUE)]] | None = Field(None, min_length=1)
    when: When | None = Field(None, min_length=1, description=_WHEN_DOC)


class CategoricalParam(_Section):
    """A hyperparameter taking one of a list of values."""

    type: Literal["categorical"]
    choices: list[Scalar] = Field(min_length=1)
    grid: list[Scalar] | None = Field(None, min_length=1)
    when: When | None = Field(None, min_length=1, description=_WHEN_DOC)

    @field_validator("choices")
    @classmethod
    def _distinct_choices(cls, choices: list[Any]) -> list[Any]:
        return _distinct(choices) or []

    @field_validator("grid")
    @classmethod
    def _among_choices(cls, grid: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
        choices = info.data.get("choices")
        for i, value in enumerate(grid or []):
            if choices is not None and not any(value == c and type(value) is type(c) for c in choices):
                raise _expected("one of the choices", i)
        return _distinct(grid)


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]
PARAM_TYPES = {"float": FloatParam, "int": IntParam, "categorical": CategoricalParam}


# A command's timeout is bounded so a typo (600000 for 600) is caught: one week.
MAX_COMMAND_TIMEOUT = 7 * 24 * 3600


class CommandSection(_Section):
    """[command]: the user's own training program, for ``objective = "command"``."""

    run: str = Field(
        min_length=1, description="command line; {name} is a parameter; split like a shell, run without one"
    )
    timeout: float = Field(3600, gt=0, le=MAX_COMMAND_TIMEOUT, description="seconds per trial, then it fails")
    test: str | None = Field(
        None, min_length=1, description="command line printing the held-out score of a configuration (best --evaluate)"
    )
    grace: float | None = Field(
        None, gt=0, le=3600, description="seconds between SIGTERM and SIGKILL when a trial is stopped (default 10)"
    )


class Bound(_Section):
    """One constraint of [constraints]: the metric must stay within [min, max] for a trial to be feasible."""

    min: Finite | None = None
    max: Finite | None = None

    @field_validator("max")
    @classmethod
    def _above_min(cls, high: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if high is not None and low is not None and high < low:
            raise _expected(f"a value >= min ({low:g})")
        return high


class Spec(_Section):
    """A whole study spec. Build it with ``load_spec`` or ``spec_from_dict``."""

    study: StudySection
    data: DataSection | None = None
    training: dict[str, Scalar] = Field(default_factory=dict)
    space: dict[str, Param]
    command: CommandSection | None = None
    constraints: dict[str, Bound] | None = Field(
        None,
        description="metric = { max = x } and/or { min = y }: trials outside are kept, but never best nor on the front",
    )

    @property
    def directions(self) -> list[str]:
        """One direction per objective: ``[study.direction]`` for a single-objective study."""
        if self.study.directions is not None:
            return list(self.study.directions)
        return [self.study.direction] if self.study.direction is not None else []

    @property
    def objective_names(self) -> list[str]:
        """What each objective is called (its metric): the names a study's values and exports carry."""
        if self.study.objectives is not None:
            return list(self.study.objectives)
        if self.study.directions is not None:
            return [f"value_{i}" for i in range(len(self.study.directions))]
        return [self.study.metric or "value"]

    @property
    def is_multi_objective(self) -> bool:
        return len(self.directions) > 1

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
SpecSource = Spec | dict[str, Any] | str | PathLike
