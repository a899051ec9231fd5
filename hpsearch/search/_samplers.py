"""Samplers keyed to the claimed slot, so parallel workers never repeat a point.

Every trial carries the slot it claimed (system attr ``hpsearch_slot``, see
hpsearch.storage's claims table). Grid, random and QMC draw the trial's point
from the slot alone, which makes a slot's configuration independent of which
worker runs it, of how many workers there are and of crashes (a re-run slot gets
the same configuration). TPE, CMA-ES and the GP depend on the history by design,
but their random numbers for a trial are seeded by (seed, slot), never by the
worker, so two workers never propose in lock-step and the start-up trials of
TPE and the GP are random search's points of the same slots, for any ``--jobs``.

``sampler_args`` (every argument, including Optuna's defaults) is stored with
the study: docs/science.md asks for it because Optuna 5.0 changed TPE's defaults.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.samplers import (
    CmaEsSampler,
    GPSampler,
    NSGAIIISampler,
    NSGAIISampler,
    RandomSampler,
    TPESampler,
)

from hpsearch.errors import UserError
from hpsearch.records import SLOT_ATTR
from hpsearch.samplers import SAMPLERS
from hpsearch.storage._optuna import (
    IndexedQMCSampler,
    OneReadTPESampler,
    reseed_sampler,
    set_nsga_startup_sampler,
    set_tpe_startup_sampler,
)

if TYPE_CHECKING:
    from hpsearch.spec import Spec


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

    def __init__(self, axes: dict[str, Any], seed: int, space: dict[str, Any] | None = None) -> None:
        from hpsearch.conditions import has_conditions
        from hpsearch.space import Grid, GridOrder

        self._axes = dict(axes)
        self._seed = int(seed)
        # with conditional parameters (``space`` given), points come from the block grid
        self._grid = Grid(space, self._axes) if space is not None and has_conditions(space) else None
        self._point: tuple[int, dict[str, Any]] | None = None  # (grid index, point) of the last lookup
        self.grid_size = self._grid.size if self._grid is not None else math.prod(a.count for a in self._axes.values())
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
        if self._grid is not None:
            if self._point is None or self._point[0] != index:
                self._point = (index, self._grid.point(index))
            point = self._point[1]
            if param_name not in point:  # absent at this point: cannot be asked by hpsearch's own suggest
                return self._fallback.sample_independent(study, trial, param_name, param_distribution)
            return point[param_name]
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
        _reseed_for_slot(self, self._base_seed, trial)


class _SlotReseeded(optuna.samplers.BaseSampler):
    """Before each trial, reseed the sampler's own generator from (seed + 1, slot), then let the
    sampler prepare as usual: its proposals then depend on the seed, the slot and the history only,
    never on which worker runs the slot. (seed + 1: apart from random search's stream of the slot.)"""

    _base_seed: int

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        _reseed_for_slot(self, self._base_seed + 1, trial)
        super().before_trial(study, trial)  # the Optuna sampler that follows this class in the bases


class SlotTPESampler(_SlotReseeded, OneReadTPESampler):
    """TPE whose randomness for slot k is seeded by (seed, k).

    Its start-up trials are then exactly random search's points for those
    slots, and two independent processes (two ``run``s, or ``run`` +
    ``worker``) never propose in lock-step, while one process stays
    reproducible: a proposal depends only on the seed, the slot and the history.
    It reads the study's trials once per ask (hpsearch.storage's OneReadTPESampler).
    """

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self._base_seed = seed
        self._startup = SlotRandomSampler(seed)
        set_tpe_startup_sampler(self, self._startup)
        default = inspect.signature(TPESampler.__init__).parameters["n_startup_trials"].default
        self._startup_slots = int(kwargs.get("n_startup_trials", default))

    def _in_startup(self, trial: optuna.trial.FrozenTrial) -> bool:
        """Whether the trial runs a start-up slot, which gets random search's point of the slot.

        Optuna decides by the trials COMPLETE when the sampler reads them: with one worker that
        is the same (slot k is asked after k trials finished), but with several a start-up slot
        whose sampling was delayed (a busy machine) could see 10 finished trials and draw from the
        model, so its point depended on timing and --jobs. Deciding by the slot keeps it fixed.
        """
        slot = trial.system_attrs.get(SLOT_ATTR)
        return slot is not None and int(slot) < self._startup_slots

    def infer_relative_search_space(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> dict:
        if self._in_startup(trial):
            return {}
        return super().infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, search_space: dict) -> dict:
        if self._in_startup(trial):
            return {}
        return super().sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        param_name: str,
        param_distribution: optuna.distributions.BaseDistribution,
    ) -> Any:
        if self._in_startup(trial):
            return self._startup.sample_independent(study, trial, param_name, param_distribution)
        return super().sample_independent(study, trial, param_name, param_distribution)


