"""The run display: one overall bar (finished / budgets, best so far per arm, ETA) and the closing summary."""

from __future__ import annotations

import io

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from rich.console import Console

from hpsearch.cli._progress import (
    StudyProgress,
    best_text,
    comparison_summary_lines,
    eta_seconds,
    fmt_duration,
    overall,
    print_summary,
    summary_lines,
)
from hpsearch.records import SPEC_ATTR
from hpsearch.storage import study_overviews

X = {"x": FloatDistribution(0.0, 1.0)}


def spec_factory(*, name, sampler, n_trials, space=None):
    """A stored spec's dict as hpsearch writes it (an external objective: nothing to import)."""
    from hpsearch.spec import spec_from_dict

    study = {"name": name, "objective": "external", "direction": "maximize", "sampler": sampler, "n_trials": n_trials}
    return spec_from_dict({"study": study, "space": space or {"x": {"type": "float", "low": 0.0, "high": 1.0}}})


def _study(sqlite_storage, name, values, *, comparison=None, sampler=None, direction="maximize", extra=()):
    study = optuna.create_study(study_name=name, storage=sqlite_storage, direction=direction)
    if comparison is not None:
        study.set_user_attr("comparison", comparison)
        study.set_user_attr("sampler", sampler)
    for i, v in enumerate(values):
        study.add_trial(create_trial(params={"x": i / 10}, distributions=X, value=v))
    for t in extra:
        study.add_trial(t)
    return study


def test_eta_is_the_pace_so_far():
    assert eta_seconds(0, 10, 5.0) is None  # nothing finished: no pace yet
    assert eta_seconds(2, 10, 20.0) == pytest.approx(80.0)  # 10 s a trial, 8 to go
    assert eta_seconds(10, 10, 33.0) == 0.0
    # resumed with 6 already done: only the 2 finished since the start took the 20 s
    assert eta_seconds(8, 10, 20.0, done_at_start=6) == pytest.approx(20.0)
    assert eta_seconds(6, 10, 20.0, done_at_start=6) is None
    assert fmt_duration(None) == "-" and fmt_duration(65) == "1:05" and fmt_duration(3723) == "1:02:03"


def test_overall_counts_every_arm_and_best_per_sampler(sqlite_storage):
    _study(sqlite_storage, "c-grid-s0", [0.90, 0.95], comparison="c", sampler="grid")
    _study(sqlite_storage, "c-random-s0", [0.97], comparison="c", sampler="random")
    _study(sqlite_storage, "c-grid-s1", [0.961], comparison="c", sampler="grid")
    pruned = create_trial(params={"x": 0.5}, distributions=X, state=TrialState.PRUNED)
    _study(sqlite_storage, "c-tpe-s0", [], comparison="c", sampler="tpe", extra=[pruned])
    names = ["c-grid-s0", "c-random-s0", "c-tpe-s0", "c-grid-s1"]
    state = overall(sqlite_storage, names, [4, 4, 4, 4])
    assert (state.done, state.total) == (5, 16)  # 2 + 1 + 1 pruned + 1
    assert state.best == "grid 0.961 · random 0.97 · tpe -"  # arms in run order; best over repeats
    assert overall(sqlite_storage, ["c-tpe-s0"], [4]).best == "tpe -"  # one arm left to run: still named


def test_overall_caps_each_study_at_its_budget_and_one_study_shows_one_number(sqlite_storage):
    _study(sqlite_storage, "one", [0.1, 0.3, 0.2], direction="minimize")
    state = overall(sqlite_storage, ["one"], [2])
    assert (state.done, state.total, state.best) == (2, 2, "0.1")
    assert best_text(study_overviews(sqlite_storage, names=["none"])) == "-"


def test_the_bar_reads_the_database_and_its_eta_runs_on_the_injected_clock(sqlite_storage):
    a = _study(sqlite_storage, "c-grid-s0", [0.5], comparison="c", sampler="grid")
    b = _study(sqlite_storage, "c-tpe-s0", [], comparison="c", sampler="tpe")
    now = [100.0]
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with StudyProgress(
        sqlite_storage, [a.study_name, b.study_name], [3, 3], enabled=True, console=console, clock=lambda: now[0]
    ) as bar:
        assert bar.title() == "c"  # the comparison: one bar for all its studies
        assert (bar.state.done, bar.state.total) == (1, 6)
        task = bar._progress.tasks[0]
        assert task.fields["done_at_start"] == 1
        b.add_trial(create_trial(params={"x": 0.1}, distributions=X, value=0.8))
        now[0] += 0.1
        bar.refresh()  # too soon: not read again
        assert bar.state.done == 1
        now[0] += 10.0
        bar.refresh()
        assert bar.state.done == 2 and bar.state.best == "grid 0.5 · tpe 0.8"
        assert eta_seconds(int(task.completed), int(task.total), task.elapsed, 1) == pytest.approx(4 * 10.1)
    text = out.getvalue()
    assert len(text.splitlines()) == 1  # not a terminal: the bar is printed once, at the end
    assert text.startswith("c ") and "2/6" in text and "best grid 0.5 · tpe 0.8" in text
    assert text.rstrip().endswith("0:10 ETA 0:40")


