"""run_study / run_studies / join_study: create or resume studies and run them to their budget.

A study is "done" when every slot of its budget holds a finished trial
(COMPLETE, PRUNED, diverged, or failed by an objective error; see hpsearch.records),
which the claims table makes exact even with many workers. Resuming is the
same call as starting: free slots (never run, or crashed) are simply claimed
again. A budget only grows: ``n_trials`` below the stored budget is refused
(or, when the study already holds that many finished trials, nothing is run).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import optuna

from hpsearch.errors import UserError
from hpsearch.records import SPEC_ATTR, budget, is_finished
from hpsearch.search import _workers
from hpsearch.search._control import clear_stop, stop_requested
from hpsearch.search._load import load_study, stored_spec
from hpsearch.search._progress import RunProgress, checked
from hpsearch.search._pruners import make_pruner
from hpsearch.search._samplers import make_sampler
from hpsearch.search._workers import MAX_FAILURES, work
from hpsearch.storage import (
    SlotStatus,
    call_with_retries,
    checkpoint,
    engine_of,
    missing_storage,
    open_storage,
    reopen_failed,
    retry_policy,
    save_spec,
    storage_exists,
    storage_of,
    study_id_of,
    trial_store,
)
from hpsearch.trust import check_may_run


def with_overrides(spec: Any, **study: Any) -> Any:
    """A copy of ``spec`` with [study] keys replaced (None = keep), validated again."""
    from hpsearch.spec import spec_from_dict

    changes = {k: v for k, v in study.items() if v is not None}
    if not changes:
        return spec
    d = spec.to_dict()
    d["study"].update(changes)
    given = ", ".join(f"{'study_name' if k == 'name' else k}={v!r}" for k, v in changes.items())
    return spec_from_dict(d, source=f"{spec.study.name} (with {given})")


class BudgetNotLowered(UserError):
    """``n_trials`` below a resumed study's budget: budgets only grow."""


def prepare_study(
    storage: optuna.storages.BaseStorage, spec: Any, *, n_trials: int | None = None
) -> tuple[optuna.Study, Any]:
    """Create the study (saving its spec) or load it; returns (study, the spec it runs with).

    A resumed study keeps its stored spec, but its budget only grows: the
    larger of ``n_trials`` (or, without it, the given spec's own n_trials) and
    the stored budget is kept. So ``run spec --n-trials 8`` then a plain ``run
    spec`` whose spec says 20 goes on to 20, rather than calling the study
    complete at 8; below the stored budget nothing changes (run_study says so
    for ``n_trials``). A different spec under the same name is an error:
    results of two studies must not mix.
    """
    name = spec.study.name
    try:
        storage.get_study_id_from_name(name)
    except KeyError:
        spec = with_overrides(spec, n_trials=n_trials)
        try:
            return new_study(storage, spec), spec
        except optuna.exceptions.DuplicatedStudyError:
            pass  # created by another process a moment ago: resume it below
    stored = stored_spec(storage, name, wait=10.0)  # another process may have just created it
    _check_same(stored, spec)
    wanted = spec.study.n_trials if n_trials is None else n_trials
    if n_trials is None and _grid_changes(stored, wanted):
        wanted = stored.study.n_trials  # a plain re-run keeps its grid (run_study says so), never fails
    if wanted > stored.study.n_trials:
        _check_grid_kept(stored, wanted)
        stored = with_overrides(stored, n_trials=wanted)
        storage.set_study_user_attr(storage.get_study_id_from_name(name), SPEC_ATTR, stored.to_dict())
    return load_study(storage, name, spec=stored)


def finished_count(study: optuna.Study) -> int:
    """How many finished trials (COMPLETE, PRUNED, diverged, failed by an error) the study holds."""
    return sum(map(is_finished, storage_of(study).get_all_trials(study_id_of(study), deepcopy=False)))


