"""CSV datasets: loading, and errors that name the file and the line."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.errors import UserError
from objectives.csvfile import read_csv


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(n=12, start=0):
    return "".join(f"{i * 0.5},{i % 3},{'cat' if i % 2 else 'dog'}\n" for i in range(start, start + n))


def test_reads_numeric_features_and_string_labels(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows())
    X, y, names = read_csv(path, "label", "classification")
    assert X.shape == (12, 2) and X.dtype == np.float64
    assert names == ["a", "b"]
    assert X[3].tolist() == [1.5, 0.0]
    assert set(y) == {"cat", "dog"}


def test_target_column_may_be_anywhere_and_blank_lines_are_skipped(tmp_path):
    body = "".join(f"{i % 2},{i}.5\n" for i in range(12))
    path = write(tmp_path, "y,x\n\n" + body + "\n")
    X, y, names = read_csv(path, "y", "regression")
    assert names == ["x"] and X[:, 0].tolist() == [i + 0.5 for i in range(12)]
    assert y.dtype == float and y.tolist() == [float(i % 2) for i in range(12)]


def test_ragged_row_names_file_and_line(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows(5) + "1.0,2.0\n" + rows(7))
    with pytest.raises(UserError, match=rf"^{path}:7: expected 3 comma-separated values .*got 2$"):
        read_csv(path, "label", "classification")


def test_non_numeric_cell_names_line_and_column(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows(3) + "1.0,n/a,cat\n" + rows(9))
    with pytest.raises(UserError, match=rf"^{path}:5: column 'b': expected a number, got 'n/a'$"):
        read_csv(path, "label", "classification")


def test_non_numeric_regression_target_is_an_error(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows())
    with pytest.raises(UserError, match=rf"^{path}:2: column 'label': expected a number, got 'dog'"):
        read_csv(path, "label", "regression")


def test_missing_target_column_lists_columns(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows())
    with pytest.raises(UserError, match=rf"^{path}:1: expected a column named 'target'.*got columns a, b, label"):
        read_csv(path, "target", "classification")


def test_empty_file_and_too_few_rows(tmp_path):
    with pytest.raises(UserError, match="header row"):
        read_csv(write(tmp_path, "\n\n", "e.csv"), "y", "classification")
    with pytest.raises(UserError, match="at least 10 data rows, got 3"):
        read_csv(write(tmp_path, "a,b,label\n" + rows(3), "s.csv"), "label", "classification")


def test_infinite_value_and_missing_file(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows(2) + "inf,1,cat\n" + rows(9))
    with pytest.raises(UserError, match=rf"{path}:4: column 'a': expected a finite number"):
        read_csv(path, "label", "classification")
    with pytest.raises(UserError, match="expected a readable CSV file"):
        read_csv(tmp_path / "missing.csv", "label", "classification")
