"""Every private Optuna name hpsearch uses, listed with why; the most common behind small named functions.

Optuna exposes no public accessor for a study's storage, its database id, a trial's database id
or the stale-trial query under its cache layer. hpsearch needs all four (claims, leases,
heartbeats, direct SQL): ``storage_of``, ``study_id_of``, ``trial_id_of``, ``backend_of`` and
``stale_trial_ids`` below. The import-boundary test (tests/test_boundaries.py) keeps private
Optuna out of everything but hpsearch/storage/.

Inside hpsearch/storage/, the fast trial path (``_trials``, ``_attrs``), the aggregate SQL
(``_summaries``, ``_claims``, ``_retry``) and the quick schema check (``_rdb``) use more of them:
Optuna's table models, its cache layer's internals, a Trial's fields. ``PRIVATE_MODULES`` and
``PRIVATE_NAMES`` list every one, so that an Optuna upgrade has one checklist, and
tests/storage/test_optuna_private.py holds the lists exact both ways (a private use not listed
fails, and so does a listed name no longer used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import optuna

if TYPE_CHECKING:
    from optuna.study._frozen import FrozenStudy  # what get_all_studies returns; not re-exported


# Optuna's private modules imported in hpsearch/storage/, and what for.
PRIVATE_MODULES: dict[str, str] = {
    "optuna.storages._rdb": "the package of the RDB storage: its table models and storage module",
    "optuna.storages._rdb.models": "the table models (TrialModel, ...): aggregate SQL and few-transaction writes",
    "optuna.storages._rdb.storage": "_create_scoped_session, and _VersionManager swapped for SQLite's quick check",
    "optuna.storages._cached_storage": "_CachedStorage and _StudyInfo: tell the cache of a trial created here",
    "optuna.study._tell": "_check_values_are_feasible: a pruned trial's value, as Study.tell takes it",
    "optuna.study._frozen": "FrozenStudy (type hints only): what get_all_studies returns",
}

# Optuna's private names (attributes, functions, classes) used in hpsearch/storage/, and on what.
PRIVATE_NAMES: dict[str, str] = {
    "_storage": "Study: the storage it reads and writes",
    "_study_id": "Study, FrozenStudy: the study's database id",
    "_trial_id": "Trial, FrozenTrial: the trial's database id",
    "_backend": "_CachedStorage: the RDBStorage under the cache layer",
    "_get_stale_trial_ids": "RDBStorage: the query for RUNNING trials whose heartbeat expired",
    "_cached_frozen_trial": "Trial: its up-to-date copy, kept in step as Trial.set_user_attr does",
    "_fixed_params": "Trial: set as Trial.__init__ sets it (own_trial builds a Trial without a read)",
    "_relative_params": "Trial: as above",
    "_thread_local": "Study: its per-thread trial cache, dropped as Study.ask and Study.tell drop it",
    "_set_trial_attr_without_commit": "RDBStorage: one attribute inside a session (set_user_attrs elsewhere)",
    "_create_scoped_session": "optuna.storages._rdb.storage: Optuna's session with its error handling",
    "_VersionManager": "optuna.storages._rdb.storage: the schema-version checker, swapped for SQLite's",
    "_init_alembic": "_VersionManager: overridden to stamp a new SQLite file without importing alembic",
    "_CachedStorage": "optuna.storages._cached_storage: the cache layer a Study wraps its RDBStorage in",
    "_StudyInfo": "optuna.storages._cached_storage: a study's entry in that cache",
    "_add_trials_to_cache": "_CachedStorage: learn of a trial created outside it",
    "_studies": "_CachedStorage: its per-study entries",
    "_lock": "_CachedStorage: the lock its own updates take",
    "_filter_study": "optuna.pruners: the study view a sampler's hooks get",
    "_check_values_are_feasible": "optuna.study._tell: as above",
    "_rng": "RandomSampler, TPESampler, GPSampler: the LazyRandomState it draws from, reseeded per slot",
    "_cma_rng": "CmaEsSampler: the LazyRandomState each generation's optimizer is seeded from, as above",
    "_random_sampler": "TPESampler: the sampler of its start-up trials (no argument sets it), made the slot's",
    "_find_sample_id": "QMCSampler: which point of the sequence a trial gets (overridden: the slot)",
    "_sample": "TPESampler: its model's draw, given the ask's one read of the trials (OneReadTPESampler)",
    "_get_trials": "Study: the trials read, once per ask through its per-thread cache (OneReadTPESampler); "
    "RDBStorage: the read its cache layer calls, overridden with Core queries (FastRDBStorage)",
}


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a study reads and writes (Optuna wraps an RDBStorage in a cache layer)."""
    return study._storage


def study_id_of(study: optuna.Study | FrozenStudy) -> int:
    """The study's id in its storage (a live Study or a FrozenStudy from get_all_studies)."""
    return study._study_id


def trial_id_of(trial: optuna.trial.BaseTrial | optuna.trial.FrozenTrial) -> int:
    """The trial's id in its storage (unique across studies, unlike its number)."""
    return trial._trial_id  # type: ignore[union-attr]