def new_study(
    storage: optuna.storages.BaseStorage, spec: Any, *, attrs: Mapping[str, Any] | None = None
) -> optuna.Study:
    """Create the study of ``spec`` (its sampler, pruner and directions) and store the spec with it.

    Its objectives' names go to Optuna's metric names (``study.metric_names``),
    so any reader of the study, hpsearch's or Optuna's own, knows what each value is.

    ``attrs`` are study user attrs written before the spec, so no worker sees the
    spec without them (the HTTP API marks its studies this way). Raises
    optuna's DuplicatedStudyError if the name is taken.
    """
    sampler, args = make_sampler(spec)
    study = optuna.create_study(
        study_name=spec.study.name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(spec),
        directions=spec.directions,
    )
    if spec.is_multi_objective:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # public since Optuna 3.2
            study.set_metric_names(spec.objective_names)
    for key, value in (attrs or {}).items():
        study.set_user_attr(key, value)
    save_spec(study, spec, sampler_args=args)
    return study


def _grid_changes(stored: Any, n_trials: int) -> bool:
    """Whether budget ``n_trials`` would size a grid study's grid differently from its stored budget."""
    if stored.study.sampler != "grid" or n_trials <= stored.study.n_trials:
        return False
    from hpsearch.space import grid_points_per_axis

    return grid_points_per_axis(stored.space, n_trials) != grid_points_per_axis(stored.space, stored.study.n_trials)


def _check_grid_kept(stored: Any, n_trials: int) -> None:
    """A grid study's grid is sized to its budget: a raise that changes the grid is refused.

    Its finished slots ran points of the old grid; the remaining slots would run
    points of a new one, and the study would mix two grids.
    """
    if stored.study.sampler != "grid":
        return
    from hpsearch.space import grid_points_per_axis

    old = grid_points_per_axis(stored.space, stored.study.n_trials)
    if grid_points_per_axis(stored.space, n_trials) != old:
        per_axis = ", ".join(f"{k} {v}" for k, v in old.items())
        raise UserError(
            f"study {stored.study.name!r} is a grid search whose grid ({per_axis} points per axis) was sized "
            f"to its budget of {stored.study.n_trials}; n_trials {n_trials} would change the grid, and the "
            f"study would mix two grids. Run a new study instead (another study name), or fix the grid with "
            f"grid = [...] in [space]"
        )


def run_study(
    spec: Any,
    storage_url: str,
    *,
    n_trials: int | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    study_name: str | None = None,
    sampler: str | None = None,
    seed: int | None = None,
    progress: RunProgress | None = None,
    max_failures: int = MAX_FAILURES,
    devices: Sequence[Sequence[str]] | None = None,
    retry_failed: bool = False,
) -> optuna.Study:
    """Create or resume the study and run trials until it holds its budget of finished trials.

    ``max_failures``: stop (ObjectiveFailing) when the objective fails this many trials in a row.
    ``devices``: each worker process's devices (``--gpus``; see _devices); one worker per entry at most.
    ``retry_failed``: first re-open the slots of trials the objective failed (see reopen_failed).
    """
    _check_counts(n_trials=n_trials, jobs=jobs, timeout=timeout, max_failures=max_failures)
    spec = with_overrides(spec, name=study_name, sampler=sampler, seed=seed)  # validate before any write
    storage = open_storage(storage_url, retry=retry_policy(storage_url))
    try:
        return _run_study(
            storage, storage_url, spec, n_trials, jobs, timeout, progress, max_failures, devices, retry_failed
        )
    finally:
        checkpoint(storage)  # the .db file alone holds the study now (no trials left in its WAL)


def _run_study(
    storage: optuna.storages.BaseStorage,
    storage_url: str,
    spec: Any,
    n_trials: int | None,
    jobs: int,
    timeout: float | None,
    progress: RunProgress | None,
    max_failures: int,
    devices: Sequence[Sequence[str]] | None,
    retry_failed: bool,
) -> optuna.Study:
    if retry_failed:
        call_with_retries(partial(_reopen, storage, spec.study.name, checked(progress)), retry_policy(storage_url))
    given = spec.study.n_trials
    study, spec = call_with_retries(partial(prepare_study, storage, spec, n_trials=n_trials), retry_policy(storage_url))
    if n_trials is None and given > spec.study.n_trials and (shown := checked(progress)) is not None:
        shown.note(
            f"study {study.study_name!r} keeps its budget of {spec.study.n_trials}: its grid was sized to it, "
            f"and the spec's study.n_trials ({given}) would change the grid. Run a new study (another study name) "
            "for the larger grid"
        )
    if n_trials is not None and n_trials < spec.study.n_trials:  # budgets only grow
        finished = finished_count(study)
        if finished < n_trials:
            raise BudgetNotLowered(
                f"study {study.study_name!r} has a budget of {spec.study.n_trials} trials ({finished} finished); "
                f"n_trials {n_trials} would lower it, and budgets only grow. Leave out n_trials to "
                f"finish the {spec.study.n_trials}, set timeout to stop earlier, or another study name for a new study"
            )
        if (shown := checked(progress)) is not None:
            shown.note(
                f"study {study.study_name!r} already holds {finished} finished trials (>= n_trials {n_trials}); "
                f"nothing to do. Its budget stays {spec.study.n_trials}: budgets only grow"
            )
        return study
    _run(
        storage,
        storage_url,
        [study],
        [spec],
        jobs=jobs,
        timeout=timeout,
        progress=progress,
        max_failures=max_failures,
        devices=devices,
    )
    return study


