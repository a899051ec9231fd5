"""One stratified split per seed, identical across samplers; standardization on train only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.errors import SpecError, UserError
from hpsearch.spec import load_spec, spec_from_dict
from objectives.datasets import load_problem, split_indices

SPACE = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}


def data(dataset, **options):
    return spec_from_dict({"study": {"name": "d"}, "data": {"dataset": dataset, **options}, "space": SPACE}).data


def test_split_is_disjoint_complete_and_seeded():
    y = np.repeat(np.arange(4), 50)
    a = split_indices(y, "multiclass", 0.2, 0.2, seed=3)
    b = split_indices(y, "multiclass", 0.2, 0.2, seed=3)
    c = split_indices(y, "multiclass", 0.2, 0.2, seed=4)
    for part_a, part_b in zip(a, b, strict=True):
        assert np.array_equal(part_a, part_b)
    assert not np.array_equal(a[2], c[2])
    train, val, test = a
    assert len(set(train) | set(val) | set(test)) == len(y) == len(train) + len(val) + len(test)
    assert (len(train), len(val), len(test)) == (120, 40, 40)


def test_split_is_stratified():
    y = np.array([0] * 160 + [1] * 40)  # 20 % positives
    for part in split_indices(y, "binary", 0.2, 0.2, seed=0):
        assert y[part].mean() == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize(
    "dataset, task, n_classes",
    [
        ("digits", "multiclass", 10),
        ("breast_cancer", "binary", 2),
        ("wine", "multiclass", 3),
        ("iris", "multiclass", 3),
        ("diabetes", "regression", 0),
        ("moons", "binary", 2),
        ("make_classification", "multiclass", 3),
    ],
)
def test_builtin_datasets_load_with_their_task(dataset, task, n_classes):
    p = load_problem(data(dataset), seed=0)
    assert p.task == task and p.n_classes == n_classes
    assert p.inputs.shape[0] == len(p.y) == len(p.train) + len(p.val) + len(p.test)
    if task != "regression":
        assert set(np.unique(p.y)) == set(range(n_classes))


def test_synthetic_datasets_follow_options_and_seed():
    a = load_problem(data("moons", n_samples=200, noise=0.1), seed=1)
    b = load_problem(data("moons", n_samples=200, noise=0.1), seed=1)
    c = load_problem(data("moons", n_samples=200, noise=0.1), seed=2)
    assert a.inputs.shape == (200, 2)
    assert np.array_equal(a.inputs, b.inputs) and not np.array_equal(a.inputs, c.inputs)
    mc = load_problem(data("make_classification", n_samples=300, n_features=8, n_informative=4, n_classes=4), 0)
    assert mc.inputs.shape == (300, 8) and mc.n_classes == 4
    with pytest.raises(SpecError, match="data.n_classes: expected at most 2 classes"):
        data("make_classification", n_informative=2, n_classes=5)  # caught by the spec, before loading


def test_standardized_on_training_rows_only():
    p = load_problem(data("wine"), seed=0)
    X_train, X_val, X_test = p.design({}, p.train, [p.train, p.val, p.test])
    assert np.allclose(X_train.mean(axis=0), 0, atol=1e-9)
    assert np.allclose(X_train.std(axis=0), 1, atol=1e-9)
    raw = p.inputs
    mean, std = raw[p.train].mean(axis=0), raw[p.train].std(axis=0)
    assert np.allclose(X_test, (raw[p.test] - mean) / std)  # test rows use the training statistics
    assert not np.allclose(X_val.mean(axis=0), 0, atol=1e-3)


def test_csv_dataset_encodes_string_labels(tmp_path):
    lines = ["x1,x2,kind"] + [f"{i},{i % 7},{'abc'[i % 3]}" for i in range(60)]
    (tmp_path / "k.csv").write_text("\n".join(lines) + "\n")
    p = load_problem(data("csv", path=str(tmp_path / "k.csv"), target="kind"), seed=0)
    assert p.classes == ("a", "b", "c") and p.task == "multiclass"
    assert [p.classes[k] for k in p.y[:4]] == ["a", "b", "c", "a"]


def test_csv_classification_with_continuous_target_suggests_regression(tmp_path):
    lines = ["x,y"] + [f"{i},{i * 1.37}" for i in range(60)]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="regression"):
        load_problem(data("csv", path=str(tmp_path / "r.csv"), target="y"), seed=0)
    p = load_problem(data("csv", path=str(tmp_path / "r.csv"), target="y", task="regression"), seed=0)
    assert p.task == "regression"


def test_bundled_csv_example_loads():
    spec = load_spec(Path(__file__).resolve().parents[2] / "studies" / "csv-example.toml")
    p = load_problem(spec.data, spec.split_seed)
    assert p.n_classes == 3 and len(p.y) == 150


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine", "iris", "diabetes"])
def test_bundled_datasets_equal_scikit_learns_loaders(name):
    from sklearn import datasets as skd

    from objectives.datasets import load_bundled

    X, y = load_bundled(name)
    X_sk, y_sk = getattr(skd, f"load_{name}")(return_X_y=True)
    assert X.dtype == np.float64 and X.flags.c_contiguous
    assert np.array_equal(X, X_sk) and np.array_equal(y, y_sk) and y.dtype == y_sk.dtype


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_numpy_split_is_scikit_learns_train_test_split(seed):
    from sklearn.model_selection import train_test_split

    from objectives.datasets import _shuffle_split

    rng = np.random.default_rng(seed)
    for n, k, size in [(200, 4, 0.2), (97, 3, 0.25), (31, 5, 0.3), (12, 2, 0.5), (50, 7, 0.1)]:
        y = rng.integers(0, k, n)
        rows = np.arange(n) + 1000  # not 0..n-1: the split must index the rows it is given
        for stratify in (y, None):
            try:
                expected = train_test_split(rows, test_size=size, random_state=seed, stratify=stratify)
            except ValueError:
                with pytest.raises(ValueError):
                    _shuffle_split(rows, size, seed, stratify)
                continue
            got = _shuffle_split(rows, size, seed, stratify)
            assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_the_trial_path_imports_neither_scikit_learn_nor_scipy():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hpsearch.spec import spec_from_dict\n"
        "from objectives import build_objective\n"
        "spec = spec_from_dict({'study': {'name': 'd', 'metric': 'accuracy'}, 'data': {'dataset': 'digits'},\n"
        "    'space': {'learning_rate': {'type': 'float', 'low': 1e-3, 'high': 1e-1, 'log': True}}})\n"
        "build_objective(spec)\n"
        "import hpsearch.search, hpsearch.nn, objectives.mlp\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
