"""The claims table: a study's budget as numbered slots that workers claim.

Optuna alone cannot say "run exactly N trials" across processes: every worker
counts trials and starts one more, so parallel workers overshoot, and
GridSampler hands the same grid point to several workers (we measured 25
duplicates in 100 trials). Here the budget is the set of slots
0..n_slots-1 of a study, with a unique key (study_id, slot) in the database:

* a worker claims the lowest free slot by INSERT (a unique-key violation means
  another worker won it; try the next one);
* a slot whose trial crashed (FAIL without user attr ``diverged`` or ``error``) or whose
  claim was abandoned before its trial existed is taken over by
  compare-and-swap on the claim's random token (UPDATE ... WHERE token=old;
  exactly one worker sees rowcount 1);
* slot k of a grid study is grid point k, so no point runs twice.

Plain SQLAlchemy Core, so it works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from enum import Enum

import sqlalchemy as sa
from optuna.storages._rdb import models
from optuna.trial import TrialState

from hpsearch.storage._queue import bind_in

CLAIM_GRACE = 60.0  # seconds an unattached claim of another host may stay before takeover

_metadata = sa.MetaData()
claims_table = sa.Table(
    "hpsearch_claims",
    _metadata,
    sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("token", sa.String(36), nullable=False),
    sa.Column("trial_id", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("claimed_at", sa.Float, nullable=False),
)
# claim_slot finds the open claims from the trials side: the study's RUNNING, WAITING and FAIL
# trials (an index of ours on Optuna's trials table; Optuna indexes study_id alone), then their
# claims by trial id. Without these two indexes every ask scans every trial and claim of the study.
_trial_index = sa.Index("ix_hpsearch_claims_study_trial", claims_table.c.study_id, claims_table.c.trial_id)
_state_index = sa.Index(
    "ix_hpsearch_trials_study_state", models.TrialModel.__table__.c.study_id, models.TrialModel.__table__.c.state
)


class SlotStatus(Enum):
    FREE = "free"  # never claimed, or its trial crashed / its claim was abandoned
    BUSY = "busy"  # a trial is running on it
    DONE = "done"  # its trial finished: COMPLETE, PRUNED or FAIL with diverged or error


@dataclass(frozen=True)
class Claim:
    study_id: int
    slot: int
    token: str


def ensure_claims_table(engine: sa.Engine) -> None:
    """Create the claims table beside Optuna's tables if it is missing."""
    try:
        _metadata.create_all(engine, checkfirst=True)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
        # Another process created it between our check and our CREATE.
        if not sa.inspect(engine).has_table(claims_table.name):
            raise
    for index in (_trial_index, _state_index):  # also on databases made before they existed
        try:
            index.create(engine, checkfirst=True)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            pass  # another process made it meanwhile (or cannot: an index only speeds asks up)


def slot_statuses(engine: sa.Engine, study_id: int, n_slots: int) -> list[SlotStatus]:
    """The status of each slot 0..n_slots-1 (RUNNING trials count as BUSY: recovery fails dead ones first)."""
    statuses = [SlotStatus.FREE] * n_slots
    for row in _claim_rows(engine, study_id, n_slots):
        statuses[row.slot] = _status(row)
    return statuses


def claim_slot(engine: sa.Engine, study_id: int, n_slots: int) -> Claim | SlotStatus:
    """Claim the lowest free slot; else return DONE (all slots done) or BUSY (some still running).

    O(1) in the study's length for Python: done claims are filtered out in SQL
    (the rule of _status, mirrored), and the lowest never-claimed slot comes
    from an aggregate over the primary key, so an ask late in a 10,000-trial
    study reads only the running or crashed claims.
    """
    host, pid = socket.gethostname(), os.getpid()
    any_busy = False
    rows = _open_claim_rows(engine, study_id, n_slots)
    unclaimed = _lowest_unclaimed(engine, study_id, n_slots)
    for _ in range(n_slots + 1):
        row = rows[0] if rows else None
        if unclaimed is not None and (row is None or unclaimed < row.slot):
            values = {"token": str(uuid.uuid4()), "trial_id": None, "host": host, "pid": pid, "claimed_at": time.time()}
            try:
                with engine.begin() as con:
                    con.execute(claims_table.insert(), {"study_id": study_id, "slot": unclaimed, **values})
                    # Fresh claims commit in slot order (the lowest unclaimed slot is read from committed
                    # claims), so an enqueued configuration bound here goes to the lowest slots in queue
                    # order; bound when the trial starts, two workers' starts could swap them.
                    bind_in(con, study_id, unclaimed)
                return Claim(study_id, unclaimed, values["token"])  # type: ignore[arg-type]
            except sa.exc.IntegrityError:
                any_busy = True  # someone else just took it; it is running now
                unclaimed = _lowest_unclaimed(engine, study_id, n_slots, above=unclaimed)
                continue
        if row is None:
            break
        rows.pop(0)
        status = _status(row)
        if status is SlotStatus.DONE:
            continue
        if status is SlotStatus.BUSY:
            any_busy = True
            continue
        token = str(uuid.uuid4())
        values = {"token": token, "trial_id": None, "host": host, "pid": pid, "claimed_at": time.time()}
        with engine.begin() as con:
            result = con.execute(
                claims_table.update()
                .where(claims_table.c.study_id == study_id)
                .where(claims_table.c.slot == row.slot)
                .where(claims_table.c.token == row.token)
                .values(**values)
            )
        if result.rowcount == 1:
            return Claim(study_id, row.slot, token)
        any_busy = True
    return SlotStatus.BUSY if any_busy else SlotStatus.DONE


