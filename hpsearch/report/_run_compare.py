"""Running a comparison: one study per sampler and seed, then the arms' test scores.

Every arm study runs on the SAME data split (data.seed pinned to the base spec's
split seed) and the same budget N; only the study seed varies per repeat, so
differences between arms come from the samplers, not from the split. Studies are
ordinary hpsearch studies (resumable like ``run``) tagged with user attr
``comparison=<name>``, which is how the report finds them.
"""

from __future__ import annotations

import math
import re
import statistics
from typing import Any, Callable, Sequence

from hpsearch.errors import UserError

SAMPLERS = ("grid", "random", "tpe", "qmc")


def parse_samplers(text: str) -> list[str]:
    """``"grid,random,tpe"`` -> a list; UserError naming the bad entry."""
    names = [s.strip().lower() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SAMPLERS]
    if bad or not names:
        raise UserError(f"--samplers: expected a comma-separated subset of {', '.join(SAMPLERS)}, got {text!r}")
    if len(set(names)) != len(names):
        raise UserError(f"--samplers: each sampler may appear once, got {text!r}")
    return names


def safe_name(name: str) -> str:
    """A file- and URL-safe version of a study name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "study"


def arm_name(name: str, sampler: str, seed: int) -> str:
    """URL-safe study name of one arm and repeat: ``<name>-<sampler>-s<seed>``."""
    return f"{safe_name(name)}-{sampler}-s{seed}"


def arm_specs(spec: Any, samplers: Sequence[str], n_seeds: int, n_trials: int | None = None) -> list[Any]:
    """The specs of every arm study, in (sampler, seed) order."""
    from hpsearch.spec import spec_from_dict

    if n_seeds < 1:
        raise UserError(f"--seeds: expected a positive number of repeats, got {n_seeds}")
    n = int(n_trials or spec.study.n_trials)
    if n < 1:
        raise UserError(f"--n-trials: expected a positive budget, got {n}")
    base = spec.to_dict()
    out = []
    for sampler in samplers:
        for k in range(n_seeds):
            seed = spec.study.seed + k
            d = {**base, "study": {**base["study"], "name": arm_name(spec.study.name, sampler, seed),
                                   "sampler": sampler, "seed": seed, "n_trials": n}}
            if "data" in base:
                d["data"] = {**base["data"], "seed": spec.split_seed}
            out.append(spec_from_dict(d, source=f"{spec.study.name} (compare arm {sampler}, seed {seed})"))
    return out


def run_comparison(spec: Any, storage_url: str, specs: list[Any], *, jobs: int = 1, progress: bool = True) -> None:
    """Create (or resume) every arm study, tag it, and run them all in one worker pool."""
    from hpsearch.search import prepare_study, run_studies
    from hpsearch.storage import open_storage

    storage = open_storage(storage_url)
    for s in specs:
        study, _ = prepare_study(storage, s, n_trials=s.study.n_trials)
        study.set_user_attr("comparison", spec.study.name)
    run_studies(specs, storage_url, jobs=jobs, progress=progress)


def evaluate_arms(
    storage: Any, name: str, *, n_seeds: int = 1, say: Callable[[str], None] = print
) -> dict[str, dict[str, Any]]:
    """Retrain each arm's best configuration on train+val with ``n_seeds`` training
    seeds and score it on test; stores test_score (mean), test_score_std,
    test_metrics (means), test_trial and test_seeds on the study holding that best.

    Already-evaluated bests (same trial, enough seeds) are not retrained, so a
    resumed ``compare`` is cheap.
    """
    from objectives import evaluate_best

    from hpsearch.report._collect import find_studies
    from hpsearch.report._compare import group_arms
    from hpsearch.storage import load_study_spec

    _, studies = find_studies(storage, name)
    results: dict[str, dict[str, Any]] = {}
    for sampler, arm in group_arms(studies).items():
        cands = [(s, s.best()) for s in arm if s.best() is not None]
        if not cands:
            continue
        sign = 1 if arm[0].direction == "maximize" else -1
        study, best = max(cands, key=lambda c: sign * c[1].value)
        attrs = study.attrs
        if attrs.get("test_trial") == best.number and len(attrs.get("test_seeds") or []) >= n_seeds:
            results[sampler] = {"study": study.name, "trial": best.number, **{
                k: attrs.get(k) for k in ("test_score", "test_score_std", "test_metrics")}}
            continue
        spec = load_study_spec(storage, study.name)
        seeds = [spec.study.seed + j for j in range(n_seeds)]
        say(f"{sampler}: retraining trial #{best.number} of {study.name} on train+validation "
            f"({n_seeds} seed{'s' if n_seeds > 1 else ''}) ...")
        runs = [evaluate_best(spec, best.params, seed=s) for s in seeds]
        keys = list(runs[0])
        means = {k: _mean([r[k] for r in runs]) for k in keys}
        std = _std([r[keys[0]] for r in runs])
        sid = storage.get_study_id_from_name(study.name)
        new = {"test_score": means[keys[0]], "test_score_std": std, "test_metrics": means,
               "test_trial": best.number, "test_seeds": seeds}
        for k, v in new.items():
            storage.set_study_user_attr(sid, k, v)
        results[sampler] = {"study": study.name, "trial": best.number, **{
            k: new[k] for k in ("test_score", "test_score_std", "test_metrics")}}
    return results


def _mean(xs: list[float]) -> float | None:
    ok = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.fmean(ok) if ok else None


def _std(xs: list[float]) -> float | None:
    ok = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.stdev(ok) if len(ok) > 1 else None