def backend_of(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """The storage under Optuna's cache layer (the storage itself when it has none)."""
    return getattr(storage, "_backend", storage)


def stale_trial_ids(storage: optuna.storages.BaseStorage, study_id: int) -> list[int] | None:
    """Ids of RUNNING trials whose heartbeat expired, or None when the storage cannot tell
    (no heartbeat configured, or a backend without Optuna's stale-trial query)."""
    backend: Any = backend_of(storage)
    if not getattr(storage, "get_heartbeat_interval", lambda: None)() or not hasattr(backend, "_get_stale_trial_ids"):
        return None
    return list(backend._get_stale_trial_ids(study_id))


def reseed_sampler(sampler: optuna.samplers.BaseSampler, seed: int) -> None:
    """Seed the random state a built-in Optuna sampler draws from (CmaEsSampler's ``_cma_rng``, the
    others' ``_rng``, each a LazyRandomState), so that its draws for a trial can be keyed to the
    trial's slot: Optuna only seeds them once, at construction."""
    target: Any = sampler
    state = target._cma_rng if isinstance(sampler, optuna.samplers.CmaEsSampler) else target._rng
    state.rng.seed(seed)


def set_tpe_startup_sampler(sampler: optuna.samplers.TPESampler, startup: optuna.samplers.BaseSampler) -> None:
    """Make ``startup`` the sampler of TPE's start-up trials (and of what its model does not cover):
    TPESampler keeps a RandomSampler of its own for them, which no argument replaces."""
    target: Any = sampler
    target._random_sampler = startup


class IndexedQMCSampler(optuna.samplers.QMCSampler):
    """Optuna's QMCSampler giving each trial point ``sample_index(trial)`` of its sequence.

    Optuna numbers the points with a counter in the study's system attrs, read and written in two
    transactions (parallel workers draw duplicates); its hook for the number, ``_find_sample_id``,
    is private, so it is overridden here and subclasses give the index through ``sample_index``.
    """

    _index = 0

    def sample_index(self, trial: optuna.trial.FrozenTrial) -> int:
        """The point of the sequence ``trial`` gets."""
        raise NotImplementedError

    def sample_relative(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        search_space: dict[str, optuna.distributions.BaseDistribution],
    ) -> dict[str, Any]:
        self._index = self.sample_index(trial)
        return super().sample_relative(study, trial, search_space)

    def _find_sample_id(
        self, study: optuna.Study, search_space: dict[str, optuna.distributions.BaseDistribution]
    ) -> int:
        return self._index


class OneReadTPESampler(optuna.samplers.TPESampler):
    """Optuna's TPESampler, reading the study's trials once per ask instead of twice.

    An ask of TPE reads every trial of the study through Optuna's cache layer to
    infer the search space (kept for the ask in the study's per-thread cache),
    then reads them all again, past that cache, to fit its model with the other
    workers' running trials as constant liars. On a table objective, where a
    trial itself costs nothing, the second read was about a sixth of a TPE
    trial. Here the model is fitted on the ask's first read. Within one process
    nothing changes between the two reads; with several workers, a trial that
    another worker started or finished in between is seen as if that had
    happened a moment later, which is a race the reads never excluded anyway.

    The cache must hold this ask's read: ``drop_trials_cache`` before each ask
    (as ``Study.ask`` does; hpsearch's ask builds trials without it).
    """

    def _sample(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        search_space: dict[str, optuna.distributions.BaseDistribution],
    ) -> dict[str, Any]:
        return super()._sample(_AskTrials(study), trial, search_space)  # type: ignore[arg-type]


class _AskTrials:
    """A study whose trials, however asked for, come from the ask's one cached read."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def _get_trials(
        self, deepcopy: bool = True, states: Any = None, use_cache: bool = False
    ) -> list[optuna.trial.FrozenTrial]:
        return self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


def drop_trials_cache(study: optuna.Study) -> None:
    """Forget the trials the study read for the previous ask (``Study.ask`` and ``Study.tell`` do the
    same), so that the samplers of the next ask read them afresh, once."""
    study._thread_local.cached_all_trials = None


def set_nsga_startup_sampler(
    sampler: optuna.samplers.NSGAIISampler | optuna.samplers.NSGAIIISampler, startup: optuna.samplers.BaseSampler
) -> None:
    """Make ``startup`` the sampler of NSGA-II/III's first generation (and of parameters outside the
    common search space): like TPE, they keep a RandomSampler of their own that no argument replaces."""
    target: Any = sampler
    target._random_sampler = startup


#: How Optuna stores a trial's constraint ``key`` (``trial.set_constraint``): system attr ``constraints:key``.
CONSTRAINT_PREFIX = "constraints:"

#: Where ``Study.set_metric_names`` keeps the objectives' names (study system attr): read here for a
#: study known by its id only (an export, a summary), where building a Study costs more than the read.
METRIC_NAMES_KEY = "study:metric_names"


def metric_names(storage: optuna.storages.BaseStorage, study_id: int) -> list[str] | None:
    """The names of the study's objectives (``study.metric_names``), None where none were set."""
    names = storage.get_study_system_attrs(study_id).get(METRIC_NAMES_KEY)
    return [str(n) for n in names] if isinstance(names, list) else None
