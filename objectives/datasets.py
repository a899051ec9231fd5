"""Datasets and the one train/validation/test split per seed.

:func:`load_problem` reads the dataset named in a spec's [data] once and
splits its rows (stratified for classification) with the split seed
(``data.seed``, else ``study.seed``): every sampler of a comparison that
shares the seed sees the same rows. Features are built by
:meth:`Problem.design`, which standardizes with statistics of the rows the
model is fitted on only (the training split during search; train+validation
for the final test score). A CSV's own preprocessing (imputing empty cells,
one-hot text columns: see :mod:`objectives.csvfile`) is fitted on those rows
too. The test rows are never touched during search.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from hpsearch.errors import UserError
from objectives import text as textlib
from objectives.csvfile import CsvTable, read_csv

_SKLEARN = {
    "digits": skd.load_digits,
    "breast_cancer": skd.load_breast_cancer,
    "wine": skd.load_wine,
    "iris": skd.load_iris,
    "diabetes": skd.load_diabetes,
}


@dataclass(frozen=True)
class Problem:
    """A loaded dataset and its split.

    ``inputs`` is a float array (tabular) or a list of token lists (text);
    ``y`` holds class indices 0..K-1 or float targets; ``task`` is the
    network task (multiclass | binary | regression); ``train``/``val``/``test``
    are row indices.
    """

    name: str
    inputs: Any
    y: np.ndarray
    task: str
    classes: tuple
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    preprocess: Any = None  # an unfitted scikit-learn transformer of ``inputs`` (CSV files), or None

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def is_text(self) -> bool:
        return not isinstance(self.inputs, np.ndarray)

    def design(self, config: Mapping[str, Any], fit_rows: np.ndarray,
               row_sets: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Feature matrices for ``row_sets``, standardized with ``fit_rows`` statistics only."""
        if self.preprocess is not None:
            from sklearn.base import clone

            transformer = clone(self.preprocess).fit(self.inputs[fit_rows])
            return [np.asarray(transformer.transform(self.inputs[rows]), dtype=np.float64) for rows in row_sets]
        if self.is_text:
            matrices = textlib.bag_of_words(
                self.inputs, fit_rows, [fit_rows, *row_sets], vocab_size=config["vocab_size"],
                min_count=config["min_count"], ngram=config["ngram"], features=config["features"])
            fit, outs = matrices[0], matrices[1:]
        else:
            fit, outs = self.inputs[fit_rows], [self.inputs[rows] for rows in row_sets]
        mean, std = fit.mean(axis=0), fit.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        return [(x - mean) / std for x in outs]


def load_problem(data: Any, seed: int) -> Problem:
    """Load ``data`` (a spec's DataSection) and split it with ``seed``."""
    inputs, labels, task = _load(data, seed)
    preprocess = None
    if isinstance(inputs, CsvTable):
        inputs, preprocess = inputs.X, inputs.preprocessor()
    if task == "regression":
        y, classes, net_task = np.asarray(labels, dtype=np.float64), (), "regression"
    else:
        classes = _class_order(labels)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[c] for c in labels], dtype=np.int64)
        if len(classes) < 2:
            raise UserError(f"data.target: expected at least 2 classes, got only {classes[0]!r}")
        net_task = "binary" if len(classes) == 2 else "multiclass"
    train, val, test = split_indices(y, net_task, data.val_fraction, data.test_fraction, seed)
    return Problem(data.dataset, inputs, y, net_task, tuple(classes), train, val, test, preprocess)


def split_indices(y: np.ndarray, task: str, val_fraction: float, test_fraction: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint sorted (train, val, test) row indices; stratified by class when possible.

    Stratification needs every class at least twice in each part; when a
    tiny dataset cannot give that, the split falls back to a plain shuffle.
    """
    rows = np.arange(len(y))
    stratify = y if task != "regression" else None
    try:
        rest, test = train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=stratify)
        rel = val_fraction / (1.0 - test_fraction)
        train, val = train_test_split(rest, test_size=rel, random_state=seed + 1,
                                      stratify=None if stratify is None else y[rest])
    except ValueError:
        rest, test = train_test_split(rows, test_size=test_fraction, random_state=seed)
        train, val = train_test_split(rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed + 1)
    if min(len(train), len(val), len(test)) < 1:
        raise UserError(f"data: expected enough rows for train/validation/test, got {len(y)} rows")
    return np.sort(train), np.sort(val), np.sort(test)


def _load(data: Any, seed: int) -> tuple[Any, Sequence, str]:
    name = data.dataset
    if name in _SKLEARN:
        X, y = _SKLEARN[name](return_X_y=True)
        task = "regression" if name == "diabetes" else "classification"
        return X.astype(np.float64), (y if task == "regression" else y.astype(int)), task
    if name == "moons":
        X, y = skd.make_moons(n_samples=data.n_samples or 500, noise=0.25 if data.noise is None else data.noise,
                              random_state=seed)
        return X, y, "classification"
    if name == "make_classification":
        return _make_classification(data, seed)
    if name == "csv":
        task = data.task or "classification"
        table = read_csv(data.path, data.target, task, drop=data.drop or (), categorical=data.categorical or ())
        y = table.y
        if task == "classification" and len(set(y)) > max(20, len(y) // 2):
            raise UserError(f"{data.path}: column {data.target!r}: expected class labels, got "
                            f"{len(set(y))} distinct values in {len(y)} rows "
                            "(set data.task = \"regression\" or a regression metric)")
        return table, y, task
    if name == "text":
        docs, labels = _text_rows(data)
        return [textlib.tokenize(d) for d in docs], labels, "classification"
    raise UserError(f"data.dataset: expected a known dataset, got {name!r}")


def _make_classification(data: Any, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    n_features, n_informative = data.n_features or 20, data.n_informative or 5
    n_classes = data.n_classes or 3  # the spec checked it against n_informative
    X, y = skd.make_classification(
        n_samples=data.n_samples or 1000, n_features=n_features, n_informative=n_informative,
        n_redundant=min(2, n_features - n_informative), n_classes=n_classes,
        class_sep=data.class_sep or 1.0, random_state=seed)
    return X, y, "classification"


def _text_rows(data: Any) -> tuple[list[str], list[str]]:
    if data.path is None:
        return textlib.make_corpus(n_samples=data.n_samples or 1000, noise=0.05 if data.noise is None else data.noise)


    with open(data.path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (data.text_column, data.target) if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{data.path}:1: expected a column named {missing[0]!r}, "
                            f"got columns {', '.join(reader.fieldnames or [])}")
        docs, labels = [], []
        for row in reader:
            if row[data.target] is None or row[data.text_column] is None:
                raise UserError(f"{data.path}:{reader.line_num}: expected {len(reader.fieldnames)} values, "
                                "got fewer")
            docs.append(row[data.text_column])
            labels.append(row[data.target].strip())
    return docs, labels


def _class_order(labels: Sequence) -> list:
    """Distinct labels, numerically sorted when they all look like numbers."""
    distinct = sorted({str(v) if not isinstance(v, (int, np.integer)) else int(v) for v in labels}, key=str)
    try:
        return sorted(distinct, key=float)
    except (TypeError, ValueError):
        return distinct
