"""Benchmark: hpsearch on studies of 100, 2,000 and 10,000 trials (issue 17).

The studies are plain Optuna studies (no hpsearch spec): 5 parameters, one
trial in 7 pruned, 10 intermediate values each. They are written with bulk
INSERTs straight into Optuna's tables (a few seconds for 10,000 trials, where
Optuna's own ``add_trials`` takes minutes) and cached under /tmp, so a second
run only measures.

What is measured (each a separate command, since the machine is shared)::

    python benchmarks/bench_scale.py build            # the cached studies (sqlite)
    python benchmarks/bench_scale.py views            # hpsearch studies, API, dashboard, memory; plain Optuna beside
    python benchmarks/bench_scale.py ask [--pg]       # ask+tell latency at trial 100/2,000/10,000
    python benchmarks/bench_scale.py report           # hpsearch report of the 10,000-trial study

``--sizes 100,2000`` limits the sizes. ``--pg`` also runs on a throwaway
PostgreSQL cluster (needs the server binaries; see .ci/start-postgres.sh).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("HPSEARCH_BENCH_CACHE", "/tmp/hpsearch-bench-scale"))
SIZES = (100, 2000, 10000)
PY = sys.executable

PARAMS = {  # name -> Optuna distribution as dict (json_to_distribution's format)
    "learning_rate": {"name": "FloatDistribution", "attributes": {"low": 1e-4, "high": 0.1, "log": True, "step": None}},
    "width": {"name": "IntDistribution", "attributes": {"low": 16, "high": 512, "log": True, "step": 1}},
    "dropout": {"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 0.5, "log": False, "step": None}},
    "batch_size": {"name": "IntDistribution", "attributes": {"low": 16, "high": 256, "log": False, "step": 1}},
    "optimizer": {"name": "CategoricalDistribution", "attributes": {"choices": ["sgd", "momentum", "adam"]}},
}


def db_url(n: int) -> str:
    return f"sqlite:///{CACHE / f'scale-{n}.db'}"


def study_name(n: int) -> str:
    return f"scale-{n}"


def build(url: str, name: str, n: int, seed: int = 0) -> None:
    """A plain Optuna study of ``n`` finished trials in ``url``, written with bulk INSERTs.

    Trial k: PRUNED when k % 7 == 6 (no value), else COMPLETE; 10 intermediate
    values each; 5 parameters; 3 seconds apart.
    """
    import optuna
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    sid = study._study_id
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2026, 11, 1)
    trials, params, values, inter = [], [], [], []
    first_id = 1 + (storage.engine.connect().execute(sa.select(sa.func.max(models.TrialModel.trial_id))).scalar() or 0)
    dumps = {k: json.dumps(v) for k, v in PARAMS.items()}
    for k in range(n):
        tid = first_id + k
        pruned = k % 7 == 6
        lr = float(10 ** rng.uniform(-4, -1))
        row = {
            "learning_rate": lr,
            "width": float(int(2 ** rng.uniform(4, 9))),
            "dropout": float(rng.uniform(0, 0.5)),
            "batch_size": float(rng.integers(16, 257)),
            "optimizer": float(rng.integers(0, 3)),
        }
        score = 0.97 - 0.04 * abs(math.log10(lr) + 2.5) - 0.02 * (row["optimizer"] == 0) + rng.normal(0, 0.005)
        start = t0 + dt.timedelta(seconds=3 * k)
        trials.append(
            {
                "trial_id": tid,
                "number": k,
                "study_id": sid,
                "state": "PRUNED" if pruned else "COMPLETE",
                "datetime_start": start,
                "datetime_complete": start + dt.timedelta(seconds=2.5),
            }
        )
        params += [
            {"trial_id": tid, "param_name": p, "param_value": v, "distribution_json": dumps[p]} for p, v in row.items()
        ]
        if not pruned:
            values.append({"trial_id": tid, "objective": 0, "value": float(score), "value_type": "FINITE"})
        inter += [
            {
                "trial_id": tid,
                "step": s,
                "intermediate_value": float(score * (1 - 0.5 ** (s + 1))),
                "intermediate_value_type": "FINITE",
            }
            for s in range(10)
        ]
    with storage.engine.begin() as con:
        con.execute(models.TrialModel.__table__.insert(), trials)
        con.execute(models.TrialParamModel.__table__.insert(), params)
        con.execute(models.TrialValueModel.__table__.insert(), values)
        con.execute(models.TrialIntermediateValueModel.__table__.insert(), inter)
    storage.engine.dispose()


def ensure_built(sizes) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        path = CACHE / f"scale-{n}.db"
        if path.exists():
            continue
        t = time.perf_counter()
        build(db_url(n), study_name(n), n)
        print(f"built {path} ({n} trials) in {time.perf_counter() - t:.1f} s", flush=True)


def _wall(cmd: list[str], repeat: int = 3) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return out


def _fmt(xs: list[float]) -> str:
    return f"{min(xs):.3f} s (median {statistics.median(xs):.3f}, n={len(xs)})"


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def views(sizes) -> None:
    """hpsearch studies (a subprocess, start-up included), plain Optuna beside; a live server's API
    and pages (warm: each measured after one untimed request), and its memory."""
    import httpx

    ensure_built(sizes)
    for n in sizes:
        url, name = db_url(n), study_name(n)
        print(f"\n== {n} trials ({url})", flush=True)
        print(
            "hpsearch studies (wall, start-up incl.):",
            _fmt(_wall([PY, "-m", "hpsearch.cli", "studies", "--storage", url])),
            flush=True,
        )
        plain = "import optuna,sys; s=optuna.load_study(study_name=sys.argv[2], storage=sys.argv[1]); len(s.trials)"
        print("plain optuna.load_study(...).trials (wall):", _fmt(_wall([PY, "-c", plain, url, name], 1)))
        summ = "import optuna,sys; optuna.get_all_study_summaries(sys.argv[1])"
        print("plain optuna.get_all_study_summaries (wall):", _fmt(_wall([PY, "-c", summ, url], 1)))
        port = _free_port()
        server = subprocess.Popen(
            [PY, "-m", "hpsearch.cli", "serve", "--storage", url, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base)
            print(f"server RSS idle: {_rss_mb(server.pid):.0f} MB", flush=True)
            with httpx.Client(timeout=120) as client:
                for label, path in (
                    ("GET /api/studies", "/api/studies"),
                    ("GET /api/studies/NAME", f"/api/studies/{name}"),
                    ("dashboard /", "/"),
                    ("dashboard /studies/NAME", f"/studies/{name}"),
                    ("dashboard /studies/NAME?sort=value", f"/studies/{name}?sort=value&page=3"),
                    ("/poll", f"/poll?study={name}"),
                ):
                    t = time.perf_counter()
                    client.get(base + path).raise_for_status()  # warm
                    cold = time.perf_counter() - t
                    times = []
                    for _ in range(5):
                        t = time.perf_counter()
                        client.get(base + path).raise_for_status()
                        times.append(time.perf_counter() - t)
                    print(f"{label}: {_fmt(times)}; first request {cold:.3f} s", flush=True)
            print(f"server RSS after the requests: {_rss_mb(server.pid):.0f} MB", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/favicon.ico", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def report(sizes) -> None:
    ensure_built(sizes)
    for n in sizes:
        out = Path(tempfile.mkdtemp()) / "r.html"
        t = time.perf_counter()
        subprocess.run(
            [PY, "-m", "hpsearch.cli", "report", study_name(n), "--storage", db_url(n), "-o", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        took = time.perf_counter() - t
        print(f"hpsearch report, {n} trials: {took:.1f} s wall, {out.stat().st_size / 1e6:.1f} MB", flush=True)


# --- ask + tell latency late in a study -----------------------------------------------------

GRID = {
    "learning_rate": [1e-4 * 1.6**i for i in range(10)],
    "width": [16 * (i + 1) for i in range(10)],
    "dropout": [i / 20 for i in range(10)],
    "batch_size": [16 + 24 * i for i in range(11)],
    "optimizer": ["sgd", "momentum", "adam"] * 0
    + ["sgd", "momentum", "adam", "rmsprop", "adamw", "nesterov", "adagrad", "lion", "sophia", "lamb"],
}
# 10 x 10 x 10 x 11 x 10 = 11,000 grid points: room for 10,000 prefilled trials and the measured ones


def _space_spec(name: str, sampler: str, n_trials: int) -> dict:
    space = {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "width": {"type": "int", "low": 16, "high": 512},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "batch_size": {"type": "int", "low": 16, "high": 256},
        "optimizer": {"type": "categorical", "choices": GRID["optimizer"]},
    }
    if sampler == "grid":
        for k in ("learning_rate", "width", "dropout", "batch_size"):
            space[k]["grid"] = GRID[k]
    return {
        "study": {"name": name, "direction": "maximize", "sampler": sampler, "n_trials": n_trials, "seed": 1},
        "space": space,
    }


def _distributions(sampler: str):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if sampler == "grid":
        return {k: CategoricalDistribution(v) for k, v in GRID.items()}
    return {
        "learning_rate": FloatDistribution(1e-4, 0.1, log=True),
        "width": IntDistribution(16, 512),
        "dropout": FloatDistribution(0.0, 0.5),
        "batch_size": IntDistribution(16, 256),
        "optimizer": CategoricalDistribution(GRID["optimizer"]),
    }


def _prefill(storage, study_id: int, n: int, sampler: str, dists: dict, claims: bool) -> None:
    """``n`` finished trials (1 in 7 pruned, 10 intermediate values) in bulk; with ``claims`` also
    the hpsearch claims rows and slot attrs an hpsearch run would have left."""
    import uuid

    import optuna
    import sqlalchemy as sa
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models

    from hpsearch.records import CLAIM_TOKEN_ATTR, SLOT_ATTR
    from hpsearch.storage._claims import claims_table

    rng = np.random.default_rng(n)
    with storage.engine.connect() as con:
        first = 1 + (con.execute(sa.select(sa.func.max(models.TrialModel.trial_id))).scalar() or 0)
    t0 = dt.datetime.now() - dt.timedelta(seconds=3 * n + 60)
    trials, params, values, inter, sys_attrs, claim_rows = [], [], [], [], [], []
    grid_points = list(np.ndindex(*(len(v) for v in GRID.values()))) if sampler == "grid" else None
    dist_json = {p: distribution_to_json(d) for p, d in dists.items()}
    for k in range(n):
        tid, pruned = first + k, k % 7 == 6
        start = t0 + dt.timedelta(seconds=3 * k)
        trials.append(
            {
                "trial_id": tid,
                "number": k,
                "study_id": study_id,
                "state": "PRUNED" if pruned else "COMPLETE",
                "datetime_start": start,
                "datetime_complete": start + dt.timedelta(seconds=2),
            }
        )
        for j, (p, d) in enumerate(dists.items()):
            if grid_points is not None:
                external = GRID[p][grid_points[k][j]]
            elif hasattr(d, "choices"):
                external = d.choices[int(rng.integers(0, len(d.choices)))]
            elif d.log:
                external = float(math.exp(rng.uniform(math.log(d.low), math.log(d.high))))
            elif isinstance(d, optuna.distributions.IntDistribution):
                external = int(rng.integers(d.low, d.high + 1))
            else:
                external = float(rng.uniform(d.low, d.high))
            params.append(
                {
                    "trial_id": tid,
                    "param_name": p,
                    "param_value": float(d.to_internal_repr(external)),
                    "distribution_json": dist_json[p],
                }
            )
        score = float(rng.normal(0.9, 0.03))
        if not pruned:
            values.append({"trial_id": tid, "objective": 0, "value": score, "value_type": "FINITE"})
        inter += [
            {
                "trial_id": tid,
                "step": s,
                "intermediate_value": score * (1 - 0.5 ** (s + 1)),
                "intermediate_value_type": "FINITE",
            }
            for s in range(10)
        ]
        if claims:
            token = str(uuid.uuid4())
            sys_attrs += [
                {"trial_id": tid, "key": SLOT_ATTR, "value_json": json.dumps(k)},
                {"trial_id": tid, "key": CLAIM_TOKEN_ATTR, "value_json": json.dumps(token)},
            ]
            if sampler == "grid":
                sys_attrs.append({"trial_id": tid, "key": "grid_id", "value_json": json.dumps(k)})
            claim_rows.append(
                {
                    "study_id": study_id,
                    "slot": k,
                    "token": token,
                    "trial_id": tid,
                    "host": "bench",
                    "pid": 1,
                    "claimed_at": time.time(),
                }
            )
        elif sampler == "grid":
            sys_attrs.append({"trial_id": tid, "key": "grid_id", "value_json": json.dumps(k)})
            sys_attrs.append({"trial_id": tid, "key": "search_space", "value_json": json.dumps(GRID)})
    with storage.engine.begin() as con:
        con.execute(models.TrialModel.__table__.insert(), trials)
        con.execute(models.TrialParamModel.__table__.insert(), params)
        if values:
            con.execute(models.TrialValueModel.__table__.insert(), values)
        con.execute(models.TrialIntermediateValueModel.__table__.insert(), inter)
        if sys_attrs:
            con.execute(models.TrialSystemAttributeModel.__table__.insert(), sys_attrs)
        if claim_rows:
            con.execute(claims_table.insert(), claim_rows)
        if storage.engine.dialect.name == "postgresql":  # explicit ids do not advance the serial
            con.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('trials', 'trial_id'), (SELECT max(trial_id) FROM trials))"
                )
            )


def _plain_sampler(sampler: str):
    import optuna

    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=1)
    if sampler == "tpe":  # hpsearch's TPE arguments (hpsearch.search._samplers), so only the overhead differs
        return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=1)
    return optuna.samplers.GridSampler(GRID, seed=1)


def _time_cycles(ask_tell, repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        ask_tell(i)
        times.append(time.perf_counter() - t)
    return times


def _ask_case(url: str, n: int, sampler: str, repeat: int) -> tuple[list[float], list[float]]:
    """(hpsearch ask+tell seconds, plain Optuna ask+tell seconds) after ``n`` finished trials."""
    import warnings

    import optuna

    from hpsearch.search import ask_trial, load_study, tell_trial
    from hpsearch.server._access import create_study
    from hpsearch.space import distributions
    from hpsearch.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    storage = open_storage(url, heartbeat=False)
    name = f"hp-{sampler}-{n}"
    create_study(storage, _space_spec(name, sampler, n + repeat + 5))
    study, spec = load_study(storage, name)
    _prefill(storage, study._study_id, n, sampler, distributions(spec.space), claims=True)
    study, spec = load_study(storage, name)  # a worker's study: Optuna's cache of finished trials inside

    def hp(i):
        trial, params = ask_trial(study, spec, lease=3600.0)
        tell_trial(study, trial.number, value=0.5 + 1e-4 * i)

    hp(-1)  # warm the cache (a worker's first ask reads the study once)
    ours = _time_cycles(hp, repeat)

    plain = optuna.create_study(
        study_name=f"plain-{sampler}-{n}", storage=storage, direction="maximize", sampler=_plain_sampler(sampler)
    )
    dists = _distributions(sampler)
    _prefill(storage, plain._study_id, n, sampler, dists, claims=False)

    def op(i):
        trial = plain.ask(dists)
        plain.tell(trial, 0.5 + 1e-4 * i)

    op(-1)
    theirs = _time_cycles(op, repeat)
    storage.engine.dispose()
    return ours, theirs


def ask_bench(sizes, samplers, pg: bool, repeat: int, sqlite: bool = True) -> None:
    urls = [("sqlite", lambda: f"sqlite:///{tempfile.mkdtemp(prefix='hps-ask-')}/ask.db")] if sqlite else []
    cluster = None
    if pg:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.distributed.conftest import _server_bindir, _ThrowawayCluster

        bindir = _server_bindir()
        if bindir is None:
            print("no PostgreSQL server binaries: PostgreSQL skipped")
        else:
            cluster = _ThrowawayCluster(bindir)
            base = cluster.start()
            import sqlalchemy as sa

            def fresh_pg():
                db = f"bench_{time.time_ns()}"
                eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
                with eng.connect() as con:
                    con.execute(sa.text(f"CREATE DATABASE {db}"))
                eng.dispose()
                return base.rsplit("/", 1)[0] + "/" + db

            urls.append(("postgresql", fresh_pg))
    try:
        print(
            "median ask+tell in ms (min) after n finished trials; hpsearch = claims, attrs, recovery, "
            "Optuna's storage and sampler; plain = study.ask(distributions) + study.tell",
            flush=True,
        )
        for backend, make_url in urls:
            for sampler in samplers:
                for n in sizes:
                    reps = repeat if sampler != "tpe" or n < 5000 else max(3, repeat // 2)
                    ours, theirs = _ask_case(make_url(), n, sampler, reps)
                    print(
                        f"{backend:10s} {sampler:6s} n={n:>6}: hpsearch {statistics.median(ours) * 1e3:8.1f} "
                        f"({min(ours) * 1e3:.1f})  plain optuna {statistics.median(theirs) * 1e3:8.1f} "
                        f"({min(theirs) * 1e3:.1f})",
                        flush=True,
                    )
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["build", "views", "ask", "report"])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--pg", action="store_true", help="ask: also on a throwaway PostgreSQL cluster")
    ap.add_argument("--no-sqlite", action="store_true", help="ask: PostgreSQL only (with --pg)")
    ap.add_argument("--samplers", default="random,tpe,grid")
    ap.add_argument("--repeat", type=int, default=10, help="ask: ask+tell cycles measured per case")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.what == "build":
        ensure_built(sizes)
    elif args.what == "views":
        views(sizes)
    elif args.what == "report":
        report(sizes)
    else:
        ask_bench(sizes, args.samplers.split(","), args.pg, args.repeat, sqlite=not args.no_sqlite)


if __name__ == "__main__":
    main()