def test_quiet_shows_nothing(sqlite_storage):
    a = _study(sqlite_storage, "q", [0.5])
    out = io.StringIO()
    with StudyProgress(sqlite_storage, [a.study_name], [3], enabled=False, console=Console(file=out)) as bar:
        bar.refresh(force=True)
    assert out.getvalue() == ""


def test_closing_summary_of_a_run(sqlite_storage):
    errored = create_trial(
        params={"x": 0.9}, distributions=X, state=TrialState.FAIL, user_attrs={"error": "ValueError: too\nbig"}
    )
    _study(sqlite_storage, "demo", [0.25, 0.75], extra=[errored])
    lines = summary_lines(sqlite_storage, "demo", 12.34)
    assert lines[0] == "study demo: 3 finished trials in 12.3 s"
    assert lines[1] == "  by state: complete 2, failed 1"
    assert lines[2] == "  last error: #2: ValueError: too big"
    assert lines[3] == "  best trial: #1: 0.75"
    assert lines[4] == "    x = 0.1"
    assert not any("hpsearch report" in line for line in lines)  # the library never writes command lines
    out = io.StringIO()
    print_summary(Console(file=out, width=200), sqlite_storage, ["demo"], 12.34)
    assert out.getvalue().splitlines() == lines


def test_closing_summary_of_many_studies_is_one_line_and_of_a_comparison_none(sqlite_storage):
    a = _study(sqlite_storage, "a", [0.5, 0.6])
    b = _study(sqlite_storage, "b", [0.7])
    out = io.StringIO()
    print_summary(Console(file=out, width=200), sqlite_storage, [a.study_name, b.study_name], 5.0)
    assert out.getvalue().splitlines() == ["2 studies: 3 finished trials in 5.0 s"]
    arms = [_study(sqlite_storage, f"c-{s}-s0", [0.5], comparison="c", sampler=s) for s in ("grid", "tpe")]
    out = io.StringIO()
    print_summary(Console(file=out, width=200), sqlite_storage, [a.study_name for a in arms], 5.0)
    assert out.getvalue() == ""  # compare prints one table of its arms itself


def test_comparison_summary_is_one_table_of_arms(sqlite_storage):
    import datetime as dt

    def timed(value, seconds):
        start = dt.datetime(2026, 1, 1)
        return optuna.trial.FrozenTrial(
            number=0,
            state=TrialState.COMPLETE,
            value=value,
            datetime_start=start,
            datetime_complete=start + dt.timedelta(seconds=seconds),
            params={"x": 0.5},
            distributions=X,
            user_attrs={},
            system_attrs={},
            intermediate_values={},
            trial_id=0,
        )

    for sampler, seed, values in [
        ("tpe", 0, [0.9, 0.97]),
        ("grid", 0, [0.9, 0.96]),
        ("grid", 1, [0.95, 0.94]),
        ("tpe", 1, [0.98]),  # budget 2, one finished: not a whole repeat yet
    ]:
        study = _study(sqlite_storage, f"c-{sampler}-s{seed}", [], comparison="c", sampler=sampler)
        spec = spec_factory(name=study.study_name, sampler="random", n_trials=2)
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        for v in values:
            study.add_trial(timed(v, 1.5))
    lines = comparison_summary_lines(sqlite_storage, "c", 42.0)
    assert lines == [
        "comparison c: best value per repeat, median over repeats",
        "  arm   median best  repeats done  seconds",
        "  grid  0.955        2/2           6.0",
        "  tpe   0.975        1/2           4.5",
        "  wall time 42.0 s (seconds: the arm's trials, summed)",
    ]
    assert comparison_summary_lines(sqlite_storage, "nope", 1.0) == []


