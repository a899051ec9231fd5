"""The queue of enqueued configurations (``hpsearch enqueue``): known-good points a study runs first.

Why not Optuna's ``study.enqueue_trial``: it creates a WAITING trial per
configuration, which the next ``study.ask`` pops. hpsearch never asks Optuna
for a trial: a worker first claims a slot of the budget (the claims table) and
then creates the slot's trial itself (``start_trial``), so WAITING trials
would never be popped, and they sit outside the slot model that makes the
budget exact (a popped trial has no slot, so it would overshoot the budget,
and if its worker died its configuration would be lost, as a crashed
trial's slot is re-run with the slot's own configuration).

So the queue is a table of ours, ``hpsearch_queue`` (study, position,
parameters, slot). A queued configuration is bound to a slot in the same
transaction that claims a fresh slot (``bind_in``, called by ``claim_slot``:
fresh claims commit in slot order, so positions go to slots in order however
many workers start trials at once), and read back (or, for a slot claimed
again after a crash, bound) in the transaction that creates the slot's trial
(``start_trial``, under the study row's lock): the lowest unbound position goes
to the slot, and the trial gets Optuna's own ``fixed_params``
system attribute (``Trial.suggest_*`` returns those values, for every
sampler).
Hence each configuration is run exactly once by any number of workers:

* it is bound to one slot only (a unique key on (study, slot) and the
  compare-and-swap on the unbound row);
* a slot bound before keeps its configuration: a crashed or killed trial's
  slot runs it again, as ``--retry-failed`` does;
* enqueued configurations come before the sampler's own (every new slot
  takes one while any is unbound), and they count toward the budget (they
  fill slots). With grid search a configuration takes the place of the grid
  point its slot would have run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

FIXED_PARAMS_KEY = "fixed_params"  # Optuna's trial system attr: suggest_* returns these values

_metadata = sa.MetaData()
queue_table = sa.Table(
    "hpsearch_queue",
    _metadata,
    sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("slot", sa.Integer, nullable=True),
    sa.UniqueConstraint("study_id", "slot", name="uq_hpsearch_queue_slot"),
)


def ensure_queue_table(engine: sa.Engine) -> None:
    """Create the queue table if it is missing (another process may be creating it at the same time)."""
    try:
        _metadata.create_all(engine, checkfirst=True)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
        if not sa.inspect(engine).has_table(queue_table.name):
            raise


def enqueue_params(engine: sa.Engine, study_id: int, configurations: Sequence[Mapping[str, Any]]) -> list[int]:
    """Append configurations to the study's queue in one transaction; returns their positions (1, 2, ...).

    PostgreSQL: two enqueues at once may pick the same positions; the loser's
    primary-key violation rolls it back whole, and it tries again.
    """
    ensure_queue_table(engine)
    c = queue_table.c
    for attempt in range(5):
        try:
            with engine.begin() as con:
                top = con.execute(sa.select(sa.func.max(c.position)).where(c.study_id == study_id)).scalar() or 0
                rows = [
                    {"study_id": study_id, "position": top + i + 1, "params_json": json.dumps(dict(p))}
                    for i, p in enumerate(configurations)
                ]
                if rows:
                    con.execute(queue_table.insert(), rows)
            return [top + i + 1 for i in range(len(rows))]
        except sa.exc.IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def bind_in(con: sa.Connection, study_id: int, slot: int) -> dict[str, Any] | None:
    """The configuration slot ``slot`` runs, inside the caller's transaction: the one bound to it
    before (a re-run slot), else the lowest unbound one, bound now; None when the queue is empty."""
    c = queue_table.c
    mine = c.study_id == study_id
    for _ in range(5):
        # one indexed read in the common case (an empty queue): the slot's own row first, else the lowest unbound
        row = con.execute(
            sa.select(c.position, c.params_json, c.slot)
            .where(mine)
            .where(sa.or_(c.slot == slot, c.slot.is_(None)))
            .order_by(sa.case((c.slot.is_(None), 1), else_=0), c.position)
            .limit(1)
        ).first()
        if row is None:
            return None
        if row.slot is not None:  # bound to this slot before: a re-run keeps its configuration
            return json.loads(row.params_json)
        taken = con.execute(
            queue_table.update().where(mine).where(c.position == row.position).where(c.slot.is_(None)).values(slot=slot)
        )
        if taken.rowcount == 1:
            return json.loads(row.params_json)
    return None


def queued(engine: sa.Engine, study_id: int) -> list[tuple[int, dict[str, Any], int | None]]:
    """The study's queue as (position, parameters, slot or None when not yet started), by position."""
    if not sa.inspect(engine).has_table(queue_table.name):
        return []
    c = queue_table.c
    with engine.connect() as con:
        rows = con.execute(
            sa.select(c.position, c.params_json, c.slot).where(c.study_id == study_id).order_by(c.position)
        )
        return [(r.position, json.loads(r.params_json), r.slot) for r in rows]


def copy_queue(source: sa.Engine, source_id: int, target: sa.Engine, target_id: int) -> int:
    """Copy a study's queue (bindings included) to another study; returns how many rows."""
    rows = queued(source, source_id)
    if not rows:
        return 0
    ensure_queue_table(target)
    with target.begin() as con:
        con.execute(
            queue_table.insert(),
            [
                {"study_id": target_id, "position": pos, "params_json": json.dumps(params), "slot": slot}
                for pos, params, slot in rows
            ],
        )
    return len(rows)


def delete_queue(engine: sa.Engine, study_id: int) -> None:
    """Forget a study's queue (when the study itself is deleted)."""
    if sa.inspect(engine).has_table(queue_table.name):
        with engine.begin() as con:
            con.execute(queue_table.delete().where(queue_table.c.study_id == study_id))
