"""``--retry-failed``: turn a study's failed trials back into crashes, so their slots run again.

A trial the objective failed (FAIL with user attr ``error``) is a result: its
slot is done and never re-run. When the failures came from the environment
(a missing venv, a full disk) rather than the configuration, the user fixes it
and asks for those slots again. Renaming the attribute to
``error_before_retry`` makes each such trial what a crash is (FAIL without
``error``): the claims table then frees its slot by its usual rule, every
count (``show``, the report, the budget) agrees at once, and the old error
text stays with the old trial. One UPDATE, in one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from optuna.storages._rdb import models
from optuna.trial import TrialState

from hpsearch.records import ERROR_ATTR as ERROR_KEY
from hpsearch.records import RETRIED_ERROR_ATTR as RETRIED_KEY


def reopen_failed(engine: sa.Engine, study_id: int) -> list[int]:
    """Rename ``error`` to ``error_before_retry`` on the study's failed trials; returns their numbers."""
    trials = models.TrialModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    failed = (
        sa.select(trials.c.trial_id, trials.c.number)
        .select_from(trials.join(attrs, attrs.c.trial_id == trials.c.trial_id))
        .where(trials.c.study_id == study_id)
        .where(trials.c.state == TrialState.FAIL)
        .where(attrs.c.key == ERROR_KEY)
        .where(sa.func.coalesce(attrs.c.value_json, "null") != "null")
    )
    with engine.begin() as con:
        rows = list(con.execute(failed))
        ids = [r.trial_id for r in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            con.execute(attrs.delete().where(attrs.c.trial_id.in_(chunk)).where(attrs.c.key == RETRIED_KEY))
            con.execute(
                attrs.update()
                .where(attrs.c.trial_id.in_(chunk))
                .where(attrs.c.key == ERROR_KEY)
                .values(key=RETRIED_KEY)
            )
    return sorted(r.number for r in rows)