def test_a_grid_arm_that_ran_its_whole_grid_is_done(sqlite_storage):
    """The grid caps a grid arm's budget below n_trials: 16 points of a 64-trial budget fill the repeat
    (``compare studies/quickstart.toml --seeds 2`` used to print ``grid 0/2 repeats done``)."""
    space = {"x": {"type": "float", "low": 0.0, "high": 2.0, "grid": [i / 10 for i in range(16)]}}
    for seed in (0, 1):
        study = _study(sqlite_storage, f"q-grid-s{seed}", [], comparison="q", sampler="grid")
        for i in range(16):
            study.add_trial(create_trial(params={"x": i / 20}, distributions=X, value=0.5))
        spec = spec_factory(name=study.study_name, sampler="grid", n_trials=64, space=space)
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
    (row,) = [line for line in comparison_summary_lines(sqlite_storage, "q", 1.0) if line.startswith("  grid")]
    assert row.split()[2] == "2/2"


def test_library_messages_get_the_command_lines_words_only_where_they_name_a_setting():
    from hpsearch.cli._common import cli_words

    assert cli_words("n_trials 8 would lower it; leave out n_trials to finish") == (
        "--n-trials 8 would lower it; leave out --n-trials to finish"
    )
    assert cli_words("max_failures: expected a whole number") == "--max-failures: expected a whole number"
    assert cli_words("x.toml: study.n_trials: expected") == "x.toml: study.n_trials: expected"  # a spec key
    assert cli_words("with 2 training seeds each") == "with 2 training seeds each"  # prose, not a setting


def test_a_comparison_with_several_objectives_has_no_median_best_column(sqlite_storage):
    for sampler in ("random", "nsga2"):
        study = optuna.create_study(
            study_name=f"m-{sampler}-s0", storage=sqlite_storage, directions=["maximize", "minimize"]
        )
        study.set_user_attr("comparison", "m")
        study.set_user_attr("sampler", sampler)
        for i in range(3):
            study.add_trial(create_trial(params={"x": i / 10}, distributions=X, values=[0.9 - i / 10, 1.0 + i]))
    title, header, *rows, wall = comparison_summary_lines(sqlite_storage, "m", 3.0)
    assert "hypervolume" in title and header.split() == ["arm", "repeats", "done", "seconds"]
    assert [r.split()[0] for r in rows] == ["random", "nsga2"] and "-" not in " ".join(rows)
    assert wall.startswith("  wall time 3.0 s")


def test_the_bar_of_a_study_with_several_objectives_says_why_it_has_no_best(sqlite_storage):
    from hpsearch.cli._progress import best_text
    from hpsearch.storage import study_overviews

    study = optuna.create_study(study_name="two", storage=sqlite_storage, directions=["maximize", "minimize"])
    study.add_trial(create_trial(params={"x": 0.1}, distributions=X, values=[0.9, 1.0]))
    assert best_text(study_overviews(sqlite_storage, names=["two"])) == "- (several objectives)"


def test_a_costly_read_makes_the_bar_wait_longer_before_the_next(sqlite_storage, monkeypatch):
    """A read that took 0.2 s of the injected clock is followed by 20 x 0.2 = 4 s without reads, so
    the bar over many studies never takes the cores from the trials it shows."""
    import hpsearch.cli._progress as progress

    a = _study(sqlite_storage, "c-grid-s0", [0.5], comparison="c", sampler="grid")
    now = [100.0]
    reads = []
    real = progress.overall

    def slow_overall(*args, **kwargs):
        reads.append(now[0])
        now[0] += 0.2
        return real(*args, **kwargs)

    monkeypatch.setattr(progress, "overall", slow_overall)
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    with StudyProgress(sqlite_storage, [a.study_name], [3], enabled=True, console=console, clock=lambda: now[0]) as bar:
        assert reads == [100.0]  # the first state, read on entering
        now[0] = 101.0
        bar.refresh()  # 0.8 s after the read ended: past REFRESH_SECONDS, a cheap read would run now
        assert reads == [100.0, 101.0]
        for t in (101.5, 102.0, 104.0, 105.1):  # the read ended at 101.2: nothing before 105.2
            now[0] = t
            bar.refresh()
        assert reads == [100.0, 101.0]
        now[0] = 105.25
        bar.refresh()
        assert reads == [100.0, 101.0, 105.25]
        now[0] = 105.5
        bar.refresh(force=True)  # forced (the end of a run): always read
        assert reads[-1] == 105.5
