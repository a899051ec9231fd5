"""hpsearch.pick: choosing one trial of a Pareto front by conditions and one min/max goal."""

from __future__ import annotations

import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from hpsearch.errors import UserError
from hpsearch.pick import Condition, parse_pick, pick_trial


def _trial(number, accuracy, seconds, n_parameters):
    t = create_trial(
        values=[accuracy, seconds],
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0, 1)},
        user_attrs={"n_parameters": n_parameters},
    )
    t.number = number
    return t


FRONT = [_trial(0, 0.90, 1.0, 100), _trial(1, 0.95, 2.0, 500), _trial(2, 0.97, 5.0, 900), _trial(3, 0.97, 5.0, 50)]
NAMES = ["accuracy", "train_seconds"]


def test_parse_pick_reads_conditions_and_one_goal():
    pick = parse_pick(" accuracy >= 0.95 , n_params<1e3, min train_seconds ")
    assert pick.conditions == (Condition("accuracy", ">=", 0.95), Condition("n_params", "<", 1000.0))
    assert (pick.goal, pick.metric) == ("min", "train_seconds")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty pick"),
        ("accuracy>=0.9", "exactly 1"),
        ("min a, max b", "exactly 1"),
        ("accuracy>=high,min t", "expected a number"),
        ("accuracy>=inf,min t", "finite"),
        ("accuracy ~ 1,min t", "expected clauses"),
        ("minimum t", "expected clauses"),
    ],
)
def test_a_malformed_pick_says_what_was_expected(text, words):
    with pytest.raises(UserError, match=words):
        parse_pick(text)


def test_conditions_filter_then_the_goal_chooses_the_earliest_on_ties():
    assert pick_trial(FRONT, NAMES, parse_pick("accuracy>=0.95,min train_seconds")).number == 1
    assert pick_trial(FRONT, NAMES, parse_pick("max accuracy")).number == 2  # 2 and 3 tie: the earliest
    # a cost metric by its metric name (the MLP stores it as n_parameters)
    assert pick_trial(FRONT, NAMES, parse_pick("accuracy>=0.97,min n_params")).number == 3
    assert pick_trial(FRONT, NAMES, parse_pick("train_seconds<2,max accuracy")).number == 0


def test_an_unknown_metric_or_an_empty_choice_is_a_user_error():
    with pytest.raises(UserError, match="expected a metric of the front's trials .*got 'speed'"):
        pick_trial(FRONT, NAMES, parse_pick("min speed"))
    with pytest.raises(UserError, match="no trial of the front .* meets accuracy>=0.99"):
        pick_trial(FRONT, NAMES, parse_pick("accuracy>=0.99,min train_seconds"))
    with pytest.raises(UserError, match="no front"):
        pick_trial([], NAMES, parse_pick("min train_seconds"))
