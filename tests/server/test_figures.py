"""The dashboard's best-so-far curves count budget the way the reports do."""

from __future__ import annotations

from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpsearch.server._figures import best_so_far, comparison_figure

_D = {"x": FloatDistribution(0, 1)}


def _trials(outcomes):
    trials = []
    for number, outcome in enumerate(outcomes):
        if outcome == "pruned":
            t = create_trial(state=TrialState.PRUNED, params={"x": 0.5}, distributions=_D)
        elif outcome == "diverged":
            t = create_trial(state=TrialState.FAIL, params={"x": 0.5}, distributions=_D, user_attrs={"diverged": True})
        elif outcome == "crashed":
            t = create_trial(state=TrialState.FAIL, params={"x": 0.5}, distributions=_D)
        else:
            t = create_trial(value=outcome, params={"x": 0.5}, distributions=_D)
        t.number = number
        trials.append(t)
    return trials


def test_pruned_and_diverged_trials_spend_budget_but_never_move_the_curve():
    trials = _trials(["pruned", 0.5, "diverged", "crashed", 0.4, 0.7])
    # finished count (crash excluded), trial number, best so far
    assert best_so_far(trials, maximize=True) == [(2, 1, 0.5), (3, 2, 0.5), (4, 4, 0.5), (5, 5, 0.7)]
    assert best_so_far(trials, maximize=False) == [(2, 1, 0.5), (3, 2, 0.5), (4, 4, 0.4), (5, 5, 0.4)]


def test_comparison_lines_are_drawn_against_finished_trials():
    fig = comparison_figure([("a", "grid", _trials(["pruned", "pruned", 0.9]))], maximize=True)
    assert fig["data"][0]["x"] == [3] and fig["data"][0]["y"] == [0.9]


def test_the_dashboards_comparison_curves_zoom_where_the_samplers_differ_as_the_report_does():
    from hpsearch.stats import focus_range

    early_miss = [0.1, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.95]  # an untrained first guess, then close values
    fig = comparison_figure(
        [("a", "grid", _trials(early_miss)), ("b", "random", _trials([0.2, 0.92, 0.96, 0.97, 0.97, 0.97, 0.97, 0.97]))],
        maximize=True,
    )
    low, high = fig["layout"]["yaxis"]["range"]
    assert 0.85 < low < 0.91 and 0.97 < high < 1.0  # not 0..1: the first trials' 0.1 and 0.2 are left out
    assert [low, high] == focus_range([trace["y"] for trace in fig["data"]])  # one rule for report and dashboard
