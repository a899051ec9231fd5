"""Samplers keyed to the claimed slot, so parallel workers never repeat a point.

Every trial carries the slot it claimed (system attr ``hpsearch_slot``, see
hpsearch.storage's claims table). Grid, random and QMC draw the trial's point
from the slot alone, which makes a slot's configuration independent of which
worker runs it, of how many workers there are and of crashes (a re-run slot gets
the same configuration). TPE depends on the history by design, but its random
numbers for a trial are seeded by (seed, slot), so two workers never propose
in lock-step (its start-up trials are random search's points).

``sampler_args`` (every argument, including Optuna's defaults) is stored with
the study: docs/science.md asks for it because Optuna 5.0 changed TPE's defaults.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.samplers import QMCSampler, RandomSampler, TPESampler

from hpsearch.samplers import SAMPLERS

if TYPE_CHECKING:
    from hpsearch.spec import Spec

SLOT_ATTR = "hpsearch_slot"


class SlotGridSampler(optuna.samplers.BaseSampler):
    """Grid search where slot k runs grid point ``order(k)``, computed, never listed.

    ``axes`` are hpsearch.space Axis objects (a count and an i-th value each);
    ``order`` is the seeded permutation hpsearch.space.GridOrder. A trial's
    point is found from its slot (system attr ``hpsearch_slot``; a trial started
    by plain Optuna code, without one, uses its number): index = order(slot),
    then one division and one modulo per axis (mixed radix). Nothing about the
    grid is copied into trials, and no step costs time or memory that grows
    with the grid's size. A parameter outside the grid (none for hpsearch's
    own specs) is drawn at random, seeded by (seed, slot).
    """

    def __init__(self, axes: dict[str, Any], seed: int) -> None:
        from hpsearch.space import GridOrder

        self._axes = dict(axes)
        self._seed = int(seed)
        self.grid_size = math.prod(a.count for a in self._axes.values())
        self._order = GridOrder(self.grid_size, self._seed)
        self._fallback = SlotRandomSampler(self._seed)
        self._last: tuple[int, int] | None = None  # (slot, grid index) of the last trial
        # (number, slot) of the trial before_trial last saw: sample_independent's trial reads its
        # system attrs from the database on every access (Optuna hands samplers a lazy view),
        # a read per parameter that the trial's number makes unnecessary
        self._current: tuple[int, int] | None = None

    def reseed_rng(self) -> None:
        self._fallback.reseed_rng()

    def infer_relative_search_space(self, study, trial) -> dict:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        slot = trial.system_attrs.get(SLOT_ATTR)
        self._current = None if slot is None else (trial.number, int(slot))
        self._fallback.before_trial(study, trial)

    def sample_independent(self, study, trial, param_name, param_distribution) -> Any:
        if param_name not in self._axes:
            return self._fallback.sample_independent(study, trial, param_name, param_distribution)
        from hpsearch.space import grid_digit

        current = self._current
        if current is not None and current[0] == trial.number:
            slot = current[1]
        else:
            slot = int(trial.system_attrs.get(SLOT_ATTR, trial.number))
        index = self.grid_index(slot)
        return self._axes[param_name].value(grid_digit(self._axes, index, param_name))

    def grid_index(self, slot: int) -> int:
        """The grid point (index in itertools.product order) that slot ``slot`` runs."""
        if self._last is None or self._last[0] != slot:
            self._last = (slot, self._order(slot % self.grid_size))
        return self._last[1]

    @property
    def points_per_axis(self) -> dict[str, int]:
        return {name: a.count for name, a in self._axes.items()}


class SlotRandomSampler(RandomSampler):
    """Random search whose draws for slot k depend only on (seed, k)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self._base_seed = seed

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        slot = trial.system_attrs.get(SLOT_ATTR)
        if slot is not None:
            self._rng.rng.seed(_slot_seed(self._base_seed, int(slot)))


