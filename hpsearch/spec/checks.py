"""Checks that relate keys to each other, and the values they imply.

Runs in two steps around pydantic: :func:`check_keys` before (so an unknown
key gets a "did you mean" instead of a generic error), :func:`check_spec`
after (ranges, metric vs dataset, fixed vs searched, hyperparameter domains).
``check_spec`` also fills in what the spec implies: the metric's direction,
the default metric, and the dataset's task.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from hpsearch.samplers import missing_dependency
from hpsearch.spec import catalog
from hpsearch.spec.command import COMMAND_OBJECTIVE, check_user_code, placeholders
from hpsearch.spec.messages import NOTHING, spec_error, unknown_key_error
from hpsearch.spec.models import (
    PARAM_TYPES,
    CategoricalParam,
    CommandSection,
    DataSection,
    FloatParam,
    Param,
    Spec,
    StudySection,
)
from hpsearch.spec.tables import TABLE_OBJECTIVE, check_table

_USER_OBJECTIVE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_DATA_COMMON = {"dataset", "val_fraction", "test_fraction", "seed", "task"}


def check_keys(d: Any, source: str) -> None:
    """Reject unknown keys at every level, suggesting the closest known one."""
    if not isinstance(d, dict):
        raise spec_error(source, "(top level)", "a table", d)
    _known(d, [], Spec.model_fields, source)
    for section, model in (("study", StudySection), ("data", DataSection), ("command", CommandSection)):
        if isinstance(d.get(section), dict):
            _known(d[section], [section], model.model_fields, source)
    objective = d["study"].get("objective") if isinstance(d.get("study"), dict) else None
    hypers = catalog.hyperparameters(objective) if isinstance(objective, str) else None
    if isinstance(d.get("training"), dict) and hypers is not None:
        _known(d["training"], ["training"], hypers, source)
    space = d.get("space")
    if isinstance(space, dict):
        if hypers is not None:
            _known(space, ["space"], hypers, source)
        for name, entry in space.items():
            model = PARAM_TYPES.get(entry.get("type")) if isinstance(entry, dict) else None  # type: ignore[arg-type, assignment]
            if model is not None:
                _known(entry, ["space", name], model.model_fields, source)


def _known(table: dict, path: list, known, source: str) -> None:
    for key in table:
        if key not in known:
            raise unknown_key_error(source, path, key, known)


def check_spec(spec: Spec, source: str, base_dir: Path | None, check_files: bool) -> Spec:
    """Validate relations between keys and fill in derived values (in place)."""
    study = spec.study
    builtin = study.objective in catalog.BUILTIN_OBJECTIVES
    table = study.objective == TABLE_OBJECTIVE
    if not builtin and not table and study.objective not in (catalog.EXTERNAL_OBJECTIVE, COMMAND_OBJECTIVE):
        if not _USER_OBJECTIVE.match(study.objective):
            raise spec_error(
                source,
                "study.objective",
                "'mlp', 'text', 'table', 'external', 'command' or 'package.module:function'",
                study.objective,
            )
    if table:  # the table fills in its own axes, metric and direction(s)
        if study.objectives is None and study.directions is not None:
            raise spec_error(
                source,
                "study.objectives",
                "the table's recorded metrics for objective 'table' (their directions follow from them)",
                NOTHING,
            )
        check_table(spec, source)
    if not spec.space:
        raise spec_error(source, "space", "at least one searched hyperparameter", "an empty table")
    if table:
        hypers = None
    elif builtin:
        n_classes = _check_data(spec, source, base_dir, check_files)
        _check_objectives(spec, source, spec.data.task)  # type: ignore[union-attr]
        _check_metric(spec, source, n_classes)
        hypers = catalog.hyperparameters(study.objective)
        _check_training(spec, hypers, source)  # type: ignore[arg-type]
    else:
        if spec.data is not None:
            raise spec_error(
                source,
                "data",
                f"no [data] for objective {study.objective!r} (it loads its own data)",
                spec.data.model_dump(exclude_none=True),
            )
        if spec.training and study.objective == catalog.EXTERNAL_OBJECTIVE:
            raise spec_error(
                source, "training", "no [training] for objective 'external' (the client trains)", spec.training
            )
        hypers = None
        _check_objectives(spec, source, None)
    _check_direction(spec, source)
    _check_constraints(spec, source, builtin)
    check_user_code(spec, source, base_dir, check_files)
    for name, param in spec.space.items():
        _check_param(name, param, hypers.get(name) if hypers else None, source)
    _check_conditions(spec, source)
    if study.sampler == "grid":
        _check_grid_size(spec, source)
    missing = missing_dependency(study.sampler)
    if missing is not None:
        raise spec_error(source, "study.sampler", f"a sampler that can run here ({missing})", study.sampler)
    return spec


def _check_conditions(spec: Spec, source: str) -> None:
    """``when`` names categoricals of the same [space], with values among their choices, and no cycle."""
    import difflib

    from hpsearch.conditions import find_cycle, same_value

    for name, param in spec.space.items():
        for parent, values in (param.when or {}).items():
            path = f"space.{name}.when"
            if parent not in spec.space:
                close = difflib.get_close_matches(parent, list(spec.space), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                listing = ", ".join(n for n in spec.space if n != name)
                raise spec_error(source, path, f"names of parameters in [space] ({listing}{hint})", parent)
            target = spec.space[parent]
            if not isinstance(target, CategoricalParam):
                raise spec_error(
                    source, f"{path}.{parent}", f"a categorical parameter ({parent} is of type {target.type})", parent
                )
            for i, value in enumerate(values):
                if not any(same_value(value, c) for c in target.choices):
                    choices = ", ".join(map(repr, target.choices))
                    raise spec_error(source, f"{path}.{parent}[{i}]", f"one of {parent}'s choices ({choices})", value)
    if spec.command is not None:  # a command line needs a value for every placeholder in every trial
        for key, line in (("command.run", spec.command.run), ("command.test", spec.command.test)):
            for name in placeholders(line or ""):
                searched = spec.space.get(name)
                if searched is not None and searched.when and name not in spec.training:
                    raise spec_error(
                        source,
                        key,
                        f"placeholders of parameters every trial has ({name} exists only in some trials: "
                        f"give [training] {name} = ... as its value in the others)",
                        "{" + name + "}",
                    )
    cycle = find_cycle(spec.space)
    if cycle:
        raise spec_error(
            source,
            f"space.{cycle[0]}.when",
            "conditions without a cycle (a parameter cannot depend on itself)",
            " -> ".join(cycle),
        )


def _check_grid_size(spec: Spec, source: str) -> None:
    """Refuse a grid of more than GRID_CAP points (counted arithmetically, nothing listed)."""
    from hpsearch.conditions import has_conditions
    from hpsearch.space import GRID_CAP, grid_counts, grid_size

    explicit = math.prod(len(p.grid) for p in spec.space.values() if p.grid is not None)
    if explicit > GRID_CAP:
        raise spec_error(
            source,
            "space",
            f"explicit grids of at most {GRID_CAP} points in all (grid = [...] lists multiply to {explicit})",
            NOTHING,
        )
    size = math.prod(grid_counts(spec.space, spec.study.n_trials).values())
    if size > GRID_CAP and has_conditions(spec.space):  # conditional axes multiply only some points
        size = grid_size(spec.space, spec.study.n_trials)
    if size > GRID_CAP:
        raise spec_error(
            source,
            "study.n_trials",
            f"at most {GRID_CAP} for grid search (the grid for this budget would have "
            f"{size} points; grid search is capped at {GRID_CAP})",
            spec.study.n_trials,
        )


def _check_data(spec: Spec, source: str, base_dir: Path | None, check_files: bool) -> int | None:
    """Dataset options, file paths, split fractions; returns the known class count."""
    objective = spec.study.objective
    if spec.data is None:
        if objective != "text":
            raise spec_error(source, "data", "a [data] table with a dataset", NOTHING)
        spec.data = DataSection(dataset="text")  # type: ignore[call-arg]
    data = spec.data
    if (objective == "text") != (data.dataset == "text"):
        expected = (
            "'text' (objective 'text')"
            if objective == "text"
            else 'a tabular dataset (use objective = "text" for text)'
        )
        raise spec_error(source, "data.dataset", expected, data.dataset)
    if data.dataset not in catalog.DATASETS:
        expected = f"a dataset of objective {objective!r}: " + ", ".join(map(repr, catalog.DATASETS))
        raise spec_error(source, "data.dataset", expected + ' (recorded benchmarks: objective = "table")', data.dataset)
    task, n_classes, options = catalog.DATASETS[data.dataset]
    for key, value in data.model_dump(exclude_none=True).items():
        if key not in _DATA_COMMON and key not in options:
            allowed = ", ".join(options) or "no options"
            raise spec_error(source, f"data.{key}", f"a key of dataset {data.dataset!r} ({allowed})", value)
    if data.dataset == "csv":
        for key in ("path", "target"):
            if getattr(data, key) is None:
                raise spec_error(source, f"data.{key}", "a value (required for dataset 'csv')", NOTHING)
    if data.path is not None:
        path = Path(data.path).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = (base_dir / path).resolve()
        if check_files and not path.is_file():
            raise spec_error(source, "data.path", f"an existing file (looked for {path})", data.path)
        data.path = str(path)
    if data.dataset == "text" and data.path is not None and (data.target is None or data.text_column is None):
        raise spec_error(
            source,
            "data.text_column" if data.text_column is None else "data.target",
            "a column name (required with data.path for dataset 'text')",
            NOTHING,
        )
    if data.val_fraction + data.test_fraction >= 0.9:
        raise spec_error(
            source,
            "data.test_fraction",
            f"val_fraction + test_fraction < 0.9 (val_fraction = {data.val_fraction})",
            data.test_fraction,
        )
    if data.dataset == "make_classification":
        n_features, n_informative = data.n_features or 20, data.n_informative or 5
        if n_informative > n_features:
            raise spec_error(source, "data.n_informative", f"at most n_features ({n_features})", n_informative)
        n_classes = data.n_classes or 3
        if 2 * n_classes > 2**n_informative:  # scikit-learn: 2 clusters per class in 2^informative corners
            raise spec_error(
                source,
                "data.n_classes",
                f"at most {2**n_informative // 2} classes for n_informative = {n_informative}",
                n_classes,
            )
    if task is None:  # csv: from the spec, else from the metric, else classification
        named = [spec.study.metric or "", *(spec.study.objectives or [])]
        metric_task = next((catalog.METRICS[m][1] for m in named if m in catalog.METRICS), None)
        task = data.task or metric_task or "classification"
    elif data.task is not None and data.task != task:
        raise spec_error(source, "data.task", f"{task!r} (dataset {data.dataset!r})", data.task)
    data.task = task  # type: ignore[assignment]
    return n_classes


def _check_metric(spec: Spec, source: str, n_classes: int | None) -> None:
    """The metric must fit the task (and roc_auc a binary one); default by task."""
    data, study = spec.data, spec.study
    if study.metric is None:
        study.metric = catalog.DEFAULT_METRIC[data.task]  # type: ignore[index, union-attr]
        return
    if study.metric not in catalog.METRICS:
        raise spec_error(source, "study.metric", "one of " + ", ".join(catalog.METRICS), study.metric)
    metric_task = catalog.METRICS[study.metric][1]
    if metric_task != data.task:  # type: ignore[union-attr]
        fitting = ", ".join(m for m, (_, t) in catalog.METRICS.items() if t == data.task)  # type: ignore[union-attr]
        raise spec_error(
            source,
            "study.metric",
            f"a {data.task} metric for dataset {data.dataset!r} ({fitting})",  # type: ignore[union-attr]
            study.metric,
        )
    if study.metric in catalog.BINARY_ONLY_METRICS and n_classes is not None and n_classes != 2:
        raise spec_error(
            source, "study.metric", f"a metric for {n_classes} classes ({study.metric} needs 2)", study.metric
        )


def _check_objectives(spec: Spec, source: str, task: str | None) -> None:
    """``objectives`` / ``directions``: distinct metrics, each with a direction; fills in ``directions``.

    ``task``: the built-in objectives' task (their metrics are known), None for
    user objectives (any name; a direction from ``directions`` where the name
    does not say). A built-in objective's ``metric`` (what early stopping
    watches) is the first quality metric among the objectives.
    """
    study = spec.study
    names, given = study.objectives, study.directions
    if names is None and given is None:
        return
    if study.direction is not None:
        raise spec_error(
            source, "study.direction", "no direction with several objectives (directions = [...])", study.direction
        )
    if names is None:
        if task is not None:
            raise spec_error(
                source,
                "study.objectives",
                "a list of metrics for objective " + repr(study.objective) + " (their directions follow from them)",
                NOTHING,
            )
        names = [f"value_{i}" for i in range(len(given))]  # type: ignore[arg-type]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise spec_error(source, f"study.objectives[{i}]", "distinct metrics", name)
        if task is not None and name not in catalog.COST_METRICS:
            fitting = [m for m, (_, t) in catalog.METRICS.items() if t == task] + list(catalog.COST_METRICS)
            if catalog.METRICS.get(name, ("", ""))[1] != task:
                raise spec_error(source, f"study.objectives[{i}]", f"a {task} metric ({', '.join(fitting)})", name)
    if given is not None and len(given) != len(names):
        raise spec_error(
            source, "study.directions", f"one direction per objective ({len(names)}: {', '.join(names)})", given
        )
    directions = []
    for i, name in enumerate(names):
        derived = catalog.metric_direction(name) if study.objectives is not None else None
        if derived is None and given is None:
            raise spec_error(
                source,
                "study.directions",
                f"a list of 'maximize' / 'minimize', one per objective (no known metric says which way {name!r} goes)",
                NOTHING,
            )
        if derived is not None and given is not None and given[i] != derived:
            raise spec_error(source, f"study.directions[{i}]", f"{derived!r} (metric {name!r} is {derived}d)", given[i])
        directions.append(derived or given[i])  # type: ignore[index]
    study.directions = directions  # type: ignore[assignment]
    if study.pruner != "none":
        raise spec_error(
            source,
            "study.pruner",
            "'none' with several objectives (Optuna prunes single-objective studies)",
            study.pruner,
        )
    from hpsearch.samplers import handles_several_objectives, multi_objective_samplers

    if not handles_several_objectives(study.sampler):
        raise spec_error(
            source,
            "study.sampler",
            "a sampler for several objectives (" + ", ".join(multi_objective_samplers()) + ")",
            study.sampler,
        )
    if task is not None:
        quality = [n for n in names if n in catalog.METRICS]
        if not quality:
            raise spec_error(
                source,
                "study.objectives",
                "at least one quality metric next to the cost metrics (early stopping watches it)",
                names,
            )
        if study.metric is None:
            study.metric = quality[0]
    if study.metric is not None and study.metric not in names:
        raise spec_error(source, "study.metric", f"one of the objectives ({', '.join(names)}) or nothing", study.metric)


def _check_constraints(spec: Spec, source: str, builtin: bool) -> None:
    """[constraints]: each bound has a min or a max; a built-in objective's names are metrics it reports."""
    for name, bound in (spec.constraints or {}).items():
        if bound.min is None and bound.max is None:
            raise spec_error(source, f"constraints.{name}", "{ min = x } and/or { max = y }", {})
        if builtin:
            known = list(dict.fromkeys([*spec.objective_names, *catalog.COST_METRICS]))
            if name not in known:
                raise spec_error(source, "constraints", f"metrics a trial reports ({', '.join(known)})", name)
        elif (
            spec.study.objective in (COMMAND_OBJECTIVE, catalog.EXTERNAL_OBJECTIVE) and name not in spec.objective_names
        ):
            # a program or an HTTP client reports its values only (and constraint values of its own)
            raise spec_error(
                source,
                "constraints",
                f"one of the objectives ({', '.join(spec.objective_names)}); objective "
                f"{spec.study.objective!r} reports no other metric (it may report its own constraint values)",
                name,
            )


