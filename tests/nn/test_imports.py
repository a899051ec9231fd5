"""The training path stays light: scikit-learn and SciPy load only with the estimators."""

from __future__ import annotations

import subprocess
import sys

import hpsearch.nn


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip()


def test_import_and_training_path_do_not_import_sklearn_or_scipy():
    code = (
        "import hpsearch.nn, sys; from hpsearch.nn import Network, train; "
        "print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    )
    assert _run(code) == "False False"


def test_training_a_network_imports_neither():
    code = (
        "import sys, numpy as np; from hpsearch.nn import Network, train; "
        "X = np.random.default_rng(0).normal(size=(32, 4)); y = (X[:, 0] > 0).astype(int); "
        "net = Network(4, (8,), 2, task='multiclass', batch_norm=True, random_state=0); "
        "train(net, X, y, X_val=X, y_val=y, max_epochs=2, patience=1, random_state=0); net.predict(X); "
        "print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    )
    assert _run(code) == "False False"


def test_estimators_load_on_first_use():
    code = (
        "import sys, hpsearch.nn as nn; before = 'sklearn' in sys.modules; "
        "from hpsearch.nn import MLPClassifier, MLPRegressor; "
        "print(before, 'sklearn' in sys.modules, MLPClassifier.__module__, 'MLPRegressor' in dir(nn))"
    )
    assert _run(code) == "False True hpsearch.nn._estimators True"


def test_unknown_attribute_still_raises():
    try:
        hpsearch.nn.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
    assert hpsearch.nn.MLPClassifier is hpsearch.nn._estimators.MLPClassifier
