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
    "learning_rate": {"name": "FloatDistribution", "attributes": {"low": 1e-4, "high": 0.1, "log": True,
                                                                  "step": None}},
    "width": {"name": "IntDistribution", "attributes": {"low": 16, "high": 512, "log": True, "step": 1}},
    "dropout": {"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 0.5, "log": False,
                                                            "step": None}},
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
    first_id = 1 + (storage.engine.connect().execute(sa.select(sa.func.max(models.TrialModel.trial_id)))
                    .scalar() or 0)
    dumps = {k: json.dumps(v) for k, v in PARAMS.items()}
    for k in range(n):
        tid = first_id + k
        pruned = k % 7 == 6
        lr = float(10 ** rng.uniform(-4, -1))
        row = {"learning_rate": lr, "width": float(int(2 ** rng.uniform(4, 9))),
               "dropout": float(rng.uniform(0, 0.5)), "batch_size": float(rng.integers(16, 257)),
               "optimizer": float(rng.integers(0, 3))}
        score = 0.97 - 0.04 * abs(math.log10(lr) + 2.5) - 0.02 * (row["optimizer"] == 0) + rng.normal(0, 0.005)
        start = t0 + dt.timedelta(seconds=3 * k)
        trials.append({"trial_id": tid, "number": k, "study_id": sid,
                       "state": "PRUNED" if pruned else "COMPLETE",
                       "datetime_start": start, "datetime_complete": start + dt.timedelta(seconds=2.5)})
        params += [{"trial_id": tid, "param_name": p, "param_value": v, "distribution_json": dumps[p]}
                   for p, v in row.items()]
        if not pruned:
            values.append({"trial_id": tid, "objective": 0, "value": float(score), "value_type": "FINITE"})
        inter += [{"trial_id": tid, "step": s, "intermediate_value": float(score * (1 - 0.5 ** (s + 1))),
                   "intermediate_value_type": "FINITE"} for s in range(10)]
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
        print("hpsearch studies (wall, start-up incl.):", _fmt(_wall([PY, "-m", "hpsearch.cli", "studies",
                                                                        "--storage", url])), flush=True)
        plain = ("import optuna,sys; s=optuna.load_study(study_name=sys.argv[2], storage=sys.argv[1]); "
                 "len(s.trials)")
        print("plain optuna.load_study(...).trials (wall):", _fmt(_wall([PY, "-c", plain, url, name], 1)))
        summ = "import optuna,sys; optuna.get_all_study_summaries(sys.argv[1])"
        print("plain optuna.get_all_study_summaries (wall):", _fmt(_wall([PY, "-c", summ, url], 1)))
        port = _free_port()
        server = subprocess.Popen([PY, "-m", "hpsearch.cli", "serve", "--storage", url, "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base)
            print(f"server RSS idle: {_rss_mb(server.pid):.0f} MB", flush=True)
            with httpx.Client(timeout=120) as client:
                for label, path in (("GET /api/studies", "/api/studies"),
                                    ("GET /api/studies/NAME", f"/api/studies/{name}"),
                                    ("dashboard /", "/"),
                                    ("dashboard /studies/NAME", f"/studies/{name}"),
                                    ("dashboard /studies/NAME?sort=value", f"/studies/{name}?sort=value&page=3"),
                                    ("/poll", f"/poll?study={name}")):
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
        subprocess.run([PY, "-m", "hpsearch.cli", "report", study_name(n), "--storage", db_url(n), "-o", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
        took = time.perf_counter() - t
        print(f"hpsearch report, {n} trials: {took:.1f} s wall, {out.stat().st_size / 1e6:.1f} MB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["build", "views", "ask", "report"])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--pg", action="store_true", help="ask: also on a throwaway PostgreSQL cluster")
    ap.add_argument("--samplers", default="random,tpe,grid")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.what == "build":
        ensure_built(sizes)
    elif args.what == "views":
        views(sizes)
    elif args.what == "report":
        report(sizes)
    else:
        from bench_scale_ask import ask_bench  # noqa: PLC0415 (kept apart: it is long)

        ask_bench(sizes, args.samplers.split(","), args.pg)


if __name__ == "__main__":
    main()
