"""Accuracy at defaults: hpsearch.nn's estimators against scikit-learn's MLPs.

A user who swaps ``sklearn.neural_network.MLPClassifier`` for
``hpsearch.nn.MLPClassifier`` without touching a parameter should not lose
accuracy. This script fits both on the same splits and reports test accuracy
(classification) or R^2 (regression), mean +- sd over seeds, plus the paired
difference (hpsearch - scikit-learn, per seed, then averaged).

Data (no downloads; only data shipped with scikit-learn or generated):
digits, breast_cancer, wine, diabetes (regression), moons (make_moons n=2000,
noise=0.3), friedman1 (make_friedman1 n=2000, noise=1, regression) and the
synthetic case of issue 14 (make_classification 20000 x 100, 30 informative,
5 classes, random_state=0). Seed s: an 80/20 split with random_state=s
(stratified for classifiers), X standardised on the training rows (and y too
for regression; R^2 is unchanged by that affine map), both estimators seeded
with random_state=s.

Configurations ("matched" = the same value passed to both):

* ``defaults``: both estimators at their own defaults. hpsearch: (100,), Adam
  1e-3, batch 200 (of at most n), 200 epochs, no early stopping, no penalty,
  Glorot-uniform weights. scikit-learn: (100,), Adam 1e-3, batch min(200, n),
  max_iter=200 but it stops when the training loss has not improved by
  tol=1e-4 for 10 epochs, alpha=1e-4, Glorot-uniform weights and biases.
* ``deep``: matched hidden (128, 128, 128) and max_epochs = max_iter = 50;
  everything else at each one's defaults.
* ``sgd``: matched hidden (100,); scikit-learn ``solver="sgd"`` at its defaults
  (Nesterov momentum 0.9, learning_rate_init 1e-3, constant) against hpsearch
  ``optimizer="nesterov"`` (momentum 0.9 by default) with learning_rate 1e-3.
* ``issue``: the synthetic case exactly as issue 14 states it: matched
  (256, 256), Adam 1e-3, batch 256, 5 epochs (max_iter=5).

hpsearch is run once per candidate initialiser (``--inits``): ``auto`` (the
default: Glorot uniform), ``he`` (He normal, the default for relu until these
measurements), ``glorot`` (the same draws as ``auto``) and ``uniform``
(PyTorch's nn.Linear default, U(+-1/sqrt(fan_in)); a benchmark-only candidate
patched in here, not a value of ``init``). ``NAME@B`` also sets batch_size=B
where the configuration leaves it at the default (``auto@64``: the old
batch size). Results stream to stdout as JSON lines (``--out`` also
writes them to a file) and a table closes the run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_defaults.py [--seeds 3]
        [--configs defaults,issue,sgd,deep] [--datasets digits,wine,...] [--inits auto,he,uniform,auto@64]

BLAS is pinned to one thread. Accuracy does not depend on the machine's load;
the fit seconds printed alongside do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn import datasets as skd  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import hpsearch.nn._network as _network  # noqa: E402
from hpsearch.nn import MLPClassifier, MLPRegressor  # noqa: E402


def _synthetic():
    return skd.make_classification(n_samples=20000, n_features=100, n_informative=30, n_classes=5, random_state=0)


DATASETS = {  # name -> (loader, task)
    "digits": (lambda: skd.load_digits(return_X_y=True), "clf"),
    "breast_cancer": (lambda: skd.load_breast_cancer(return_X_y=True), "clf"),
    "wine": (lambda: skd.load_wine(return_X_y=True), "clf"),
    "moons": (lambda: skd.make_moons(n_samples=2000, noise=0.3, random_state=0), "clf"),
    "diabetes": (lambda: skd.load_diabetes(return_X_y=True), "reg"),
    "friedman1": (lambda: skd.make_friedman1(n_samples=2000, noise=1.0, random_state=0), "reg"),
    "synthetic": (_synthetic, "clf"),
}

# config -> (hpsearch kwargs, scikit-learn kwargs, datasets it runs on by default)
CONFIGS = {
    "defaults": ({}, {}, tuple(DATASETS)),
    "issue": (
        dict(hidden_layer_sizes=(256, 256), batch_size=256, max_epochs=5),
        dict(hidden_layer_sizes=(256, 256), batch_size=256, max_iter=5),
        ("synthetic",),
    ),
    "sgd": (dict(optimizer="nesterov", learning_rate=1e-3), dict(solver="sgd"), tuple(DATASETS)),
    "deep": (
        dict(hidden_layer_sizes=(128, 128, 128), max_epochs=50),
        dict(hidden_layer_sizes=(128, 128, 128), max_iter=50),
        tuple(DATASETS),
    ),
}


@contextlib.contextmanager
def candidate_init(name: str):
    """``uniform`` is PyTorch's Linear default; swap it in for the duration (benchmark only)."""
    if name != "uniform":
        yield name
        return
    original = _network.init_weight

    def uniform(rng, fan_in, fan_out, scheme):
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=(fan_in, fan_out))

    _network.init_weight = uniform
    try:
        yield "auto"
    finally:
        _network.init_weight = original