class SlotCmaEsSampler(_SlotReseeded, CmaEsSampler):
    """CMA-ES whose random numbers for slot k are seeded by (seed, k).

    Optuna seeds each generation's optimizer from the sampler's generator plus
    the trial number; reseeding that generator from the slot before each trial
    makes a proposal depend only on the seed, the slot and the history. Its
    first trial and any categorical parameter (CMA-ES is continuous) come from
    random search's point of the slot.
    """

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, independent_sampler=SlotRandomSampler(seed), **kwargs)
        self._base_seed = seed


class SlotGPSampler(_SlotReseeded, GPSampler):
    """Optuna's Gaussian-process sampler, its randomness for slot k seeded by (seed, k).

    Its start-up trials are random search's points of the same slots (as
    TPE's), so its repeats pair with random search's by seed.
    """

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, independent_sampler=SlotRandomSampler(seed), **kwargs)
        self._base_seed = seed


class SlotNSGAIISampler(_SlotReseeded, NSGAIISampler):
    """NSGA-II whose random numbers for slot k are seeded by (seed, k).

    Its first generation (and any parameter outside the common search space)
    is random search's point of the slot; crossover and mutation draw from a
    generator reseeded from (seed + 1, slot) before each trial, so a proposal
    depends only on the seed, the slot and the history, never on the worker.
    """

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self._base_seed = seed
        set_nsga_startup_sampler(self, SlotRandomSampler(seed))


class SlotNSGAIIISampler(_SlotReseeded, NSGAIIISampler):
    """NSGA-III (reference-point selection, for three or more objectives), seeded per slot as SlotNSGAIISampler."""

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self._base_seed = seed
        set_nsga_startup_sampler(self, SlotRandomSampler(seed))


