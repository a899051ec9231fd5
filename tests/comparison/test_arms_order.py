"""Compare's arm studies run interleaved by (seed, sampler): a partial run is already a fair comparison."""

from __future__ import annotations

import importlib

from hpsearch.comparison import arm_specs
from hpsearch.records import is_finished
from hpsearch.search import _workers, run_studies
from hpsearch.spec import spec_from_dict
from hpsearch.storage import open_storage

SAMPLERS = ["grid", "random", "tpe"]


def _base(objective: str, n_trials: int = 3) -> object:
    return spec_from_dict(
        {
            "study": {"name": "mix", "objective": objective, "direction": "maximize", "n_trials": n_trials, "seed": 7},
            "space": {"x0": {"type": "float", "low": 0.0, "high": 1.0}},
        },
        source="<test>",
    )


def test_arm_specs_interleave_samplers_within_each_seed():
    specs = arm_specs(_base("unused:placeholder"), SAMPLERS, 3)
    assert [s.study.name for s in specs] == [f"mix-{sampler}-s{seed}" for seed in (7, 8, 9) for sampler in SAMPLERS]
    assert [(s.study.sampler, s.study.seed) for s in specs[:4]] == [("grid", 7), ("random", 7), ("tpe", 7), ("grid", 8)]


def test_a_comparison_stopped_part_way_holds_whole_repeats_of_every_sampler(cheap_objectives, tmp_path, monkeypatch):
    """Stopped after 10 of 18 trials (3 samplers x 2 seeds x 3): the first 3 studies to finish are one of each."""
    noise = importlib.import_module(cheap_objectives).noise
    calls = [0]

    def counting(trial, params):
        calls[0] += 1
        return noise(trial, params)

    monkeypatch.setattr(importlib.import_module(cheap_objectives), "counting", counting, raising=False)
    monkeypatch.setattr(_workers, "clock", lambda: float(calls[0]))  # "seconds" = trials run: --timeout 10 = 10 trials
    specs = arm_specs(_base(f"{cheap_objectives}:counting"), SAMPLERS, 2)
    url = f"sqlite:///{tmp_path / 'p.db'}"
    run_studies(specs, url, timeout=10, progress=False)
    assert calls[0] == 10
    st = open_storage(url)
    done = {}
    for s in st.get_all_studies():
        trials = st.get_all_trials(s._study_id)
        done[s.study_name] = sum(map(is_finished, trials))
    complete = {name for name, n in done.items() if n == 3}
    assert len(complete) == 3 and {name.split("-")[1] for name in complete} == set(SAMPLERS)
    assert all(name.endswith("-s7") for name in complete)
