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
import gzip
import importlib.util
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.errors import UserError
from objectives import text as textlib
from objectives.csvfile import CsvTable, read_csv

# The built-in datasets are the CSV files scikit-learn ships as package data
# (sklearn/datasets/data/). They are read here with NumPy, without importing
# scikit-learn (1.5 s of SciPy and scikit-learn on this machine, paid by every
# worker); tests/objectives/test_datasets.py holds the arrays equal to
# scikit-learn's loaders. Only moons and make_classification import it.
_BUNDLED = ("digits", "breast_cancer", "wine", "iris", "diabetes")
_HEADED_CSV = {"breast_cancer": "breast_cancer.csv", "wine": "wine_data.csv", "iris": "iris.csv"}


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

    def design(
        self, config: Mapping[str, Any], fit_rows: np.ndarray, row_sets: Sequence[np.ndarray]
    ) -> list[np.ndarray]:
        """Feature matrices for ``row_sets``, standardized with ``fit_rows`` statistics only."""
        if self.preprocess is not None:
            from sklearn.base import clone

            transformer = clone(self.preprocess).fit(self.inputs[fit_rows])
            return [np.asarray(transformer.transform(self.inputs[rows]), dtype=np.float64) for rows in row_sets]
        if self.is_text:
            matrices = textlib.bag_of_words(
                self.inputs,
                fit_rows,
                [fit_rows, *row_sets],
                vocab_size=config["vocab_size"],
                min_count=config["min_count"],
                ngram=config["ngram"],
                features=config["features"],
            )
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


