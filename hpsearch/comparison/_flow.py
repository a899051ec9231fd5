"""``hpsearch.compare(spec, ...)``: run the arms, retrain every repeat's best, return the verdict.

The one flow behind the CLI's ``compare`` and the Python API's ``hpsearch.compare``;
it prints nothing and tells ``progress`` (hpsearch.search's RunProgress) what happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpsearch.search._progress import RunProgress
    from hpsearch.spec import SpecSource


def compare(
    spec: SpecSource,
    *,
    samplers: Any = ("grid", "random", "tpe"),
    seeds: int = 10,
    storage: str | None = None,
    objective: Callable[..., float] | None = None,
    jobs: int = 1,
    n_trials: int | None = None,
    eval_seeds: int = 3,
    progress: RunProgress | None = None,
) -> dict[str, Any]:
    """The whole comparison flow shared by the CLI and the Python API (see hpsearch.compare): run (or
    resume) the arms, re-score every repeat's best, compute the verdict, store it with the comparison
    (the report renders that one) and return it."""
    from hpsearch._api import resolve_spec
    from hpsearch.comparison._arms import arm_specs, equal_budget, parse_samplers, run_comparison
    from hpsearch.comparison._retrain import rescore_fronts, retrain_bests
    from hpsearch.comparison._verdict import earlier_looks, load_verdict, store_verdict
    from hpsearch.errors import UserError
    from hpsearch.results import arm_studies
    from hpsearch.storage import open_storage, resolve_storage_url

    names = parse_samplers(samplers)
    if eval_seeds < 0:
        raise UserError(f"eval_seeds: expected a whole number >= 0, got {eval_seeds}")
    resolved = resolve_spec(spec, objective, jobs)  # validated before the database is touched
    n, why = equal_budget(resolved, names, n_trials)
    if why is not None and progress:
        progress.note(why)
    specs = arm_specs(resolved, names, seeds, n)
    url = resolve_storage_url(storage)
    run_comparison(resolved, url, specs, jobs=jobs, progress=progress)
    st = open_storage(url)
    say = progress.note if progress else (lambda _m: None)
    retrain_bests(st, resolved.study.name, eval_seeds=eval_seeds, jobs=jobs, say=say)
    rescore_fronts(st, resolved.study.name, eval_seeds=eval_seeds, jobs=jobs, say=say)  # several objectives
    looks = earlier_looks(arm_studies(st, resolved.study.name))  # a resumed comparison: a second look
    verdict = load_verdict(st, resolved.study.name, looks=looks)
    store_verdict(st, resolved.study.name, verdict)  # the report renders this one, never recomputes it
    return verdict
