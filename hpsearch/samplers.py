"""The samplers hpsearch knows: one entry each, read by the spec, search, comparison, reports,
the dashboard and the CLI's help.

Imports nothing from hpsearch, so every layer (hpsearch.stats included) may read it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal, get_args

SamplerName = Literal["grid", "random", "tpe", "qmc", "tpe-univariate", "cmaes", "gp", "nsga2", "nsga3"]

#: Every sampler name, in the order the CLI and the spec's messages list them.
SAMPLERS: tuple[str, ...] = get_args(SamplerName)


@dataclass(frozen=True)
class Sampler:
    """What the rest of hpsearch needs to know about one sampler."""

    name: str
    label: str  # how reports name it in prose: "grid search"
    colour: str  # its colour in every figure (reports and dashboard)
    #: Its first n trials are a uniform draw without replacement from one fixed population, so
    #: the exact expected best of n applies (random and QMC draw independently; a grid runs in a
    #: seeded shuffle of its points). TPE's trials depend on the earlier ones: False.
    exchangeable: bool
    #: Repeats with the same seed share random draws with the other samplers marked so: TPE's
    #: start-up trials are random search's points when both are seeded alike (and the trials'
    #: training seeds match). A grid's seeded shuffle and QMC's scrambled sequence share nothing
    #: with them. Two arms' repeats pair by seed only when both are marked (hpsearch.stats).
    shares_randomness: bool
    #: Modules it needs beyond hpsearch's own dependencies, with the package that provides each:
    #: a spec naming it is refused, with this in the message, where one is missing.
    requires: tuple[tuple[str, str], ...] = ()
    #: It searches several objectives at once (a Pareto front): a spec with ``objectives`` may name it.
    multi_objective: bool = True


REGISTRY: dict[str, Sampler] = {
    s.name: s
    for s in (
        Sampler("grid", "grid search", "#d62728", exchangeable=True, shares_randomness=False),
        Sampler("random", "random search", "#1f77b4", exchangeable=True, shares_randomness=True),
        Sampler("qmc", "quasi-random (QMC) search", "#17becf", exchangeable=True, shares_randomness=False),
        Sampler("cmaes", "CMA-ES", "#ff7f0e", exchangeable=False, shares_randomness=False, multi_objective=False),
        # the GP's first 10 trials are random search's points of those slots, as TPE's
        Sampler(
            "gp",
            "Gaussian-process BO",
            "#7b4173",
            exchangeable=False,
            shares_randomness=True,
            requires=(("torch", "torch"),),
            multi_objective=False,
        ),
        # the genetic algorithms: a first generation at random, then selection by Pareto rank
        Sampler("nsga2", "NSGA-II", "#e6550d", exchangeable=False, shares_randomness=False),
        Sampler("nsga3", "NSGA-III", "#9c9ede", exchangeable=False, shares_randomness=False),
        Sampler("tpe-univariate", "univariate TPE", "#98df8a", exchangeable=False, shares_randomness=True),
        Sampler("tpe", "TPE", "#2ca02c", exchangeable=False, shares_randomness=True),
    )
}
assert set(REGISTRY) == set(SAMPLERS), "every SamplerName needs a REGISTRY entry"

#: The order reports and verdicts list samplers in: the baselines first, the model-based ones after, TPE last.
DISPLAY_ORDER: tuple[str, ...] = tuple(REGISTRY)

#: Colours for names outside the registry (a study whose sampler hpsearch did not set).
OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def missing_dependency(name: str) -> str | None:
    """Why sampler ``name`` cannot run here ("needs PyTorch ..."), or None when it can.

    Looked up without importing (importing torch takes seconds), so checking a spec stays fast.
    """
    known = REGISTRY.get(name)
    for module, package in known.requires if known is not None else ():
        if importlib.util.find_spec(module) is None:
            return f"sampler {name!r} needs the {package!r} package, which is not installed: pip install {package}"
    return None


def handles_several_objectives(name: str) -> bool:
    """Whether sampler ``name`` can search a study with several objectives."""
    known = REGISTRY.get(name)
    return known is not None and known.multi_objective


def multi_objective_samplers() -> list[str]:
    """The sampler names a spec with several objectives may use, in the registry's order."""
    return [s.name for s in REGISTRY.values() if s.multi_objective]


def colour(name: str, i: int = 0) -> str:
    """The sampler's colour; an unknown name gets the i-th spare colour."""
    known = REGISTRY.get(name)
    return known.colour if known is not None else OTHER_COLOURS[i % len(OTHER_COLOURS)]


def label(name: str) -> str:
    """The sampler's name in prose ("grid search"); an unknown name as given."""
    known = REGISTRY.get(name)
    return known.label if known is not None else name


def is_exchangeable(name: str) -> bool:
    """Whether the exact expected best of n applies to the sampler's trials (see Sampler)."""
    known = REGISTRY.get(name)
    return known is not None and known.exchangeable


def shares_randomness(a: str, b: str) -> bool:
    """Whether repeats of two different samplers with the same seed share random draws (may pair)."""
    ka, kb = REGISTRY.get(a), REGISTRY.get(b)
    return a != b and ka is not None and kb is not None and ka.shares_randomness and kb.shares_randomness


def display_key(name: str) -> tuple[int, str]:
    """Sort key: registry order, then any other name alphabetically."""
    return (DISPLAY_ORDER.index(name) if name in DISPLAY_ORDER else len(DISPLAY_ORDER), name)