def split_indices(
    y: np.ndarray, task: str, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint sorted (train, val, test) row indices; stratified by class when possible.

    Stratification needs every class at least twice in each part; when a
    tiny dataset cannot give that, the split falls back to a plain shuffle.
    The rows are exactly those of scikit-learn's ``train_test_split`` (test
    first with ``seed``, then validation from the rest with ``seed + 1``),
    computed in NumPy (see _shuffle_split): importing scikit-learn for this
    cost every worker over a second.
    """
    rows = np.arange(len(y))
    stratify = y if task != "regression" else None
    try:
        rest, test = _shuffle_split(rows, test_fraction, seed, stratify)
        rel = val_fraction / (1.0 - test_fraction)
        train, val = _shuffle_split(rest, rel, seed + 1, None if stratify is None else y[rest])
    except ValueError:
        rest, test = _shuffle_split(rows, test_fraction, seed, None)
        train, val = _shuffle_split(rest, val_fraction / (1.0 - test_fraction), seed + 1, None)
    if min(len(train), len(val), len(test)) < 1:
        raise UserError(f"data: expected enough rows for train/validation/test, got {len(y)} rows")
    return np.sort(train), np.sort(val), np.sort(test)


def _shuffle_split(
    rows: np.ndarray, test_size: float, seed: int, stratify: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) as ``sklearn.model_selection.train_test_split(rows, test_size=, random_state=seed,
    stratify=)`` returns them (ShuffleSplit / StratifiedShuffleSplit, scikit-learn 1.x), in NumPy.

    ValueError where scikit-learn raises one (a class with one member, or
    fewer rows in a part than classes), so the caller's fallback is unchanged.
    """
    n = len(rows)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if not 0 < test_size < 1 or n_train <= 0:
        raise ValueError(f"test_size={test_size} leaves no rows for one part of {n}")
    rng = np.random.RandomState(seed)
    if stratify is None:
        permutation = rng.permutation(n)
        return rows[permutation[n_test:]], rows[permutation[:n_test]]
    classes, y_indices, class_counts = np.unique(np.asarray(stratify), return_inverse=True, return_counts=True)
    y_indices = y_indices.reshape(-1)
    if class_counts.min() < 2 or n_train < len(classes) or n_test < len(classes):
        raise ValueError("too few rows per class to stratify")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list = []
    test: list = []
    for i in range(len(classes)):
        permutation = rng.permutation(class_counts[i])
        members = class_indices[i].take(permutation, mode="clip")
        train.extend(members[: n_i[i]])
        test.extend(members[n_i[i] : n_i[i] + t_i[i]])
    return rows[rng.permutation(train)], rows[rng.permutation(test)]


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Rows per class for a stratified draw of ``n_draws``: scikit-learn's ``utils.extmath._approximate_mode``
    (floor of the proportional share, the rest to the largest remainders, ties broken by ``rng``)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        # sorted(set(...)), not np.unique: plain np.unique imports numpy.ma (8 ms of every run's start-up)
        for value in sorted(set(remainder.tolist()), reverse=True):
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def _load(data: Any, seed: int) -> tuple[Any, Sequence, str]:
    name = data.dataset
    if name in _BUNDLED:
        X, y = load_bundled(name)
        return X, y, "regression" if name == "diabetes" else "classification"
    if name == "moons":
        from sklearn import datasets as skd

        X, y = skd.make_moons(
            n_samples=data.n_samples or 500, noise=0.25 if data.noise is None else data.noise, random_state=seed
        )
        return X, y, "classification"
    if name == "make_classification":
        return _make_classification(data, seed)
    if name == "csv":
        task = data.task or "classification"
        table = read_csv(data.path, data.target, task, drop=data.drop or (), categorical=data.categorical or ())
        y = table.y
        if task == "classification" and len(set(y)) > max(20, len(y) // 2):
            raise UserError(
                f"{data.path}: column {data.target!r}: expected class labels, got "
                f"{len(set(y))} distinct values in {len(y)} rows "
                '(set data.task = "regression" or a regression metric)'
            )
        return table, y, task
    if name == "text":
        docs, labels = _text_rows(data)
        return [textlib.tokenize(d) for d in docs], labels, "classification"
    raise UserError(f"data.dataset: expected a known dataset, got {name!r}")


def load_bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X float64, y) of a dataset scikit-learn ships, equal to ``sklearn.datasets.load_<name>(return_X_y=True)``.

    Read from scikit-learn's package data without importing scikit-learn;
    diabetes is scaled as ``load_diabetes`` scales it (each feature centred,
    unit standard deviation, divided by sqrt(n)).
    """
    folder = _sklearn_data_folder()
    if name in _HEADED_CSV:  # header "n_samples,n_features,class names...", then features and the label
        with open(folder / _HEADED_CSV[name], encoding="utf-8") as handle:
            n_samples, n_features = (int(v) for v in handle.readline().split(",")[:2])
            table = np.loadtxt(handle, delimiter=",", ndmin=2)
        if table.shape != (n_samples, n_features + 1):
            raise UserError(
                f"{folder / _HEADED_CSV[name]}: expected {n_samples} x {n_features + 1} values, got {table.shape}"
            )
        return table[:, :-1].copy(), table[:, -1].astype(int)
    if name == "digits":
        with gzip.open(folder / "digits.csv.gz", "rt") as handle:
            table = np.loadtxt(handle, delimiter=",")
        return table[:, :-1].copy(), table[:, -1].astype(int)
    if name == "diabetes":
        with gzip.open(folder / "diabetes_data_raw.csv.gz", "rt") as handle:
            X = np.loadtxt(handle)
        with gzip.open(folder / "diabetes_target.csv.gz", "rt") as handle:
            y = np.loadtxt(handle)
        mean, std = np.nanmean(X, axis=0), np.nanstd(X, axis=0)  # sklearn.preprocessing.scale's order
        X -= mean
        X /= np.where(std < 10 * np.finfo(std.dtype).eps, 1.0, std)
        X /= X.shape[0] ** 0.5
        return X, y
    raise UserError(f"data.dataset: expected a known dataset, got {name!r}")


def _sklearn_data_folder() -> Path:
    """scikit-learn's bundled-data folder, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")  # a top-level find_spec imports nothing
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the built-in datasets come with scikit-learn, which is not installed (pip install scikit-learn)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _make_classification(data: Any, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    n_features, n_informative = data.n_features or 20, data.n_informative or 5
    n_classes = data.n_classes or 3  # the spec checked it against n_informative
    from sklearn import datasets as skd

    X, y = skd.make_classification(
        n_samples=data.n_samples or 1000,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=min(2, n_features - n_informative),
        n_classes=n_classes,
        class_sep=data.class_sep or 1.0,
        random_state=seed,
    )
    return X, y, "classification"


def _text_rows(data: Any) -> tuple[list[str], list[str]]:
    if data.path is None:
        return textlib.make_corpus(n_samples=data.n_samples or 1000, noise=0.05 if data.noise is None else data.noise)

    with open(data.path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (data.text_column, data.target) if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(
                f"{data.path}:1: expected a column named {missing[0]!r}, "
                f"got columns {', '.join(reader.fieldnames or [])}"
            )
        docs, labels = [], []
        for row in reader:
            if row[data.target] is None or row[data.text_column] is None:
                raise UserError(f"{data.path}:{reader.line_num}: expected {len(reader.fieldnames)} values, got fewer")
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
