"""CSV datasets: a header row, feature columns (numbers or text) and a named target column.

Real tables have holes and words in them, so:

- an empty cell (or NA, N/A, NaN, null, None, ?) in a numeric column is
  *missing*: imputed with the median of the training split;
- a column of text is categorical: one-hot encoded with the categories seen
  in the training split (a category it never saw encodes as all zeros; an
  empty cell gets the split's most frequent category);
- a text target is a class label (classification);
- ``[data] drop = [...]`` leaves columns out, ``[data] categorical = [...]``
  one-hot encodes columns that look numeric (codes like 1/2/3).

The preprocessing is scikit-learn's (SimpleImputer, StandardScaler,
OneHotEncoder in a ColumnTransformer), always fitted on the rows the model
is fitted on, so no statistic of the validation or test rows leaks in.
Errors name the file and the line (as an editor counts them) and say how to
fix the file, because the usual problems are one ragged row or one stray
word among thousands of numbers.
"""

from __future__ import annotations

import csv
import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.errors import UserError

MIN_ROWS = 10
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})  # compared lower-cased
MAX_GUESSED_CATEGORIES = 20  # a text column with more distinct values (and more than half the rows) is refused


@dataclass
class CsvTable:
    """A CSV read and typed: ``X`` is an object array (n, d) of floats (NaN: missing) and strings."""

    path: Path
    features: list[str]
    numeric: list[str]
    categorical: list[str]
    X: np.ndarray
    y: np.ndarray
    missing: dict[str, int] = field(default_factory=dict)  # feature column -> empty cells
    dropped: list[str] = field(default_factory=list)

    def preprocessor(self):
        """An unfitted ColumnTransformer: numbers imputed (median) and standardized; text one-hot."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        index = {name: i for i, name in enumerate(self.features)}
        parts = []
        if self.numeric:
            parts.append(
                (
                    "numeric",
                    Pipeline(
                        [
                            ("float", FunctionTransformer(_as_float)),
                            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                            ("scale", StandardScaler()),
                        ]
                    ),
                    [index[c] for c in self.numeric],
                )
            )
        if self.categorical:
            parts.append(
                (
                    "text",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(missing_values="", strategy="most_frequent")),
                            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)),
                        ]
                    ),
                    [index[c] for c in self.categorical],
                )
            )
        return ColumnTransformer(parts, sparse_threshold=0.0)


def _as_float(X: Any) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


def read_csv(
    path: str | Path, target: str, task: str, *, drop: Sequence[str] = (), categorical: Sequence[str] = ()
) -> CsvTable:
    """Read and type a CSV; y holds strings (class labels) for classification, floats for regression."""
    path = Path(path)
    header, rows = _read_rows(path)
    _check_names(path, header, target, drop, categorical)
    t = header.index(target)
    keep = [i for i, name in enumerate(header) if i != t and name not in drop]
    if not keep:
        raise UserError(
            f"{path}:1: expected at least one feature column besides {target!r}, got none "
            "(add feature columns, or drop fewer in data.drop)"
        )
    y = _target(path, rows, t, target, task)
    columns: list[list[Any]] = []
    numeric, text, missing = [], [], {}
    for i in keep:
        name = header[i]
        cells = [(line, row[i].strip()) for line, row in rows]
        is_missing = [c.lower() in MISSING for _, c in cells]
        if all(is_missing):
            raise UserError(
                f"{path}: column {name!r}: expected some values, got an empty cell in every row "
                "(fill it in, or add it to data.drop)"
            )
        if name in categorical or not _mostly_numbers(cells, is_missing):
            text.append(name)
            values = ["" if gone else c for (_, c), gone in zip(cells, is_missing, strict=True)]
            _check_categories(path, name, values, forced=name in categorical)
        else:
            numeric.append(name)
            values = [
                math.nan if gone else _number(c, name, path, line, in_column=True)
                for (line, c), gone in zip(cells, is_missing, strict=True)
            ]
        if any(is_missing):
            missing[name] = sum(is_missing)
        columns.append(values)
    features = [header[i] for i in keep]
    X = np.empty((len(rows), len(features)), dtype=object)
    for j, values in enumerate(columns):
        X[:, j] = values
    return CsvTable(path, features, numeric, text, X, y, missing, [c for c in header if c in drop])


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: expected a readable CSV file, got {exc.strerror or exc}") from None
    rows = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = _header(reader, path)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise UserError(
                        f"{path}:{reader.line_num}: expected {len(header)} comma-separated values "
                        f"(as in the header), got {len(row)}"
                    )
                rows.append((reader.line_num, row))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UserError(f"{path}:{reader.line_num}: expected well-formed UTF-8 CSV, got {exc}") from None
    if len(rows) < MIN_ROWS:
        raise UserError(f"{path}: expected at least {MIN_ROWS} data rows, got {len(rows)}")
    return header, rows


def _check_names(path: Path, header: list[str], target: str, drop: Sequence[str], categorical: Sequence[str]) -> None:
    if target not in header:
        raise UserError(f"{path}:1: expected a column named {target!r} (data.target), got columns {', '.join(header)}")
    for key, names in (("data.drop", drop), ("data.categorical", categorical)):
        for name in names:
            if name not in header:
                close = difflib.get_close_matches(name, header, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UserError(
                    f"{path}:1: expected a column named {name!r} ({key}), got columns {', '.join(header)}{hint}"
                )
            if name == target:
                raise UserError(f"{key}: expected feature columns, got the target {target!r} (remove it from the list)")
    both = [name for name in categorical if name in drop]
    if both:
        raise UserError(f"data.categorical: expected columns not also in data.drop, got {both[0]!r} in both")


def _target(path: Path, rows: list[tuple[int, list[str]]], t: int, target: str, task: str) -> np.ndarray:
    y: list[Any] = []
    for line, row in rows:
        label = row[t].strip()
        if not label or label.lower() in MISSING:
            what = "a number" if task == "regression" else "a class label"
            raise UserError(
                f"{path}:{line}: column {target!r}: expected {what}, got an empty cell (fill it in, or delete the row)"
            )
        if task == "regression":
            try:
                y.append(_number(label, target, path, line))
            except UserError as exc:
                raise UserError(
                    f"{exc} (the target of a regression; a text target is a class label: "
                    'set data.task = "classification" or a classification metric)'
                ) from None
        else:
            y.append(label)
    return np.asarray(y, dtype=float if task == "regression" else object)


def _mostly_numbers(cells: list[tuple[int, str]], is_missing: list[bool]) -> bool:
    present = [c for (_, c), gone in zip(cells, is_missing, strict=True) if not gone]
    numbers = sum(_parses(c) for c in present)
    return numbers * 2 > len(present)


def _parses(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_categories(path: Path, name: str, values: list[str], forced: bool) -> None:
    distinct = len({v for v in values if v})
    if not forced and distinct > max(MAX_GUESSED_CATEGORIES, len(values) // 2):
        raise UserError(
            f"{path}: column {name!r}: expected numbers or a few categories, got {distinct} "
            f"distinct texts in {len(values)} rows (an identifier or free text?); "
            "add it to data.drop, or to data.categorical to one-hot encode it anyway"
        )


def _header(reader, path: Path) -> list[str]:
    for row in reader:
        if any(cell.strip() for cell in row):
            names = [cell.strip() for cell in row]
            for i, name in enumerate(names):
                if not name:
                    raise UserError(f"{path}:{reader.line_num}: expected a name for column {i + 1}, got an empty one")
                if name in names[:i]:
                    raise UserError(f"{path}:{reader.line_num}: expected distinct column names, got {name!r} twice")
            return names
    raise UserError(f"{path}: expected a header row, got an empty file")


def _number(cell: str, column: str, path: Path, line: int, in_column: bool = False) -> float:
    hint = (
        (
            " (most of the column's cells are numbers: fix the cell, empty it to have it imputed, "
            "or list the column in data.categorical)"
        )
        if in_column
        else ""
    )
    try:
        value = float(cell.strip())
    except ValueError:
        raise UserError(f"{path}:{line}: column {column!r}: expected a number, got {cell.strip()!r}{hint}") from None
    if not math.isfinite(value):
        raise UserError(f"{path}:{line}: column {column!r}: expected a finite number, got {cell.strip()!r}{hint}")
    return value


def describe_csv(data: Any) -> list[str]:
    """What loading ``data`` (a csv DataSection) does to the file, in a few lines for ``hpsearch check``."""
    table = read_csv(
        data.path, data.target, data.task or "classification", drop=data.drop or (), categorical=data.categorical or ()
    )
    n = len(table.y)
    if data.task == "regression":
        target = f"target {data.target!r}: a number (regression)"
    else:
        target = f"target {data.target!r}: a class label, {len(set(table.y))} classes"
    lines = [f"data: {table.path}: {n} rows, {len(table.features)} feature columns; {target}"]
    if data.task != "regression":
        lines += class_lines(table.y, n_splits=3 if data.test_fraction else 2)
    if table.numeric:
        lines.append(f"  numeric, standardized ({len(table.numeric)}): {', '.join(table.numeric)}")
        holes = [f"{c} ({table.missing[c]})" for c in table.numeric if c in table.missing]
        if holes:
            lines.append("  empty cells imputed with the training split's median: " + ", ".join(holes))
    if table.categorical:
        counts = []
        for c in table.categorical:
            j = table.features.index(c)
            counts.append(f"{c} ({len({v for v in table.X[:, j] if v})} categories)")
        lines.append(
            f"  text, one-hot encoded ({len(table.categorical)}): {', '.join(counts)}; categories "
            "from the training split, unseen ones encode as all zeros"
        )
        holes = [f"{c} ({table.missing[c]})" for c in table.categorical if c in table.missing]
        if holes:
            lines.append("  empty cells get the training split's most frequent category: " + ", ".join(holes))
    if table.dropped:
        lines.append(f"  dropped (data.drop): {', '.join(table.dropped)}")
    return lines


def class_lines(labels: Sequence[str] | np.ndarray, *, n_splits: int) -> list[str]:
    """The classes of a text target with their counts, then a warning line per suspicious class.

    One ``Pass`` among ``pass``/``fail`` silently makes a third class (and a
    worse score), so labels that differ only in case or surrounding
    whitespace are flagged, and so is a class with fewer rows than there are
    splits (train, validation, test), which cannot appear in every split.
    """
    values, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    order = sorted(zip(values.tolist(), counts.tolist(), strict=True), key=lambda vc: (-vc[1], vc[0]))
    lines = ["  classes: " + ", ".join(f"{v!r} {c}" for v, c in order)]
    groups: dict[str, list[tuple[str, int]]] = {}
    for v, c in order:
        groups.setdefault(" ".join(v.split()).casefold(), []).append((v, c))
    for same in groups.values():
        if len(same) > 1:
            shown = ", ".join(f"{v!r} ({c} rows)" for v, c in same)
            lines.append(f"  warning: classes {shown} differ only in case or spaces: a typo makes an extra class")
    for v, c in order:
        if c < n_splits:
            lines.append(
                f"  warning: class {v!r} has {c} row{'s' * (c != 1)}, fewer than the {n_splits} splits "
                "(train, validation, test): it cannot be in every split"
            )
    return lines


def target_warnings(data: Any) -> list[str]:
    """What ``hpsearch run`` shows before training a CSV classification: the classes and their warnings."""
    if data is None or getattr(data, "dataset", None) != "csv" or data.task == "regression":
        return []
    table = read_csv(
        data.path, data.target, data.task or "classification", drop=data.drop or (), categorical=data.categorical or ()
    )
    return [line.strip() for line in class_lines(table.y, n_splits=3 if data.test_fraction else 2)]