def population_size(n_trials: int) -> int:
    """NSGA-II/III's generation size for a budget: a quarter of it, between 4 and Optuna's default 50.

    Optuna's 50 would make a study of 50 trials or fewer pure random search
    (its first generation is random); four generations at least make selection act.
    """
    return max(4, min(50, n_trials // 4))


class SlotQMCSampler(IndexedQMCSampler):
    """Scrambled Sobol: slot k gets point k of the seeded sequence, over the whole space.

    Optuna's QMCSampler samples its first trial at random and numbers points
    with a non-atomic counter in the study's system attrs (duplicates under
    parallel workers); here the search space is known up front and the index is
    the slot (hpsearch.storage's IndexedQMCSampler holds the private hook).
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

    def infer_relative_search_space(self, study, trial) -> dict:
        return dict(self._space)

    def sample_index(self, trial: optuna.trial.FrozenTrial) -> int:
        return int(trial.system_attrs.get(SLOT_ATTR, trial.number))


def make_sampler(spec: Spec, seed: int | None = None, *, worker: int = 0) -> tuple[optuna.samplers.BaseSampler, dict]:
    """(sampler, sampler_args) for ``spec.study.sampler``; seed defaults to the spec's.

    ``worker`` is accepted and ignored: every sampler's randomness is keyed by
    (seed, slot), so which worker runs a slot, and how many workers there are,
    never changes what the slot draws (a TPE seeded by seed + worker made its
    start-up draws, and its pairing with random search, depend on ``--jobs``).
    ``sampler_args`` holds every argument, Optuna's defaults included, and the
    Optuna version: Optuna 5.0 changed TPE's defaults.
    """
    from hpsearch.conditions import has_conditions
    from hpsearch.samplers import missing_dependency
    from hpsearch.space import distributions

    del worker  # see the docstring
    kind = spec.study.sampler
    seed = spec.study.seed if seed is None else int(seed)
    sampler: optuna.samplers.BaseSampler
    if kind == "grid":
        sampler, args = _grid_sampler(spec, seed)
    elif kind == "random":
        sampler = SlotRandomSampler(seed)
        args = {"seed": seed, "per_slot_seed": "SeedSequence([seed, slot])"}
    elif kind in ("tpe", "tpe-univariate"):
        given = {"multivariate": kind == "tpe", "constant_liar": True, "seed": seed}
        if kind == "tpe" and has_conditions(spec.space):
            given["group"] = True  # multivariate TPE over each set of parameters that exist together
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = SlotTPESampler(**given)
        args = _all_args(TPESampler, given) | {
            "rng_per_trial": "SeedSequence([seed + 1, slot])",
            "startup_trials": "random search's point of the slot",
        }
    elif kind == "cmaes":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = SlotCmaEsSampler(seed, warn_independent_sampling=False)
        args = _all_args(CmaEsSampler, {"seed": seed, "warn_independent_sampling": False}) | {
            "independent_sampler": "random search's point of the slot (first trial, categorical parameters)",
            "rng_per_trial": "SeedSequence([seed + 1, slot])",
        }
    elif kind == "gp":
        missing = missing_dependency(kind)
        if missing is not None:
            raise UserError(missing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = SlotGPSampler(seed, warn_independent_sampling=False)
        args = _all_args(GPSampler, {"seed": seed, "warn_independent_sampling": False}) | {
            "independent_sampler": "random search's point of the slot (start-up trials)",
            "rng_per_trial": "SeedSequence([seed + 1, slot])",
        }
    elif kind in ("nsga2", "nsga3"):
        cls = SlotNSGAIISampler if kind == "nsga2" else SlotNSGAIIISampler
        given = {"seed": seed, "population_size": population_size(spec.study.n_trials)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = cls(**given)
        args = _all_args(NSGAIISampler if kind == "nsga2" else NSGAIIISampler, given) | {
            "first_generation": "random search's point of the slot",
            "rng_per_trial": "SeedSequence([seed + 1, slot])",
            "constraints": "trial.set_constraint (feasible trials are preferred)",
        }
    elif kind == "qmc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = SlotQMCSampler(distributions(spec.space), seed)
        args = {"qmc_type": "sobol", "scramble": True, "seed": seed, "sample_id": "slot"}
    else:
        raise ValueError(f"unknown sampler {kind!r}; expected one of {SAMPLERS}")
    args["optuna_version"] = importlib.metadata.version("optuna")
    sampler._hpsearch_kind = kind  # type: ignore[union-attr]  # lets ask_trial tell our samplers from a plain Optuna one
    return sampler, args


def _grid_sampler(spec: Spec, seed: int) -> tuple[SlotGridSampler, dict]:
    """The grid sampler and its args, saying how the budget was split among the axes."""
    from hpsearch.space import axis_priority, grid_axes, grid_counts

    budget = spec.study.n_trials
    # the spare points go by axis_priority without a seed (the names' alphabetical order), so every
    # repeat of a comparison runs the same grid; grid_counts(..., seed=) offers a per-repeat choice
    sampler = SlotGridSampler(grid_axes(spec.space, budget), seed=seed, space=dict(spec.space))
    even = grid_counts(spec.space, budget)
    args = {
        "points_per_axis": sampler.points_per_axis,
        "seed": seed,
        "grid_size": sampler.grid_size,
        "points": "cell centres of each range (docs/science.md)",
        "split": (
            "every free axis the same share of the budget, categoricals then raised (most choices first), "
            "then one more point per numeric axis while the grid fits; where only some axes can have more, "
            "they are served in axis_priority order (the names sorted, never the spec's order)"
        ),
        "axis_priority": axis_priority(spec.space),
        "requested_points_per_axis": even,
        "order": "slot k = grid point GridOrder(grid_size, seed)(k): a seeded uniform permutation",
    }
    return sampler, args


def _reseed_for_slot(sampler: optuna.samplers.BaseSampler, seed: int, trial: optuna.trial.FrozenTrial) -> None:
    """Seed a sampler's random state from (seed, the trial's slot), so its draws for that slot
    never depend on the trial number or on which worker ran it."""
    slot = trial.system_attrs.get(SLOT_ATTR)
    if slot is not None:
        reseed_sampler(sampler, _slot_seed(seed, int(slot)))


def _slot_seed(seed: int, slot: int) -> int:
    return int(np.random.SeedSequence([seed, slot]).generate_state(1)[0])


def _all_args(cls: type, given: dict) -> dict:
    """Every constructor argument: the ones we pass plus Optuna's defaults, JSON-able."""
    out = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():  # type: ignore[misc]
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = given.get(name, p.default)
        if value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = repr(value)
    return out