def _lowest_unclaimed(engine: sa.Engine, study_id: int, n_slots: int, above: int = -1) -> int | None:
    """The lowest slot in (above, n_slots) without a claim row, or None.

    Slots are claimed lowest first, so normally the claimed ones are 0..max:
    one aggregate over the primary key says so (count == max + 1); only when
    there is a gap is it looked for (first slot whose successor is unclaimed).
    """
    count_top, first_query, gap_query = _unclaimed_queries()
    bound = {"study_id": study_id, "above": above, "n_slots": n_slots}
    with engine.connect() as con:
        count, top = con.execute(count_top, bound).one()
        if not count:
            candidate = above + 1
        elif top - above == count:  # above+1 .. top all claimed
            candidate = top + 1
        else:
            first = con.execute(first_query, bound).scalar()
            if first > above + 1:  # type: ignore[operator]
                candidate = above + 1
            else:
                candidate = con.execute(gap_query, bound).scalar()  # type: ignore[assignment]
    return candidate if candidate is not None and candidate < n_slots else None


@functools.cache
def _unclaimed_queries() -> tuple[sa.Select, sa.Select, sa.Select]:
    """_lowest_unclaimed's statements, built once (study_id, above and n_slots bound at each call)."""
    c = claims_table.c
    study_id = sa.bindparam("study_id", type_=sa.Integer)
    mine = sa.and_(
        c.study_id == study_id,
        c.slot > sa.bindparam("above", type_=sa.Integer),
        c.slot < sa.bindparam("n_slots", type_=sa.Integer),
    )
    nxt = claims_table.alias("nxt")
    gap = (
        sa.select(sa.func.min(c.slot + 1))
        .where(mine)
        .where(~sa.exists().where(nxt.c.study_id == study_id).where(nxt.c.slot == c.slot + 1))
    )
    return sa.select(sa.func.count(), sa.func.max(c.slot)).where(mine), sa.select(sa.func.min(c.slot)).where(mine), gap


def attach_trial(engine: sa.Engine, claim: Claim, trial_id: int) -> bool:
    """Record the trial that runs a claimed slot; False if the claim was taken over meanwhile."""
    with engine.begin() as con:
        return attach_in(con, claim, trial_id)


def attach_in(con: sa.Connection, claim: Claim, trial_id: int) -> bool:
    """``attach_trial`` inside the caller's transaction (compare-and-swap on the claim's token)."""
    bound = {"study_id_": claim.study_id, "slot_": claim.slot, "token_": claim.token, "trial_id_": trial_id}
    return con.execute(_attach_query(), bound).rowcount == 1


@functools.cache
def _attach_query() -> sa.Update:
    c = claims_table.c
    return (
        claims_table.update()
        .where(c.study_id == sa.bindparam("study_id_", type_=sa.Integer))
        .where(c.slot == sa.bindparam("slot_", type_=sa.Integer))
        .where(c.token == sa.bindparam("token_", type_=sa.String))
        .values(trial_id=sa.bindparam("trial_id_", type_=sa.Integer))
    )