class SlotTPESampler(TPESampler):
    """TPE whose randomness for slot k is seeded by (seed, k).

    Its start-up trials are then exactly random search's points for those
    slots, and two independent processes (two ``run``s, or ``run`` +
    ``worker``) never propose in lock-step, while one process stays
    reproducible: a proposal depends only on the seed, the slot and the history.
    """

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self._base_seed = seed
        self._random_sampler = SlotRandomSampler(seed)

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        slot = trial.system_attrs.get(SLOT_ATTR)
        if slot is not None:
            self._rng.rng.seed(_slot_seed(self._base_seed + 1, int(slot)))
        super().before_trial(study, trial)


class SlotQMCSampler(QMCSampler):
    """Scrambled Sobol: slot k gets point k of the seeded sequence, over the whole space.

    Optuna's QMCSampler samples its first trial at random and numbers points
    with a non-atomic counter in the study's system attrs (duplicates under
    parallel workers); here the search space is known up front and the index is
    the slot.
    """

    def __init__(self, space: dict[str, optuna.distributions.BaseDistribution], seed: int) -> None:
        super().__init__(
            qmc_type="sobol",
            scramble=True,
            seed=seed,
            independent_sampler=SlotRandomSampler(seed),
            warn_independent_sampling=False,
        )
        self._space = dict(space)
        self._slot = 0

    def infer_relative_search_space(self, study, trial) -> dict:
        return dict(self._space)

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        self._slot = int(trial.system_attrs.get(SLOT_ATTR, trial.number))
        return super().sample_relative(study, trial, search_space)

    def _find_sample_id(self, study, search_space) -> int:
        return self._slot


def make_sampler(spec: Spec, seed: int | None = None, *, worker: int = 0) -> tuple[optuna.samplers.BaseSampler, dict]:
    """(sampler, sampler_args) for ``spec.study.sampler``; seed defaults to the spec's."""
    from hpsearch.space import distributions

    kind = spec.study.sampler
    seed = spec.study.seed if seed is None else int(seed)
    if kind == "grid":
        from hpsearch.space import grid_axes as space_grid_axes

        sampler = SlotGridSampler(space_grid_axes(spec.space, spec.study.n_trials), seed=seed)
        args = {
            "points_per_axis": sampler.points_per_axis,
            "seed": seed,
            "grid_size": sampler.grid_size,
            "points": "cell centres of each range (docs/science.md)",
            "order": "slot k = grid point GridOrder(grid_size, seed)(k): a seeded Feistel permutation",
        }
    elif kind == "random":
        sampler = SlotRandomSampler(seed)
        args = {"seed": seed, "per_slot_seed": "SeedSequence([seed, slot])"}
    elif kind == "tpe":
        given = {"multivariate": True, "constant_liar": True, "seed": seed + worker}
        sampler = SlotTPESampler(**given)
        args = _all_args(TPESampler, given) | {
            "seed": seed,
            "rng_per_trial": "SeedSequence([seed + worker + 1, slot])",
            "startup_trials": "random search's point of the slot",
        }
    elif kind == "qmc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = SlotQMCSampler(distributions(spec.space), seed)
        args = {"qmc_type": "sobol", "scramble": True, "seed": seed, "sample_id": "slot"}
    else:
        raise ValueError(f"unknown sampler {kind!r}; expected one of {SAMPLERS}")
    sampler._hpsearch_kind = kind  # lets ask_trial tell our samplers from a plain Optuna one
    return sampler, args


def grid_axes(spec: Spec) -> dict[str, list]:
    """The grid's axis values for this spec's budget (hpsearch.space.grid_values; for display)."""
    from hpsearch.space import grid_values

    return grid_values(spec.space, spec.study.n_trials)


def budget(spec: Spec) -> int:
    """Number of slots: n_trials, capped at the grid's size for grid search."""
    from hpsearch.space import grid_size

    n = int(spec.study.n_trials)
    if spec.study.sampler == "grid":
        n = min(n, grid_size(spec.space, n))  # counted from the axes' counts, never listed
    return n


def _slot_seed(seed: int, slot: int) -> int:
    return int(np.random.SeedSequence([seed, slot]).generate_state(1)[0])


def _all_args(cls: type, given: dict) -> dict:
    """Every constructor argument: the ones we pass plus Optuna's defaults, JSON-able."""
    out = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = given.get(name, p.default)
        if value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = repr(value)
    return out