def split(name: str, seed: int):
    loader, task = DATASETS[name]
    X, y = loader()
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y if task == "clf" else None
    )
    sx = StandardScaler().fit(X_tr)
    X_tr, X_te = sx.transform(X_tr), sx.transform(X_te)
    if task == "reg":
        mu, sd = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mu) / sd, (y_te - mu) / sd
    return X_tr, X_te, y_tr, y_te, task


def fit_score(est, X_tr, y_tr, X_te, y_te):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_tr, y_tr)
    seconds = time.perf_counter() - t0
    return float(est.score(X_te, y_te)), seconds, int(getattr(est, "n_iter_", 0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--configs", default="defaults,issue,sgd,deep")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--inits", default="auto,he,uniform,auto@64")
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = ap.parse_args()
    wanted = args.datasets.split(",")
    inits = args.inits.split(",")
    rows = []
    out = open(args.out, "a") if args.out else None
    with threadpool_limits(1):
        for config in args.configs.split(","):
            hp_kw, sk_kw, names = CONFIGS[config]
            for name in [n for n in names if n in wanted]:
                for seed in range(args.seeds):
                    X_tr, X_te, y_tr, y_te, task = split(name, seed)
                    Sk, Hp = (SkClassifier, MLPClassifier) if task == "clf" else (SkRegressor, MLPRegressor)
                    # each maker binds this iteration's estimator, seed and settings (not the loop's last ones)
                    runs = [("sklearn", lambda Sk=Sk, seed=seed, sk_kw=sk_kw: Sk(random_state=seed, **sk_kw))]
                    runs += [
                        (f"hpsearch:{i}", lambda i=i, Hp=Hp, s=seed, kw=hp_kw: (i, Hp(random_state=s, **kw)))
                        for i in inits
                    ]
                    for who, make in runs:
                        if who == "sklearn":
                            score, secs, n_iter = fit_score(make(), X_tr, y_tr, X_te, y_te)
                        else:
                            cand, est = make()
                            cand, _, batch = cand.partition("@")
                            if batch and "batch_size" not in hp_kw:
                                est.set_params(batch_size=int(batch))
                            with candidate_init(cand) as init:
                                est.set_params(init=init)
                                score, secs, n_iter = fit_score(est, X_tr, y_tr, X_te, y_te)
                        row = dict(
                            config=config,
                            dataset=name,
                            seed=seed,
                            who=who,
                            score=round(score, 4),
                            seconds=round(secs, 2),
                            epochs=n_iter,
                        )
                        rows.append(row)
                        line = json.dumps(row)
                        print(line, flush=True)
                        if out:
                            out.write(line + "\n")
                            out.flush()
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    """Mean +- sd per (config, dataset, estimator), and the paired difference to scikit-learn."""
    keys = sorted({(r["config"], r["dataset"]) for r in rows}, key=lambda k: (list(CONFIGS).index(k[0]), k[1]))
    print("\n| config | dataset | estimator | score mean +- sd | diff to sklearn (paired) | epochs |")
    print("|---|---|---|---|---|---|")
    for config, name in keys:
        sel = [r for r in rows if r["config"] == config and r["dataset"] == name]
        sk = {r["seed"]: r["score"] for r in sel if r["who"] == "sklearn"}
        for who in dict.fromkeys(r["who"] for r in sel):
            mine = [r for r in sel if r["who"] == who]
            s = np.array([r["score"] for r in mine])
            diff = np.array([r["score"] - sk[r["seed"]] for r in mine if r["seed"] in sk])
            ep = np.mean([r["epochs"] for r in mine])
            d = "" if who == "sklearn" else f"{diff.mean():+.3f}"
            print(
                f"| {config} | {name} | {who} | {s.mean():.3f} +- {s.std(ddof=1) if len(s) > 1 else 0:.3f} "
                f"| {d} | {ep:.0f} |"
            )


if __name__ == "__main__":
    main()
