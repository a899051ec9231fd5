"""CSV datasets: loading, typing real-world columns, and errors that name the file, line and fix."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from hpsearch.errors import SpecError, UserError
from hpsearch.spec import load_spec
from objectives import describe_objective
from objectives.csvfile import class_lines, read_csv, target_warnings
from objectives.datasets import load_problem


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(n=12, start=0):
    return "".join(f"{i * 0.5},{i % 3},{'cat' if i % 2 else 'dog'}\n" for i in range(start, start + n))


def fitted(table, fit_rows, rows_to_transform):
    return table.preprocessor().fit(table.X[fit_rows]).transform(table.X[rows_to_transform])


def test_reads_numeric_features_and_string_labels(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows())
    table = read_csv(path, "label", "classification")
    assert table.X.shape == (12, 2)
    assert table.features == table.numeric == ["a", "b"] and table.categorical == []
    assert table.X[3].tolist() == [1.5, 0.0]
    assert set(table.y) == {"cat", "dog"}


def test_target_column_may_be_anywhere_and_blank_lines_are_skipped(tmp_path):
    body = "".join(f"{i % 2},{i}.5\n" for i in range(12))
    path = write(tmp_path, "y,x\n\n" + body + "\n")
    table = read_csv(path, "y", "regression")
    assert table.features == ["x"] and table.X[:, 0].tolist() == [i + 0.5 for i in range(12)]
    assert table.y.dtype == float and table.y.tolist() == [float(i % 2) for i in range(12)]


def test_ragged_row_names_file_and_line(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows(5) + "1.0,2.0\n" + rows(7))
    with pytest.raises(UserError, match=rf"^{path}:7: expected 3 comma-separated values .*got 2$"):
        read_csv(path, "label", "classification")


def test_a_word_in_a_numeric_column_names_line_column_and_fixes(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows(3) + "1.0,lots,cat\n" + rows(9))
    with pytest.raises(
        UserError,
        match=rf"^{path}:5: column 'b': expected a number, got 'lots' "
        r"\(most of the column's cells are numbers: fix the cell, empty it "
        r"to have it imputed, or list the column in data.categorical\)$",
    ):
        read_csv(path, "label", "classification")


def test_non_numeric_regression_target_says_a_text_target_is_a_class_label(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows())
    with pytest.raises(
        UserError,
        match=rf"^{path}:2: column 'label': expected a number, got 'dog' .*"
        r"a text target is a class label: set data.task = \"classification\"",
    ):
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


# --- real-world tables ----------------------------------------------------------------------


def test_empty_cells_are_imputed_with_the_training_median(tmp_path):
    # a: 1..12 with holes (empty, NA, n/a); the training rows' median, not all rows', fills them.
    cells = ["1", "", "3", "NA", "5", "6", "n/a", "8", "9", "100", "200", "300"]
    path = write(tmp_path, "a,label\n" + "".join(f"{c},{'x' if i % 2 else 'y'}\n" for i, c in enumerate(cells)))
    table = read_csv(path, "label", "classification")
    assert table.missing == {"a": 3} and table.numeric == ["a"]
    assert math.isnan(table.X[1, 0]) and math.isnan(table.X[3, 0])
    train = np.arange(9)  # values 1, 3, 5, 6, 8, 9 -> median 5.5
    preprocess = table.preprocessor().fit(table.X[train])
    imputer = preprocess.named_transformers_["numeric"].named_steps["impute"]
    assert imputer.statistics_.tolist() == [5.5]
    out = preprocess.transform(table.X[[1, 4]])  # the hole and a real 5.5-ish neighbour
    scaler = preprocess.named_transformers_["numeric"].named_steps["scale"]
    assert out[0, 0] == pytest.approx((5.5 - scaler.mean_[0]) / scaler.scale_[0])


def test_text_columns_are_one_hot_with_training_categories_and_unseen_are_zeros(tmp_path):
    colours = ["red", "green", "blue"] * 4 + ["purple"]  # purple only in the last row
    path = write(
        tmp_path, "colour,size,label\n" + "".join(f"{c},{i},{'a' if i % 2 else 'b'}\n" for i, c in enumerate(colours))
    )
    table = read_csv(path, "label", "classification")
    assert table.categorical == ["colour"] and table.numeric == ["size"]
    train = np.arange(12)
    out = fitted(table, train, [0, 1, 2, 12])
    onehot = out[:, 1:]  # numeric columns come first
    assert onehot.shape[1] == 3  # blue, green, red: purple was never seen in training
    assert onehot[:3].sum(axis=1).tolist() == [1.0, 1.0, 1.0]
    assert len({tuple(r) for r in onehot[:3]}) == 3
    assert onehot[3].tolist() == [0.0, 0.0, 0.0]


def test_empty_text_cells_get_the_most_frequent_training_category(tmp_path):
    colours = ["red", "red", "red", "blue", "", "green"] * 2
    path = write(
        tmp_path, "colour,size,label\n" + "".join(f"{c},{i},{'a' if i % 2 else 'b'}\n" for i, c in enumerate(colours))
    )
    table = read_csv(path, "label", "classification")
    assert table.missing == {"colour": 2}
    out = fitted(table, np.arange(12), [0, 4])
    assert out[0, 1:].tolist() == out[1, 1:].tolist() == [0.0, 0.0, 1.0]  # the hole became red (blue, green, red)


def test_drop_and_categorical_override_the_guesses(tmp_path):
    body = "".join(f"ID{i},{i % 3 + 1},{i * 1.5},{'yes' if i % 2 else 'no'}\n" for i in range(30))
    path = write(tmp_path, "id,region,amount,label\n" + body)
    with pytest.raises(
        UserError,
        match=r"column 'id': expected numbers or a few categories, got 30 distinct "
        r"texts in 30 rows .*add it to data.drop",
    ):
        read_csv(path, "label", "classification")
    table = read_csv(path, "label", "classification", drop=["id"], categorical=["region"])
    assert table.features == ["region", "amount"] and table.dropped == ["id"]
    assert table.categorical == ["region"] and table.numeric == ["amount"]
    out = fitted(table, np.arange(30), np.arange(30))
    assert out.shape == (30, 4)  # amount + 3 region codes


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"drop": ["nope"]}, r":1: expected a column named 'nope' \(data.drop\), got columns a, b, label"),
        ({"categorical": ["label"]}, r"^data.categorical: expected feature columns, got the target 'label'"),
        ({"drop": ["a"], "categorical": ["a"]}, r"^data.categorical: expected columns not also in data.drop"),
        ({"drop": ["a", "b"]}, r"expected at least one feature column besides 'label', got none"),
    ],
)
def test_bad_drop_and_categorical_lists_say_how_to_fix(tmp_path, kwargs, expected):
    path = write(tmp_path, "a,b,label\n" + rows())
    with pytest.raises(UserError, match=expected):
        read_csv(path, "label", "classification", **kwargs)


def test_empty_target_and_all_empty_column_are_refused_with_a_fix(tmp_path):
    path = write(tmp_path, "a,b,label\n" + rows(4) + "1,2,\n" + rows(8))
    with pytest.raises(
        UserError,
        match=rf"^{path}:6: column 'label': expected a class label, got an empty cell "
        r"\(fill it in, or delete the row\)",
    ):
        read_csv(path, "label", "classification")
    path = write(tmp_path, "a,b,label\n" + "".join(f"{i},,{i % 2}\n" for i in range(12)), "e.csv")
    with pytest.raises(
        UserError,
        match=r"column 'b': expected some values, got an empty cell in every row "
        r"\(fill it in, or add it to data.drop\)",
    ):
        read_csv(path, "label", "classification")


def test_a_text_target_is_a_class_label_through_the_spec(tmp_path):
    body = "".join(
        f"{i % 7},{'' if i % 9 == 0 else i % 5},{['north', 'south'][i % 2]},{['low', 'mid', 'high'][i % 3]}\n"
        for i in range(60)
    )
    write(tmp_path, "a,b,side,grade\n" + body)
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(
        textwrap.dedent("""
        [study]
        name = "t"
        [data]
        dataset = "csv"
        path = "d.csv"
        target = "grade"
        [space]
        width = { type = "int", low = 4, high = 8 }
    """)
    )
    spec = load_spec(spec_path)
    assert spec.data.task == "classification" and spec.study.metric == "accuracy"
    problem = load_problem(spec.data, 0)
    assert problem.task == "multiclass" and sorted(problem.classes) == ["high", "low", "mid"]
    X_train, X_val = problem.design({}, problem.train, [problem.train, problem.val])
    assert X_train.shape[1] == X_val.shape[1] == 4  # a, b, side=north, side=south
    assert not np.isnan(X_train).any() and not np.isnan(X_val).any()
    lines = "\n".join(describe_objective(spec))
    assert "target 'grade': a class label, 3 classes" in lines
    assert "empty cells imputed with the training split's median: b (7)" in lines
    assert "text, one-hot encoded (1): side (2 categories)" in lines


def test_spec_with_drop_on_a_builtin_dataset_is_refused(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[study]\nname = "t"\n[data]\ndataset = "iris"\ndrop = ["x"]\n'
        '[space]\nwidth = { type = "int", low = 4, high = 8 }\n'
    )
    with pytest.raises(SpecError, match=r"data.drop: expected a key of dataset 'iris'"):
        load_spec(path)


def test_class_lines_count_every_class_and_flag_case_and_space_twins():
    labels = ["pass"] * 6 + ["fail"] * 4 + ["Pass"] + [" fail "] * 3
    lines = class_lines(np.array(labels), n_splits=3)
    assert lines[0] == "  classes: 'pass' 6, 'fail' 4, ' fail ' 3, 'Pass' 1"
    twins = [line for line in lines if "differ only in case or spaces" in line]
    assert len(twins) == 2
    assert "'pass' (6 rows), 'Pass' (1 rows)" in twins[0] or "'pass' (6 rows), 'Pass' (1 rows)" in twins[1]
    assert any("'fail' (4 rows), ' fail ' (3 rows)" in line for line in twins)
    few = [line for line in lines if "fewer than the 3 splits" in line]
    assert few == [
        "  warning: class 'Pass' has 1 row, fewer than the 3 splits (train, validation, test): it cannot "
        "be in every split"
    ]


def test_clean_labels_give_no_warning():
    assert class_lines(np.array(["a", "b"] * 10), n_splits=3) == ["  classes: 'a' 10, 'b' 10"]


def test_check_and_run_list_the_classes_and_warn_about_a_typo(tmp_path):
    """One 'Pass' among pass/fail made a third class, with nothing said; now check and run say it."""
    body = "".join(f"{i % 7},{i % 5},{'pass' if i % 3 else 'fail'}\n" for i in range(60))
    write(tmp_path, "a,b,result\n" + body + "3,1,Pass\n")
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(
        textwrap.dedent("""
        [study]
        name = "t"
        n_trials = 1
        [data]
        dataset = "csv"
        path = "d.csv"
        target = "result"
        [training]
        max_epochs = 2
        [space]
        width = { type = "int", low = 4, high = 8 }
    """)
    )
    spec = load_spec(spec_path)
    lines = "\n".join(describe_objective(spec))
    assert "classes: 'pass' 40, 'fail' 20, 'Pass' 1" in lines
    assert "classes 'pass' (40 rows), 'Pass' (1 rows) differ only in case or spaces" in lines
    assert "class 'Pass' has 1 row, fewer than the 3 splits" in lines
    assert target_warnings(spec.data)[0] == "classes: 'pass' 40, 'fail' 20, 'Pass' 1"
    assert len(target_warnings(spec.data)) == 3