def release_claims(engine: sa.Engine, study_id: int) -> int:
    """Drop this process's claims of the study that no trial took up; returns how many.

    For a worker, which asks one trial at a time: between asks, such a claim
    can only be left from an ask that a lost connection cut short after the
    claim was committed. Dropped, its slot is free again at once instead of
    after CLAIM_GRACE. (Not for the HTTP server: its threads ask concurrently.)
    """
    c = claims_table.c
    with engine.begin() as con:
        result = con.execute(
            claims_table.delete()
            .where(c.study_id == study_id)
            .where(c.trial_id.is_(None))
            .where(c.host == socket.gethostname())
            .where(c.pid == os.getpid())
        )
    return int(result.rowcount or 0)


def slot_trial_ids(engine: sa.Engine, study_id: int) -> dict[int, int | None]:
    """slot -> trial_id of its current claim (for diagnostics and tests)."""
    with engine.connect() as con:
        rows = con.execute(
            sa.select(claims_table.c.slot, claims_table.c.trial_id).where(claims_table.c.study_id == study_id)
        )
        return {r.slot: r.trial_id for r in rows}


def delete_claims(engine: sa.Engine, study_id: int) -> None:
    """Forget a study's claims (when the study itself is deleted)."""
    with engine.begin() as con:
        con.execute(claims_table.delete().where(claims_table.c.study_id == study_id))


def running_trial_with_attr(engine: sa.Engine, study_id: int, key: str, value: object) -> int | None:
    """The id of a RUNNING trial of the study whose system attr ``key`` equals ``value`` (the newest), else None.

    One indexed query: how an ask with an idempotency key finds the trial it created before.
    """
    trials = models.TrialModel.__table__
    attrs = models.TrialSystemAttributeModel.__table__
    query = (
        sa.select(trials.c.trial_id)
        .select_from(trials)
        .join(attrs, attrs.c.trial_id == trials.c.trial_id)
        .where(trials.c.study_id == study_id)
        .where(trials.c.state == TrialState.RUNNING)
        .where(attrs.c.key == key)
        .where(attrs.c.value_json == json.dumps(value))
        .order_by(trials.c.trial_id.desc())
        .limit(1)
    )
    with engine.connect() as con:
        row = con.execute(query).first()
    return None if row is None else row.trial_id


def running_attr_values(engine: sa.Engine, study_id: int, key: str) -> dict[int, object]:
    """trial_id -> value of system attr ``key``, for the study's RUNNING trials that have it.

    One query, however long the study: crash recovery reads leases this way on every ask.
    """
    with engine.connect() as con:
        rows = con.execute(_running_attr_query(), {"study_id_": study_id, "key_": key})
        return {row.trial_id: json.loads(row.value_json) for row in rows}


@functools.cache
def _running_attr_query() -> sa.Select:
    trials = models.TrialModel.__table__
    attrs = models.TrialSystemAttributeModel.__table__
    return (
        sa.select(trials.c.trial_id, attrs.c.value_json)
        .select_from(trials)
        .join(attrs, attrs.c.trial_id == trials.c.trial_id)
        .where(trials.c.study_id == sa.bindparam("study_id_", type_=sa.Integer))
        .where(trials.c.state == TrialState.RUNNING)
        .where(attrs.c.key == sa.bindparam("key_", type_=sa.String))
    )


def _open_claim_rows(engine: sa.Engine, study_id: int, n_slots: int) -> list:
    """The claims of slots 0..n_slots-1 that are not certainly done, by slot (_status decides).

    Queries that never touch a done claim: the unattached claims (index
    (study_id, trial_id)), the study's RUNNING, WAITING or FAIL trials (index
    (study_id, state)), then those trials' claims, less diverged and error FAILs.
    Crashed FAILs whose slot was re-run stay in the second list (their claim
    names the new trial, so they add no row). The statements are built once
    (_open_claim_queries): building them took a third of a cheap trial's ask.
    """
    unattached, open_trials, unfinished = _open_claim_queries()
    with engine.connect() as con:
        rows = list(con.execute(unattached, {"study_id": study_id}))
        ids = [
            r[0] for r in con.execute(open_trials, {"study_id": study_id})
        ]  # first, alone: the (study_id, state) index
        for start in range(0, len(ids), 500):
            rows += list(con.execute(unfinished, {"study_id": study_id, "ids": ids[start : start + 500]}))
    return sorted((r for r in rows if r.slot < n_slots), key=lambda r: r.slot)


