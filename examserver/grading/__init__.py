"""Grading an attempt by its blueprint's rules: plain Python, no Flask, no database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from examserver.question_bank.types import get_type


@dataclass(frozen=True)
class KeyedItem:
    """One question of a paper with its answer key: the grader's view, never a candidate's."""

    item_id: int
    type: str
    answer: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class GradedItem:
    item_id: int
    earned: float
    points: float

    @property
    def correct(self) -> bool:
        return self.earned >= self.points > 0


@dataclass(frozen=True)
class Result:
    score: float
    max_score: float
    passed: bool
    items: tuple[GradedItem, ...]


def grade_attempt(
    items: Sequence[KeyedItem],
    responses: Mapping[int, Sequence[str]],
    pass_score: float,
    multi_rule: str = "all_or_nothing",
) -> Result:
    """Score every item by its type's rule; an unanswered item earns nothing."""
    graded = []
    for item in items:
        response = list(responses.get(item.item_id, ()))
        earned = get_type(item.type).grade(item.answer, response, item.points, multi_rule)
        graded.append(GradedItem(item.item_id, round(earned, 2), float(item.points)))
    score = round(sum(g.earned for g in graded), 2)
    max_score = round(sum(g.points for g in graded), 2)
    return Result(score, max_score, score >= pass_score, tuple(graded))
