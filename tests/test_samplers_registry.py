"""hpsearch.samplers: one entry per sampler, read by the spec, search, stats, comparison, report and CLI."""

from __future__ import annotations

import typing

from click.testing import CliRunner

from hpsearch import records, samplers, stats
from hpsearch.cli._report_cmds import compare
from hpsearch.report._compare_figures import color
from hpsearch.results import group_by_sampler
from hpsearch.search import SAMPLERS as SEARCH_SAMPLERS
from hpsearch.spec.models import StudySection


def test_every_layer_reads_the_same_names():
    assert set(samplers.REGISTRY) == set(samplers.SAMPLERS) == set(SEARCH_SAMPLERS)
    assert typing.get_args(typing.get_type_hints(StudySection)["sampler"]) == samplers.SAMPLERS
    help_text = " ".join(CliRunner().invoke(compare, ["--help"]).output.split())
    assert "(grid, random, tpe, qmc, tpe-univariate, cmaes, gp, nsga2, nsga3)" in help_text


def test_one_distinct_colour_each_and_the_report_uses_it():
    colours = [s.colour for s in samplers.REGISTRY.values()]
    assert len(set(colours)) == len(colours)
    assert all(color(name) == s.colour for name, s in samplers.REGISTRY.items())
    assert color("my-sampler", 0) not in colours  # an unknown name gets a spare colour


def test_pairing_rule_and_expected_max_flags():
    """Random and TPE share their seeded draws (pair); grid and QMC pair with nothing.
    The exact expected best of n applies to grid, random and QMC, not to TPE."""
    assert stats.shares_randomness("random", "tpe") and stats.shares_randomness("tpe", "random")
    for a in samplers.SAMPLERS:
        assert not stats.shares_randomness(a, a)
        for b in ("grid", "qmc"):
            assert not stats.shares_randomness(a, b)
    assert [n for n in samplers.SAMPLERS if samplers.is_exchangeable(n)] == ["grid", "random", "qmc"]
    assert not stats.shares_randomness("random", "unknown")


def test_display_order_baselines_first():
    class Arm:
        def __init__(self, sampler):
            self.sampler, self.seed, self.name = sampler, 0, sampler

    order = list(group_by_sampler([Arm(s) for s in ("zz", "tpe", "qmc", "random", "grid")]))
    assert order == ["grid", "random", "qmc", "tpe", "zz"]
    assert samplers.label("qmc") == "quasi-random (QMC) search" and samplers.label("zz") == "zz"
    assert records.sampler_of({"sampler": "tpe"}) == "tpe" and records.sampler_of({}) == "unknown"
