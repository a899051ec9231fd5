"""Running a comparison's arms: one study per sampler and seed, same split, same budget.

Every arm study runs on the SAME data split (data.seed pinned to the base spec's
split seed) and the same budget N; only the study seed varies per repeat, so
differences between arms come from the samplers, not from the split. Studies are
ordinary hpsearch studies (resumable like ``run``) tagged with user attr
``comparison=<name>``, which is how reports find them. The split's sizes are
stored with each arm (``n_val``, ``n_test``) so a verdict can give differences
in examples without loading the data again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hpsearch._names import safe_name
from hpsearch.errors import UserError
from hpsearch.records import COMPARISON_ATTR, N_TEST_ATTR, N_VAL_ATTR
from hpsearch.samplers import SAMPLERS

if TYPE_CHECKING:
    from hpsearch.search._progress import RunProgress
    from hpsearch.spec import Spec


def parse_samplers(text: str | Sequence[str]) -> list[str]:
    """``"grid,random,tpe"`` (or a sequence of names) -> a list; UserError naming the bad entry."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [str(s).strip().lower() for s in items if str(s).strip()]
    bad = [s for s in names if s not in SAMPLERS]
    if bad or not names:
        raise UserError(f"samplers: expected a comma-separated subset of {', '.join(SAMPLERS)}, got {text!r}")
    if len(set(names)) != len(names):
        raise UserError(f"samplers: each sampler may appear once, got {text!r}")
    return names


def arm_name(name: str, sampler: str, seed: int) -> str:
    """URL-safe study name of one arm and repeat: ``<name>-<sampler>-s<seed>``."""
    return f"{safe_name(name)}-{sampler}-s{seed}"


def arm_specs(spec: Spec, samplers: Sequence[str], n_seeds: int, n_trials: int | None = None) -> list[Spec]:
    """The specs of every arm study, interleaved in (seed, sampler) order: grid-s0, random-s0, tpe-s0, grid-s1, ...

    Workers finish studies in the order given (back to the first pending study
    after each trial), so a comparison stopped part-way (a timeout, Ctrl-C)
    already holds whole repeats of every sampler: a fair comparison, only
    smaller.
    """
    from hpsearch.spec import spec_from_dict

    if n_seeds < 1:
        raise UserError(f"seeds: expected a positive number of repeats, got {n_seeds}")
    n = int(n_trials or spec.study.n_trials)
    if n < 1:
        raise UserError(f"n_trials: expected a positive budget, got {n}")
    base = spec.to_dict()
    out = []
    for k in range(n_seeds):
        seed = spec.study.seed + k
        for sampler in samplers:
            d = {
                **base,
                "study": {
                    **base["study"],
                    "name": arm_name(spec.study.name, sampler, seed),
                    "sampler": sampler,
                    "seed": seed,
                    "n_trials": n,
                },
            }
            if "data" in base:
                d["data"] = {**base["data"], "seed": spec.split_seed}
            out.append(spec_from_dict(d, source=f"{spec.study.name} (compare arm {sampler}, seed {seed})"))
    return out


def equal_budget(spec: Spec, samplers: Sequence[str], n_trials: int | None = None) -> tuple[int, str | None]:
    """The number of trials every arm runs, and why when it is not the one asked for.

    Best-of-N grows with N, so arms are compared at the same number of finished trials. A grid
    smaller than the budget (its points per axis are whole numbers) would run fewer trials than the
    other arms; then every arm runs the grid's size instead.
    """
    from hpsearch.records import budget

    n = int(n_trials or spec.study.n_trials)
    if "grid" not in samplers or n < 1:
        return n, None
    grid = budget(spec.model_copy(update={"study": spec.study.model_copy(update={"sampler": "grid", "n_trials": n})}))
    if grid >= n:
        return n, None
    why = (
        f"grid search's grid has {grid} points, fewer than n_trials {n}: every arm runs {grid} trials, "
        "so that all are compared at the same budget"
    )
    return grid, why


def split_sizes(spec: Spec) -> dict[str, int]:
    """``{"n_val": ..., "n_test": ...}`` of the spec's data split; {} for user objectives (no split)."""
    from hpsearch.spec.catalog import BUILTIN_OBJECTIVES

    if spec.study.objective not in BUILTIN_OBJECTIVES or spec.data is None:
        return {}
    from objectives.datasets import load_problem

    problem = load_problem(spec.data, spec.split_seed)
    return {N_VAL_ATTR: int(len(problem.val)), N_TEST_ATTR: int(len(problem.test))}


def run_comparison(
    spec: Spec, storage_url: str, specs: list[Spec], *, jobs: int = 1, progress: RunProgress | None = None
) -> None:
    """Create (or resume) every arm study, tag it, and run them all in one worker pool."""
    from hpsearch.search import prepare_study, run_studies
    from hpsearch.storage import open_storage

    storage = open_storage(storage_url)
    sizes = split_sizes(spec)
    for s in specs:
        study, _ = prepare_study(storage, s, n_trials=s.study.n_trials)
        study.set_user_attr(COMPARISON_ATTR, spec.study.name)
        for key, value in sizes.items():
            study.set_user_attr(key, value)
    run_studies(specs, storage_url, jobs=jobs, progress=progress)
