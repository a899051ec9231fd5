"""The API's writes: create a study, ask, tell, report, all through hpsearch.search.

Each call loads what it needs from the storage (``hpsearch.search.load_study``:
the spec stored with the study, then an Optuna study with the spec's sampler
and pruner), so the server holds no study state: a restarted server, CLI
workers and other API servers on the same database all see the same study.
``storage`` may be the server's long-lived Optuna trial cache (see
ServerContext.study_storage): it keeps finished trials, which never change,
and re-reads every unfinished one from the database, exactly as a
long-running Optuna worker does, so asks do not reload the whole history.

One adjustment makes ``ask_trial`` fit a stateless server: ask_trial marks a
trial with the asking process's host and pid, so crash recovery can fail the
trials of dead workers at once. Here the "worker" is a remote client, not this
process: we ask with ``record_pid=False``, so restarting the server does not
fail the trials clients are still training.

The sampler is built per request with the spec's seed, and that is enough:
every sampler seeds its randomness for a trial by (seed, slot), and concurrent
asks claim different slots, so they never get the same point, while a client
that asks and tells in turn gets the same proposals on every run (TPE's depend
on the history too, which such a client reproduces).
"""

from __future__ import annotations

import math
import threading
import warnings
from typing import TYPE_CHECKING, Any

import optuna

from hpsearch.errors import UserError
from hpsearch.server._errors import ApiError
from hpsearch.server._names import check_study_name
from hpsearch.server._trust import mark_created_by_api, refuse_remote_code, refuse_remote_spec
from hpsearch.storage import study_id_of, trial_id_of

if TYPE_CHECKING:
    from hpsearch.spec import Spec

DEFAULT_TRIAL_LEASE = 3600.0  # seconds an API trial's client may stay silent (serve --trial-timeout changes it)
MAX_KEY_LENGTH = 200
# Asks with the same Idempotency-Key run one at a time (a client that timed out and
# asked again must not get a second trial while the first ask is still being served).
_KEY_LOCKS = [threading.Lock() for _ in range(64)]


def create_study(storage: Any, body: dict[str, Any]) -> str:
    """Validate ``body`` as a spec and create its study; returns the name (409 if taken)."""
    from hpsearch.search import make_sampler
    from hpsearch.spec import spec_from_dict
    from hpsearch.storage import save_spec

    refuse_remote_code(body)  # before validation: a [command] is refused as such (hpsearch.server._trust)
    spec = spec_from_dict(body, source="<api>")
    name = check_study_name(spec.study.name, status=422)
    _refuse_local_references(spec)
    refuse_remote_spec(spec)
    sampler, sampler_args = make_sampler(spec)
    try:
        storage.get_study_id_from_name(name)
        raise ApiError(409, f"study {name!r} already exists")
    except KeyError:
        pass
    study = optuna.create_study(storage=storage, study_name=name, direction=spec.study.direction, sampler=sampler)
    mark_created_by_api(study)  # before the spec: no worker sees the spec without the mark
    save_spec(study, spec, sampler_args=sampler_args)
    return name


def check_key(key: str | None) -> str | None:
    """An Idempotency-Key header: 1 to 200 printable characters (400 otherwise)."""
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            400,
            f"Idempotency-Key: expected 1 to {MAX_KEY_LENGTH} printable characters, "
            f"got {key[:40]!r}{'...' if len(key) > 40 else ''}",
        )
    return key


def ask(storage: Any, name: str, *, lease: float | None = None, key: str | None = None) -> tuple[int, dict[str, Any]]:
    """Claim the next trial of study ``name``: (trial number, params).

    ``lease``: seconds (the server's --trial-timeout, else DEFAULT_TRIAL_LEASE);
    the trial is failed (and its slot handed out again) if its client sends no
    report, heartbeat or tell for that long. ``key``: the ask's Idempotency-Key;
    while the trial an earlier ask with this key created is running, that
    trial and its parameters are returned again.
    """
    from hpsearch.search import ask_trial, load_study

    lock = _KEY_LOCKS[hash((name, key)) % len(_KEY_LOCKS)] if key is not None else None
    if lock is not None:
        lock.acquire()
    try:
        study, spec = load_study(storage, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna warns about ask() outside optimize(); expected here
            trial, params = ask_trial(study, spec, record_pid=False, lease=lease, key=key)
    finally:
        if lock is not None:
            lock.release()
    return trial.number, _jsonable(params)


def tell(
    storage: Any, name: str, number: int, *, value: float | None, state: str | None, error: str | None = None
) -> str:
    """Finish trial ``number``; returns its final state ("complete", "fail", "pruned").

    A client's "fail" is its training failing on this configuration: like an
    objective that raises under ``hpsearch run``, the trial keeps its error and
    its configuration is not handed out again (a client that dies instead is
    caught by its lease, and its configuration does run again).
    """
    from hpsearch.search import load_study, tell_trial

    study, _ = load_study(storage, name)
    if state == "fail":
        error = error or "the client told fail"
    frozen = tell_trial(study, number, value=value, state=state, error=error)
    return frozen.state.name.lower()


def report(storage: Any, name: str, number: int, step: int, value: float, *, lease: float | None = None) -> bool:
    """Record an intermediate value of a running trial; True if the pruner says stop.

    Mirrors ``optuna.Trial.report`` + ``should_prune`` without building a Trial
    (which would run the sampler): the first value reported for a step wins.
    A report shows the client is alive: with ``lease`` it renews a leased trial's lease.
    """
    from hpsearch.search import load_study, renew_lease

    study, _ = load_study(storage, name)
    frozen = _running_trial(storage, study, name, number)
    trial_id = trial_id_of(frozen)
    if lease is not None:
        renew_lease(storage, frozen, lease)
    if step not in frozen.intermediate_values:
        storage.set_trial_intermediate_value(trial_id, step, value)
        frozen = storage.get_trial(trial_id)
    return bool(study.pruner.prune(study, frozen))


def heartbeat(storage: Any, name: str, number: int, *, lease: float) -> None:
    """A client training trial ``number`` is alive: extend its lease to ``lease`` seconds from now."""
    from hpsearch.search import load_study, renew_lease

    study, _ = load_study(storage, name)
    renew_lease(storage, _running_trial(storage, study, name, number), lease)


def _running_trial(storage: Any, study: Any, name: str, number: int) -> Any:
    """Trial ``number`` of the study, which must still be running (404 / 409 otherwise)."""
    try:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id_of(study), number)
    except KeyError:
        raise ApiError(404, f"study {name!r} has no trial {number}") from None
    frozen = storage.get_trial(trial_id)
    if frozen.state.is_finished():
        raise ApiError(409, f"trial {number} is already finished ({frozen.state.name.lower()})")
    return frozen


def _refuse_local_references(spec: Spec) -> None:
    """A remote client may not name code to import or files to read on this machine.

    CLI workers run whatever objective and data the stored spec names, so an
    API-created study is limited to the built-in objectives and datasets.
    """
    if ":" in spec.study.objective:
        raise ApiError(
            422,
            f"<api>: study.objective: expected a built-in objective (mlp, text) or "
            f"none, got {spec.study.objective!r} (user objectives only from spec files)",
        )
    if spec.data is not None and getattr(spec.data, "path", None):
        raise ApiError(422, "<api>: data.path: files can only be named in spec files, not over the API")


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Params as plain JSON values (numpy scalars -> Python; non-finite floats refused)."""
    out = {}
    for key, value in params.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"parameter {key!r} has a non-finite value")
        out[key] = value
    return out
