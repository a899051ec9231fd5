"""The storage seam: what search asks of a study's storage, as one small protocol.

Search claims a slot of the budget, starts the slot's trial, finishes it,
records its attributes, and reads the slots' statuses and the studies'
overviews. ``TrialStore`` names exactly that; ``trial_store(study)`` gives
the implementation for the study's storage. Today there is one,
``OptunaTrialStore``: Optuna's RDB storage plus hpsearch's claims table, in
few transactions, on Optuna's private table models (every private name it
relies on is listed in ``_optuna.py``). A new backend, or a fallback on
Optuna's public API, is another class with these six methods; search does not
change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.storage._attrs import set_user_attrs
from hpsearch.storage._claims import Claim, SlotStatus, claim_slot, slot_statuses
from hpsearch.storage._optuna import storage_of, study_id_of
from hpsearch.storage._rdb import engine_of
from hpsearch.storage._summaries import StudyOverview, study_overviews
from hpsearch.storage._trials import finish_trial, start_trial


@runtime_checkable
class TrialStore(Protocol):
    """One study's storage, as search uses it."""

    def claim(self, n_slots: int) -> Claim | SlotStatus:
        """Claim the lowest free slot of 0..n_slots-1; else SlotStatus.DONE or SlotStatus.BUSY."""
        ...

    def start(self, claim: Claim, template: FrozenTrial, *, heartbeat: bool) -> FrozenTrial | None:
        """Create the claimed slot's trial (``template``'s system attrs); None if the claim was taken over."""
        ...

    def finish(
        self, trial: optuna.Trial, state: TrialState, value: float | Sequence[float] | None = None
    ) -> FrozenTrial:
        """Record a running trial's outcome; UpdateFinishedTrialError if someone finished it first."""
        ...

    def set_attributes(self, trial: optuna.trial.BaseTrial, attrs: Mapping[str, Any]) -> None:
        """Record user attributes of a running trial, all at once."""
        ...

    def slot_statuses(self, n_slots: int) -> list[SlotStatus]:
        """The status of each slot 0..n_slots-1."""
        ...

    def overviews(self, names: Iterable[str] | None = None) -> list[StudyOverview]:
        """Counts by state and the best trial of the named studies (all when None), without loading trials."""
        ...


class OptunaTrialStore:
    """``TrialStore`` on Optuna's RDB storage (SQLite, PostgreSQL, ...) and the claims table."""

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.storage = storage_of(study)
        self.study_id = study_id_of(study)

    def claim(self, n_slots: int) -> Claim | SlotStatus:
        return claim_slot(engine_of(self.storage), self.study_id, n_slots)

    def start(self, claim: Claim, template: FrozenTrial, *, heartbeat: bool) -> FrozenTrial | None:
        return start_trial(self.study, claim, template, heartbeat=heartbeat)

    def finish(
        self, trial: optuna.Trial, state: TrialState, value: float | Sequence[float] | None = None
    ) -> FrozenTrial:
        return finish_trial(self.study, trial, state, value)

    def set_attributes(self, trial: optuna.trial.BaseTrial, attrs: Mapping[str, Any]) -> None:
        set_user_attrs(trial, attrs)

    def slot_statuses(self, n_slots: int) -> list[SlotStatus]:
        return slot_statuses(engine_of(self.storage), self.study_id, n_slots)

    def overviews(self, names: Iterable[str] | None = None) -> list[StudyOverview]:
        return study_overviews(self.storage, names=names)


def trial_store(study: optuna.Study) -> TrialStore:
    """The TrialStore of ``study``'s storage (UserError for a storage that is not an RDB one)."""
    return OptunaTrialStore(study)