def run_studies(
    specs: Sequence[Any],
    storage_url: str,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    progress: RunProgress | None = None,
    max_failures: int = MAX_FAILURES,
) -> list[optuna.Study]:
    """Create or resume many studies (e.g. compare's arms) and run them with one pool of workers."""
    _check_counts(jobs=jobs, timeout=timeout, max_failures=max_failures)
    names = [s.study.name for s in specs]
    if len(set(names)) != len(names):
        raise UserError(f"run_studies: study names must differ, got {names}")
    storage = open_storage(storage_url, retry=retry_policy(storage_url))
    try:
        prepared = [call_with_retries(partial(prepare_study, storage, s), retry_policy(storage_url)) for s in specs]
        _run(
            storage,
            storage_url,
            [p[0] for p in prepared],
            [p[1] for p in prepared],
            jobs=jobs,
            timeout=timeout,
            progress=progress,
            max_failures=max_failures,
        )
    finally:
        checkpoint(storage)
    return [p[0] for p in prepared]


def join_study(
    name: str,
    storage_url: str,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    progress: RunProgress | None = None,
    max_failures: int = MAX_FAILURES,
    devices: Sequence[Sequence[str]] | None = None,
    retry_failed: bool = False,
) -> optuna.Study:
    """Work on an existing study as more workers (``hpsearch worker``); the spec comes from the DB."""
    _check_counts(jobs=jobs, timeout=timeout, max_failures=max_failures)
    if not storage_exists(storage_url):  # do not create an empty database for a typo
        raise missing_storage(storage_url, name)
    storage = open_storage(storage_url, retry=retry_policy(storage_url))
    try:
        if retry_failed:
            call_with_retries(partial(_reopen, storage, name, checked(progress)), retry_policy(storage_url))
        study, spec = call_with_retries(partial(load_study, storage, name), retry_policy(storage_url))
        check_may_run(storage, study, spec)  # no user code from a study created over the HTTP API
        _run(
            storage,
            storage_url,
            [study],
            [spec],
            jobs=jobs,
            timeout=timeout,
            progress=progress,
            first_worker=1,
            max_failures=max_failures,
            devices=devices,
        )
    finally:
        checkpoint(storage)
    return study


