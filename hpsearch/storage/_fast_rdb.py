"""Optuna's RDBStorage with its calls on a TPE trial's path in SQLAlchemy Core instead of its ORM.

Optuna's RDBStorage reads trials through its ORM: an ORM object per row of six
tables, then a FrozenTrial from those. The cache layer every Study wraps its
storage in (``_CachedStorage``) calls that read for the trials it does not hold
yet, once per ask of a model-based sampler (TPE). On a table objective, where a
trial itself costs nothing, that read was the largest part of a TPE trial.
``trials_where`` gives the same FrozenTrials from six Core queries;
``FastRDBStorage`` is the RDBStorage hpsearch opens, whose ``_get_trials``
(the read the cache layer and ``get_all_trials`` use) is this one. Its
``set_trial_system_attr`` (TPE's constant liar shares each proposal with the
other workers so, one per ask) runs Optuna's check and upsert on SQLite and
PostgreSQL in one Core transaction, without loading the trial as an ORM object.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.distributions import json_to_distribution
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState

#: Trial ids per IN (...) of the attribute queries: SQLite allows 32,766 bound variables, old builds 999.
_CHUNK = 500


def trials_where(
    engine: sa.Engine,
    study_id: int,
    *,
    states: Container[TrialState] | None = None,
    included_trial_ids: Iterable[int] = (),
    trial_id_greater_than: int = -1,
) -> list[FrozenTrial]:
    """The study's trials in trial-id order, as ``RDBStorage._get_trials`` selects and builds them.

    ``states``: only these states (None: all). With ``trial_id_greater_than`` > -1, only the
    trials above that id and those of ``included_trial_ids`` (the ones not above it): the
    cache layer's "what changed since I last looked". A study that does not exist raises
    KeyError, as Optuna's read does.
    """
    T = models.TrialModel.__table__
    included = sorted({int(i) for i in included_trial_ids if i <= trial_id_greater_than})
    query = sa.select(T).where(T.c.study_id == study_id)
    if states is not None:
        query = query.where(T.c.state.in_([s for s in TrialState if s in states]))
    if trial_id_greater_than > -1:
        newer = T.c.trial_id > trial_id_greater_than
        query = query.where(sa.or_(T.c.trial_id.in_(included), newer) if included else newer)
    query = query.order_by(T.c.trial_id)
    try:
        with engine.connect() as con:
            return _read(con, study_id, query)
    except sa.exc.IntegrityError:
        raise
    except sa.exc.SQLAlchemyError as exc:  # what Optuna's session turns a failed read into
        raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc


def _read(con: sa.Connection, study_id: int, query: sa.Select) -> list[FrozenTrial]:
    S = models.StudyModel.__table__
    if con.execute(sa.select(S.c.study_id).where(S.c.study_id == study_id)).first() is None:
        raise KeyError(f"No study with study_id {study_id} exists.")
    base = con.execute(query).all()
    children = _children(con, [row.trial_id for row in base]) if base else _Children()
    return [_frozen(row, children) for row in base]


class _Children:
    """The rows of a set of trials in the five tables that hang off the trials table, by trial id."""

    def __init__(self) -> None:
        self.values: dict[int, list[tuple[int, float]]] = {}
        self.params: dict[int, list[tuple[str, float, str]]] = {}
        self.intermediate: dict[int, dict[int, float]] = {}
        self.user: dict[int, dict[str, Any]] = {}
        self.system: dict[int, dict[str, Any]] = {}
        self.distributions: dict[str, Any] = {}  # each distinct JSON parsed once


def _children(con: sa.Connection, ids: list[int]) -> _Children:
    V = models.TrialValueModel.__table__
    P = models.TrialParamModel.__table__
    IV = models.TrialIntermediateValueModel.__table__
    UA = models.TrialUserAttributeModel.__table__
    SA = models.TrialSystemAttributeModel.__table__
    value_of = models.TrialValueModel.stored_repr_to_value
    inter_of = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value
    out = _Children()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for tid, objective, value, kind in con.execute(
            sa.select(V.c.trial_id, V.c.objective, V.c.value, V.c.value_type).where(V.c.trial_id.in_(chunk))
        ):
            out.values.setdefault(tid, []).append((objective, value_of(value, kind)))
        for tid, name, value, dist in con.execute(
            sa.select(P.c.trial_id, P.c.param_name, P.c.param_value, P.c.distribution_json)
            .where(P.c.trial_id.in_(chunk))
            .order_by(P.c.param_id)
        ):
            out.params.setdefault(tid, []).append((name, value, dist))
        for tid, step, value, kind in con.execute(
            sa.select(IV.c.trial_id, IV.c.step, IV.c.intermediate_value, IV.c.intermediate_value_type)
            .where(IV.c.trial_id.in_(chunk))
            .order_by(IV.c.trial_intermediate_value_id)
        ):
            out.intermediate.setdefault(tid, {})[step] = inter_of(value, kind)
        for tid, key, value in con.execute(
            sa.select(UA.c.trial_id, UA.c.key, UA.c.value_json)
            .where(UA.c.trial_id.in_(chunk))
            .order_by(UA.c.trial_user_attribute_id)
        ):
            out.user.setdefault(tid, {})[key] = json.loads(value)
        for tid, key, value in con.execute(
            sa.select(SA.c.trial_id, SA.c.key, SA.c.value_json)
            .where(SA.c.trial_id.in_(chunk))
            .order_by(SA.c.trial_system_attribute_id)
        ):
            out.system.setdefault(tid, {})[key] = json.loads(value)
    return out


def _frozen(row: Any, children: _Children) -> FrozenTrial:
    """One trial as Optuna's ``_build_frozen_trial_from_trial_model`` builds it."""
    tid = row.trial_id
    params = children.params.get(tid, [])
    dists = children.distributions
    for _, _, d in params:
        if d not in dists:
            dists[d] = json_to_distribution(d)
    found = children.values.get(tid)
    values: list[float] | None = None
    if found:
        values = [0.0] * len(found)
        for objective, v in found:
            values[objective] = v
    state = row.state if isinstance(row.state, TrialState) else TrialState[str(row.state)]
    return FrozenTrial(
        number=row.number,
        state=state,
        value=None,
        values=values,
        datetime_start=row.datetime_start,
        datetime_complete=row.datetime_complete,
        params={name: dists[d].to_external_repr(v) for name, v, d in params},
        distributions={name: dists[d] for name, _, d in params},
        user_attrs=children.user.get(tid, {}),
        system_attrs=children.system.get(tid, {}),
        intermediate_values=children.intermediate.get(tid, {}),
        trial_id=tid,
    )


class FastRDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDBStorage whose trial reads are ``trials_where`` and whose system attributes are
    written in plain SQL (the same rows and errors, without the ORM)."""

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        dialect = self.engine.name
        if dialect not in ("sqlite", "postgresql"):
            super().set_trial_system_attr(trial_id, key, value)
            return
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        table, trials = models.TrialSystemAttributeModel.__table__, models.TrialModel.__table__
        stmt = insert(table).values(trial_id=trial_id, key=key, value_json=json.dumps(value))
        upsert = stmt.on_conflict_do_update(
            index_elements=[table.c.trial_id, table.c.key], set_={"value_json": stmt.excluded.value_json}
        )
        try:
            with self.engine.begin() as con:  # Optuna's order: the trial must exist and still run, then the upsert
                state = con.execute(sa.select(trials.c.state).where(trials.c.trial_id == trial_id)).scalar_one_or_none()
                if state is None:
                    raise KeyError(f"No trial with trial_id {trial_id} exists.")
                self.check_trial_is_updatable(trial_id, state)
                con.execute(upsert)
        except sa.exc.IntegrityError:
            pass  # as Optuna's session for attributes: another process wrote the same key meanwhile
        except sa.exc.SQLAlchemyError as exc:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc

    def _get_trials(
        self,
        study_id: int,
        states: Container[TrialState] | None,
        included_trial_ids: set[int],
        trial_id_greater_than: int,
    ) -> list[FrozenTrial]:
        return trials_where(
            self.engine,
            study_id,
            states=states,
            included_trial_ids=included_trial_ids,
            trial_id_greater_than=trial_id_greater_than,
        )
