"""Grading by the blueprint's rules (DOMAIN.md): all-or-nothing by default, the partial rule."""

from __future__ import annotations

import pytest

from examserver.grading import KeyedItem, grade_attempt

ITEMS = [
    KeyedItem(1, "judge", ("T",), 1),
    KeyedItem(2, "single", ("o2",), 1),
    KeyedItem(3, "multi", ("o1", "o3", "o4"), 2),
]


def test_all_correct_scores_full_marks() -> None:
    result = grade_attempt(ITEMS, {1: ["T"], 2: ["o2"], 3: ["o4", "o1", "o3"]}, pass_score=3)
    assert (result.score, result.max_score, result.passed) == (4, 4, True)
    assert all(item.correct for item in result.items)


def test_unanswered_and_wrong_answers_score_nothing() -> None:
    result = grade_attempt(ITEMS, {1: ["F"], 2: []}, pass_score=1)
    assert result.score == 0 and not result.passed


@pytest.mark.parametrize(
    ("choice", "all_or_nothing", "partial"),
    [
        (["o1", "o3", "o4"], 2, 2),
        (["o1", "o3"], 0, 1.0),
        (["o1"], 0, 0.5),
        (["o1", "o2"], 0, 0),  # a wrong option scores nothing under both rules
        ([], 0, 0),
        (["o1", "o2", "o3", "o4"], 0, 0),
    ],
)
def test_multi_response_rules(choice, all_or_nothing, partial) -> None:
    strict = grade_attempt(ITEMS[2:], {3: choice}, pass_score=2)
    lenient = grade_attempt(ITEMS[2:], {3: choice}, pass_score=2, multi_rule="partial")
    assert strict.score == all_or_nothing
    assert lenient.score == partial


def test_pass_mark_is_inclusive() -> None:
    items = [KeyedItem(i, "judge", ("T",), 1) for i in range(100)]
    responses = {i: ["T"] if i < 80 else ["F"] for i in range(100)}
    assert grade_attempt(items, responses, pass_score=80).passed
    responses[0] = ["F"]
    assert not grade_attempt(items, responses, pass_score=80).passed