def _reopen(storage: optuna.storages.BaseStorage, name: str, shown: RunProgress | None) -> None:
    """``--retry-failed``: free the slots of the study's failed trials (before its trials are read)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return  # a new study: nothing has failed yet
    numbers = reopen_failed(engine_of(storage), study_id)
    if shown is not None:
        listed = ", ".join(f"#{n}" for n in numbers[:20]) + (", ..." if len(numbers) > 20 else "")
        shown.note(
            f"study {name!r}: re-opened the slots of {len(numbers)} failed trials" + (f" ({listed})" if numbers else "")
        )


def is_complete(storage: optuna.storages.BaseStorage, study: optuna.Study, spec: Any) -> bool:
    return all(s is SlotStatus.DONE for s in trial_store(study).slot_statuses(budget(spec)))


def _complete_note(done: Sequence[optuna.Study]) -> str:
    """One line for the studies with nothing left to run (a re-run comparison has 30: one line, not 30)."""
    if len(done) == 1:
        name, n = done[0].study_name, finished_count(done[0])
        return f"study {name!r} is already complete ({n} finished trials); nothing to do"
    counts = {finished_count(st) for st in done}
    each = f" ({counts.pop()} finished trials each)" if len(counts) == 1 else ""
    return f"{len(done)} studies already complete{each}; nothing to do for them"


def _run(
    storage,
    url: str,
    studies: list[optuna.Study],
    specs: list[Any],
    *,
    jobs: int,
    timeout: float | None,
    progress: RunProgress | None,
    first_worker: int = 0,
    max_failures: int = MAX_FAILURES,
    devices: Sequence[Sequence[str]] | None = None,
) -> None:
    shown = checked(progress)
    policy = retry_policy(url)
    for st in studies:  # a new run or worker resumes a study `hpsearch stop` stopped
        if call_with_retries(partial(clear_stop, storage, study_id_of(st)), policy) and shown is not None:
            shown.note(f"study {st.study_name!r}: cleared the stop set by 'hpsearch stop'; resuming")
    todo = [
        (st, sp)
        for st, sp in zip(studies, specs, strict=True)
        if not call_with_retries(partial(is_complete, storage, st, sp), policy)
    ]
    done = [st for st, sp in zip(studies, specs, strict=True) if (st, sp) not in todo]
    if done and shown is not None:
        shown.note(_complete_note(done))
    if not todo:
        return
    deadline = None if timeout is None else _workers.clock() + timeout
    start = time.monotonic()
    names = [st.study_name for st, _ in todo]
    pool = None
    if jobs > 1 or devices:  # devices: set in a worker process of their own, never in this one
        if _workers.start_method() == "fork":
            # Workers forked from here inherit the trial path's imports and each study's data split.
            _workers.preload_objectives([sp for _, sp in todo])
        # Before the progress bar's thread starts: a forked child inherits the locks threads hold.
        pool = _workers.Pool(
            url,
            names,
            jobs,
            deadline=deadline,
            first_worker=first_worker,
            max_failures=max_failures,
            storage=storage,
            slots=list(devices)[:jobs] if devices else None,
        )
        _workers.release_objectives()  # the forked workers hold their copies; this process needs none
    tick = shown.tick if shown is not None else _nothing
    if shown is not None:
        shown.started(storage, names, [budget(sp) for _, sp in todo])
    try:
        if pool is not None:
            pool.wait(on_poll=tick)
        else:
            from threadpoolctl import threadpool_limits

            # One BLAS thread in-process too: the networks are small, and a multi-threaded
            # BLAS on a busy 2-core machine measured 8x slower (12 vs 95 trials/minute).
            with threadpool_limits(1), _workers.sigterm_stops():
                work(
                    storage,
                    names,
                    worker=first_worker,
                    deadline=deadline,
                    on_trial=tick,
                    max_failures=max_failures,
                )
    except BaseException:
        if shown is not None:
            shown.finished(storage, names, time.monotonic() - start, ok=False)
        raise
    if shown is not None:  # the closing summary reads the database: retried like the run's other reads
        call_with_retries(partial(shown.finished, storage, names, time.monotonic() - start, ok=True), policy)
        for st, sp in todo:
            if call_with_retries(partial(stop_requested, storage, study_id_of(st)), policy):
                shown.note(
                    f"study {st.study_name!r} was stopped by 'hpsearch stop' ({finished_count(st)} of {budget(sp)} "
                    "trials finished); run the same command again to resume"
                )


def _nothing() -> None:
    """The tick of a run nobody watches."""


def _check_same(stored: Any, spec: Any) -> None:
    a, b = stored.to_dict(), spec.to_dict()
    a["study"].pop("n_trials", None)
    b["study"].pop("n_trials", None)
    diff = sorted(_diff_keys(a, b))
    if diff:
        name = stored.study.name
        raise UserError(
            f"study {name!r} already exists with a different spec ({', '.join(diff)} differ); "
            f"use another study name for a new study, or delete study {name!r} first"
        )


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def _check_counts(
    *, n_trials: int | None = None, jobs: int = 1, timeout: float | None = None, max_failures: int = MAX_FAILURES
) -> None:
    if max_failures < 1:
        raise UserError(f"max_failures: expected a whole number >= 1, got {max_failures}")
    if n_trials is not None and n_trials < 1:
        raise UserError(f"n_trials: expected a whole number >= 1, got {n_trials}")
    if jobs < 1:
        raise UserError(f"jobs: expected a whole number >= 1, got {jobs}")
    if timeout is not None and timeout <= 0:
        raise UserError(f"timeout: expected seconds > 0, got {timeout}")
