"""CSV datasets: a header row, numeric feature columns and a named target column.

Errors name the file and the line (as an editor counts them), because the
usual problems are one ragged row or one stray "n/a" among thousands.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from hpsearch.errors import UserError

MIN_ROWS = 10


def read_csv(path: str | Path, target: str, task: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return (X float64 (n, d), y, feature names).

    y holds strings (class labels, to be encoded by the caller) for
    classification and floats for regression.
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: expected a readable CSV file, got {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        header = _header(reader, path)
        if target not in header:
            raise UserError(f"{path}:{reader.line_num}: expected a column named {target!r} (data.target), "
                            f"got columns {', '.join(header)}")
        t = header.index(target)
        features = [name for i, name in enumerate(header) if i != t]
        X, y = [], []
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise UserError(f"{path}:{line}: expected {len(header)} comma-separated values "
                                    f"(as in the header), got {len(row)}")
                X.append([_number(row[i], header[i], path, line) for i in range(len(row)) if i != t])
                label = row[t].strip()
                if task == "regression":
                    y.append(_number(label, target, path, line))
                elif not label:
                    raise UserError(f"{path}:{line}: column {target!r}: expected a class label, got an empty cell")
                else:
                    y.append(label)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UserError(f"{path}:{reader.line_num}: expected well-formed UTF-8 CSV, got {exc}") from None
    if len(X) < MIN_ROWS:
        raise UserError(f"{path}: expected at least {MIN_ROWS} data rows, got {len(X)}")
    if not features:
        raise UserError(f"{path}:1: expected at least one feature column besides {target!r}, got none")
    y_arr = np.asarray(y, dtype=float if task == "regression" else object)
    return np.asarray(X, dtype=np.float64), y_arr, features


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


def _number(cell: str, column: str, path: Path, line: int) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise UserError(f"{path}:{line}: column {column!r}: expected a number, got {cell.strip()!r}") from None
    if not math.isfinite(value):
        raise UserError(f"{path}:{line}: column {column!r}: expected a finite number, got {cell.strip()!r}")
    return value