def _check_direction(spec: Spec, source: str) -> None:
    study = spec.study
    if study.directions is not None:  # several objectives: _check_objectives
        return
    derived = catalog.metric_direction(study.metric) if study.metric else None
    if derived is None:
        if study.direction is None:
            raise spec_error(
                source, "study.direction", "'maximize' or 'minimize' (no known metric says which)", NOTHING
            )
        return
    if study.direction is not None and study.direction != derived:
        raise spec_error(
            source,
            "study.direction",
            f"{derived!r} (metric {study.metric!r} is {derived}d) or no direction",
            study.direction,
        )
    study.direction = derived  # type: ignore[assignment]


def _check_training(spec: Spec, hypers: dict[str, catalog.Setting], source: str) -> None:
    for name, value in spec.training.items():
        hyper = hypers[name]
        if not hyper.accepts(value):
            raise spec_error(source, f"training.{name}", hyper.describe(), value)
        if name in spec.space and not spec.space[name].when:  # a conditional one: its value where it is absent
            raise spec_error(
                source, f"training.{name}", f"a setting not also searched in [space] (space.{name})", value
            )


def _check_param(name: str, param: Param, hyper: catalog.Setting | None, source: str) -> None:
    """The checks that need the objective's catalog (``hyper``); those within one parameter
    (low < high, log, step, grid, distinct values) are the pydantic models' own (models.py)."""
    path = f"space.{name}"
    if hyper is None:
        return
    if isinstance(param, CategoricalParam):
        for i, choice in enumerate(param.choices):
            if not hyper.accepts(choice):
                raise spec_error(source, f"{path}.choices[{i}]", hyper.describe(), choice)
        return
    if hyper.kind not in ("float", "int"):
        raise spec_error(source, f"{path}.type", f"'categorical' ({name} is {hyper.describe()})", param.type)
    if hyper.kind == "int" and isinstance(param, FloatParam):
        raise spec_error(source, f"{path}.type", f"'int' or 'categorical' ({name} is an integer)", "float")
    for key in ("low", "high"):
        if not hyper.in_range(getattr(param, key)):
            raise spec_error(source, f"{path}.{key}", hyper.describe(), getattr(param, key))
