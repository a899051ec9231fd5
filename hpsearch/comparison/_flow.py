"""``hpsearch.compare(spec, ...)``: run the arms, retrain every repeat's best, return the verdict.

The one flow behind the CLI's ``compare`` and the Python API's ``hpsearch.compare``;
it prints nothing and tells ``progress`` (hpsearch.search's RunProgress) what happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpsearch.results import StudyData
    from hpsearch.search._progress import RunProgress
    from hpsearch.spec import SpecSource


def compare_arms(
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
) -> tuple[dict[str, Any], list[StudyData]]:
    """The whole comparison flow shared by the CLI and the Python API (see hpsearch.compare): run (or
    resume) the arms, re-score every repeat's best, compute the verdict and store it with the comparison
    (the report renders that one). Returns the verdict and the arm studies as stored at the end (the
    verdict stored with them), so that the report the CLI writes next need not read them again.

    The arms' trials are read once, after they ran: re-scoring and storing the
    verdict write only study user attrs, which are read back in one query
    (hpsearch.results.with_stored_attrs). Reading 90 studies of 72 trials took
    seconds, and the flow used to do it six times.
    """
    from hpsearch._api import resolve_spec
    from hpsearch.comparison._arms import arm_specs, equal_budget, parse_samplers, run_comparison
    from hpsearch.comparison._retrain import rescore_fronts, retrain_bests
    from hpsearch.comparison._verdict import comparison_verdict, earlier_looks, store_verdict
    from hpsearch.errors import StudyNotFound, UserError
    from hpsearch.results import arm_studies, with_stored_attrs
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
    name = resolved.study.name
    arms = arm_studies(st, name)
    if not arms:
        raise StudyNotFound(f"no comparison named {name!r} (no study has user attr comparison={name!r})")
    retrain_bests(st, name, eval_seeds=eval_seeds, jobs=jobs, say=say, arms=arms)
    rescore_fronts(st, name, eval_seeds=eval_seeds, jobs=jobs, say=say, arms=arms)  # several objectives
    arms = with_stored_attrs(st, arms)  # the held-out scores just stored
    looks = earlier_looks(arms)  # a resumed comparison: a second look
    verdict = comparison_verdict(name, arms, looks=looks, jobs=jobs)
    store_verdict(st, name, verdict, arms)  # the report renders this one, never recomputes it
    return verdict, with_stored_attrs(st, arms)
