"""Training speed: hpsearch.nn against scikit-learn's MLPClassifier and PyTorch (CPU).

Every framework trains the same architecture on the same standardized split with
the same optimizer (Adam), learning rate, batch size and number of epochs, and
no regularisation. Runs are interleaved (hpsearch, sklearn, torch, hpsearch,
...) so background load hits all of them alike. Reported: the best and the median
of ``--repeats`` wall times; the median (and range) of the paired speed-ups,
each repeat's scikit-learn time over the library's time in that same repeat,
which is the figure least moved by a shared machine's slow spells; and the
mean (+- sd) test accuracy over all runs, seeds 0..repeats-1 (one seed's
accuracy says little). Only ``fit`` is
timed (for hpsearch: ``Network`` construction + ``train``).

A fourth row, ``matmuls``, times only the matrix products of the same run (see
``run_matmuls``): the floor under hpsearch and scikit-learn, which call the same
GEMMs. scikit-learn's time over it is the largest speed-up possible here.

    python benchmarks/bench_mlp.py [--repeats 7] [--threads N] [--case digits|synthetic|all]

PyTorch is optional: without it the column is skipped. This is a benchmark,
not a test; the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from hpsearch.nn import Network, train

try:
    import torch
except ImportError:  # the benchmark still runs without PyTorch
    torch = None

CASES = {
    "digits": dict(hidden=(256, 256), lr=1e-3, batch=128, epochs=20),
    "synthetic": dict(hidden=(256, 256), lr=1e-3, batch=256, epochs=5),
}


def load_case(name: str):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        X, y = make_classification(n_samples=20000, n_features=100, n_informative=40, n_classes=5, random_state=0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    f32 = np.float32
    return scaler.transform(X_tr).astype(f32), scaler.transform(X_te).astype(f32), y_tr, y_te


def run_hpsearch(data, cfg, seed):
    X_tr, X_te, y_tr, y_te = data
    t = time.perf_counter()
    net = Network(
        X_tr.shape[1], cfg["hidden"], int(y_tr.max()) + 1, task="multiclass", init="glorot", random_state=seed
    )
    train(
        net,
        X_tr,
        y_tr,
        optimizer="adam",
        learning_rate=cfg["lr"],
        batch_size=cfg["batch"],
        max_epochs=cfg["epochs"],
        random_state=seed,
    )
    seconds = time.perf_counter() - t
    return seconds, float((net.predict(X_te).argmax(1) == y_te).mean())


def run_sklearn(data, cfg, seed):
    X_tr, X_te, y_tr, y_te = data
    clf = MLPClassifier(
        cfg["hidden"],
        solver="adam",
        learning_rate_init=cfg["lr"],
        batch_size=cfg["batch"],
        max_iter=cfg["epochs"],
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        clf.fit(X_tr, y_tr)
        seconds = time.perf_counter() - t
    return seconds, float(clf.score(X_te, y_te))


def run_torch(data, cfg, seed):
    X_tr, X_te, y_tr, y_te = data
    torch.manual_seed(seed)
    t = time.perf_counter()
    Xt, yt = torch.from_numpy(X_tr), torch.from_numpy(y_tr.astype(np.int64))
    layers, width = [], X_tr.shape[1]
    for h in cfg["hidden"]:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, int(y_tr.max()) + 1))
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    n, bs = len(Xt), cfg["batch"]
    for _ in range(cfg["epochs"]):
        perm = torch.randperm(n)
        Xs, ys = Xt[perm], yt[perm]
        for i in range(0, n, bs):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xs[i : i + bs]), ys[i : i + bs])
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t
    with torch.no_grad():
        acc = float((model(torch.from_numpy(X_te)).argmax(1).numpy() == y_te).mean())
    return seconds, acc


def run_matmuls(data, cfg, seed):
    """The floor: only the matrix products of the same training run, and nothing else.

    The same batches, layer shapes and epochs as the others: per batch the
    forward products, the weight gradients and the input gradients (the first
    layer's skipped, as hpsearch and scikit-learn skip it), with NumPy's BLAS
    into preallocated buffers. No bias, activation, loss, optimizer or shuffle.
    hpsearch and scikit-learn spend at least this long (they call the very
    same float32 GEMMs), so scikit-learn's time over this one bounds the
    speed-up that anything built on NumPy's BLAS could show here.
    """
    X_tr, _, y_tr, _ = data
    rng = np.random.default_rng(seed)
    widths = [X_tr.shape[1], *cfg["hidden"], int(y_tr.max()) + 1]
    # scaled so that activations and gradients stay O(1): no overflow, no denormals
    pairs = zip(widths, widths[1:], strict=False)  # (inputs, outputs) of each layer
    weights = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32) for a, b in pairs]
    weight_grads = [np.empty_like(w) for w in weights]
    buffers = {}
    n, bs = len(X_tr), cfg["batch"]
    t = time.perf_counter()
    for _ in range(cfg["epochs"]):
        for start in range(0, n, bs):
            x = X_tr[start : start + bs]
            m = x.shape[0]
            if m not in buffers:
                acts = [np.empty((m, w.shape[1]), np.float32) for w in weights]
                grads = [np.empty((m, w.shape[0]), np.float32) for w in weights[1:]]
                dlogits = (0.01 * rng.standard_normal((m, widths[-1]))).astype(np.float32)
                buffers[m] = acts, grads, dlogits
            acts, grads, g = buffers[m]
            a = x
            for w, out in zip(weights, acts, strict=True):
                a = np.matmul(a, w, out=out)
            for i in range(len(weights) - 1, -1, -1):
                np.matmul((x if i == 0 else acts[i - 1]).T, g, out=weight_grads[i])
                if i > 0:
                    g = np.matmul(g, weights[i].T, out=grads[i - 1])
    return time.perf_counter() - t, float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--threads", type=int, default=None, help="BLAS / torch threads (default: library default)")
    args = parser.parse_args()
    runners = {"hpsearch": run_hpsearch, "sklearn": run_sklearn}
    if torch is not None:
        runners["torch"] = run_torch
        if args.threads:
            torch.set_num_threads(args.threads)
    runners["matmuls"] = run_matmuls
    limits = None
    if args.threads:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(args.threads)
    cases = list(CASES) if args.case == "all" else [args.case]
    print(f"{args.repeats} interleaved runs per library; wall seconds of fit, test accuracy")
    for case in cases:
        cfg, data = CASES[case], load_case(case)
        for run in runners.values():  # warm-up: imports, BLAS thread pools, torch kernels
            run(data, dict(cfg, epochs=1), 0)
        times = {name: [] for name in runners}
        accs = {name: [] for name in runners}
        for rep in range(args.repeats):
            for name, run in runners.items():
                seconds, acc = run(data, cfg, rep)
                times[name].append(seconds)
                accs[name].append(acc)
        shape = f"{data[0].shape[0]}x{data[0].shape[1]}"
        print(
            f"\n{case} ({shape} train, hidden {cfg['hidden']}, Adam lr {cfg['lr']}, "
            f"batch {cfg['batch']}, {cfg['epochs']} epochs)"
        )
        best = {name: min(t) for name, t in times.items()}
        median = {name: float(np.median(t)) for name, t in times.items()}
        for name in runners:
            # Paired: each repeat's scikit-learn time over this library's time in the same repeat. The runs of
            # one repeat are seconds apart, so a slow spell of a shared machine hits both sides of a pair.
            paired = np.array(times["sklearn"]) / np.array(times[name])
            acc = "--" if name == "matmuls" else f"{np.mean(accs[name]):.3f} +- {np.std(accs[name]):.3f}"
            print(
                f"  {name:9s} best {best[name]:6.3f} s ({best['sklearn'] / best[name]:4.2f}x scikit-learn)  "
                f"median {median[name]:6.3f} s ({median['sklearn'] / median[name]:4.2f}x)  "
                f"paired {np.median(paired):4.2f}x [{paired.min():4.2f}-{paired.max():4.2f}]  acc {acc}"
            )
        print(
            f"  (matmuls: the same matrix products and nothing else, {best['matmuls'] / best['hpsearch']:.0%} of "
            f"hpsearch's best time: with NumPy's BLAS, nothing can beat scikit-learn by more than "
            f"{best['sklearn'] / best['matmuls']:.2f}x here)"
        )
    if limits is not None:
        limits.unregister()


if __name__ == "__main__":
    main()