@functools.cache
def _open_claim_queries() -> tuple[sa.Select, sa.Select, sa.Select]:
    """_open_claim_rows' three statements, with the study id (and the trial ids) as bound parameters."""
    trials = models.TrialModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    errors = attrs.alias("error_attrs")
    c = claims_table.c
    columns = (
        c.slot,
        c.token,
        c.trial_id,
        c.host,
        c.pid,
        c.claimed_at,
        trials.c.state,
        attrs.c.value_json.label("diverged"),
        errors.c.value_json.label("error"),
    )
    study_id = sa.bindparam("study_id", type_=sa.Integer)
    mine = c.study_id == study_id  # slots >= n_slots are dropped by the caller: a slot range here would
    # steer the query planner to the primary key, i.e. to every claim of the study
    nothing = sa.null()
    unattached = (
        sa.select(
            c.slot,
            c.token,
            c.trial_id,
            c.host,
            c.pid,
            c.claimed_at,
            nothing.label("state"),
            nothing.label("diverged"),
            nothing.label("error"),
        )
        .where(mine)
        .where(c.trial_id.is_(None))
    )
    result = sa.or_(
        sa.func.coalesce(attrs.c.value_json, "") == "true", sa.func.coalesce(errors.c.value_json, "null") != "null"
    )
    open_trials = (
        sa.select(trials.c.trial_id)
        .select_from(
            trials.outerjoin(
                attrs, sa.and_(attrs.c.trial_id == trials.c.trial_id, attrs.c.key == "diverged")
            ).outerjoin(errors, sa.and_(errors.c.trial_id == trials.c.trial_id, errors.c.key == "error"))
        )
        .where(trials.c.study_id == study_id)
        .where(trials.c.state.in_([TrialState.RUNNING, TrialState.WAITING, TrialState.FAIL]))
        .where(sa.or_(trials.c.state != TrialState.FAIL, ~result))
    )
    unfinished = (
        sa.select(*columns)
        .select_from(
            claims_table.join(trials, c.trial_id == trials.c.trial_id)
            .outerjoin(attrs, sa.and_(attrs.c.trial_id == trials.c.trial_id, attrs.c.key == "diverged"))
            .outerjoin(errors, sa.and_(errors.c.trial_id == trials.c.trial_id, errors.c.key == "error"))
        )
        .where(mine)
        .where(c.trial_id.in_(sa.bindparam("ids", expanding=True)))
        .where(sa.or_(trials.c.state != TrialState.FAIL, ~result))
    )
    return unattached, open_trials, unfinished


def _claim_rows(engine: sa.Engine, study_id: int, n_slots: int) -> list:
    trials = models.TrialModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    errors = attrs.alias("error_attrs")
    query = (
        sa.select(
            claims_table.c.slot,
            claims_table.c.token,
            claims_table.c.trial_id,
            claims_table.c.host,
            claims_table.c.pid,
            claims_table.c.claimed_at,
            trials.c.state,
            attrs.c.value_json.label("diverged"),
            errors.c.value_json.label("error"),
        )
        .select_from(claims_table)
        .outerjoin(trials, trials.c.trial_id == claims_table.c.trial_id)
        .outerjoin(attrs, sa.and_(attrs.c.trial_id == claims_table.c.trial_id, attrs.c.key == "diverged"))
        .outerjoin(errors, sa.and_(errors.c.trial_id == claims_table.c.trial_id, errors.c.key == "error"))
        .where(claims_table.c.study_id == study_id)
        .where(claims_table.c.slot < n_slots)
    )
    with engine.connect() as con:
        return list(con.execute(query))


def _status(row) -> SlotStatus:
    if row.trial_id is None:
        return SlotStatus.FREE if _abandoned(row) else SlotStatus.BUSY
    state = row.state
    if state in (TrialState.COMPLETE, TrialState.PRUNED):
        return SlotStatus.DONE
    if state == TrialState.FAIL:
        # The SQL form of hpsearch.records.is_finished: diverged or an objective error is a result.
        result = row.diverged == "true" or row.error not in (None, "null")
        return SlotStatus.DONE if result else SlotStatus.FREE
    if state is None:  # the trial row is gone (should not happen); re-run the slot
        return SlotStatus.FREE
    return SlotStatus.BUSY


def _abandoned(row) -> bool:
    """An unattached claim whose owner died (same host) or that is older than CLAIM_GRACE."""
    if row.host == socket.gethostname() and not pid_alive(row.pid):
        return True
    return time.time() - row.claimed_at > CLAIM_GRACE


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
