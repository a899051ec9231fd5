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
from hpsearch.server._trust import API_STUDY_ATTRS, refuse_remote_code, refuse_remote_spec

if TYPE_CHECKING:
    from hpsearch.spec import Spec

DEFAULT_TRIAL_LEASE = 3600.0  # seconds an API trial's client may stay silent (serve --trial-timeout changes it)
MAX_KEY_LENGTH = 200
# Asks with the same Idempotency-Key run one at a time (a client that timed out and
# asked again must not get a second trial while the first ask is still being served).
_KEY_LOCKS = [threading.Lock() for _ in range(64)]


def create_study(storage: Any, body: dict[str, Any]) -> str:
    """Validate ``body`` as a spec and create its study; returns the name (409 if taken)."""
    from hpsearch.search import new_study
    from hpsearch.spec import spec_from_dict

    refuse_remote_code(body)  # before validation: a [command] is refused as such (hpsearch.server._trust)
    spec = spec_from_dict(body, source="<api>")
    name = check_study_name(spec.study.name, status=422)
    _refuse_local_references(spec)
    refuse_remote_spec(spec)
    try:
        new_study(storage, spec, attrs=API_STUDY_ATTRS)  # the mark comes before the spec: no worker sees one without it
    except optuna.exceptions.DuplicatedStudyError:
        raise ApiError(409, f"study {name!r} already exists") from None
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
    storage: Any,
    name: str,
    number: int,
    *,
    value: float | list[float] | None,
    state: str | None,
    error: str | None = None,
    constraints: dict[str, float] | None = None,
) -> str:
    """Finish trial ``number``; returns its final state ("complete", "fail", "pruned").

    A client's "fail" is its training failing on this configuration: like an
    objective that raises under ``hpsearch run``, the trial keeps its error and
    its configuration is not handed out again (a client that dies instead is
    caught by its lease, and its configuration does run again).
    """
    from hpsearch.search import load_study, tell_trial

    study, spec = load_study(storage, name)
    if state == "fail":
        error = error or "the client told fail"
    if state is None and isinstance(value, float) and math.isnan(value) and len(study.directions) > 1:
        value = [value] * len(study.directions)  # "diverged": every objective's value is unknown
    frozen = tell_trial(study, number, value=value, state=state, error=error, constraints=constraints, spec=spec)
    return frozen.state.name.lower()


def report(storage: Any, name: str, number: int, step: int, value: float, *, lease: float | None = None) -> bool:
    """Record an intermediate value of a running trial; True if the pruner says stop (search.report_value)."""
    from hpsearch.search import load_study, report_value

    study, _ = load_study(storage, name)
    return report_value(study, number, step, value, lease=lease)


def heartbeat(storage: Any, name: str, number: int, *, lease: float) -> None:
    """A client training trial ``number`` is alive: extend its lease to ``lease`` seconds from now."""
    from hpsearch.search import load_study, renew_lease, running_trial

    study, _ = load_study(storage, name)
    renew_lease(storage, running_trial(study, number), lease)


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
