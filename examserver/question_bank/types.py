"""Question types as a registry of classes: one class per type, a new type is one class.

Each type validates its own content and answer key, prepares what a candidate sees (which by
construction holds no key), and grades a response. Plain Python: no Flask, no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from examserver.question_bank.richtext import plain_text, sanitize_html

OPTION_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,31}$")
LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a question's content: which field, a stable code, a message."""

    field: str
    code: str
    message: str


class InvalidQuestion(ValueError):
    """The content of a question breaks its type's rules."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = list(problems)


@dataclass
class QuestionContent:
    """What an author writes: a type, a stem, options, an answer key, an explanation."""

    type: str
    stem: str
    options: list[dict[str, str]] = field(default_factory=list)  # [{key, text}]
    answer: list[str] = field(default_factory=list)  # option keys
    explanation: str = ""
    difficulty: int = 3


@dataclass(frozen=True)
class CandidateQuestion:
    """A question as a candidate's terminal receives it: no answer key, no explanation."""

    id: int
    type: str
    stem: str
    options: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "stem": self.stem, "options": self.options}


class QuestionType:
    """Base class of the question types; subclasses register themselves by ``name``."""

    name: ClassVar[str]
    min_options: ClassVar[int] = 2
    max_options: ClassVar[int] = 8
    min_answers: ClassVar[int] = 1
    max_answers: ClassVar[int] = 1

    registry: ClassVar[dict[str, type[QuestionType]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            QuestionType.registry[cls.name] = cls

    # -- authoring ---------------------------------------------------------------
    @classmethod
    def default_options(cls) -> list[dict[str, str]]:
        return []

    @classmethod
    def normalize(cls, content: QuestionContent) -> QuestionContent:
        """Return sanitized, checked content, or raise InvalidQuestion listing every problem."""
        problems: list[Problem] = []
        stem = sanitize_html(content.stem)
        if not plain_text(stem) and "<img" not in stem:
            problems.append(Problem("stem", "empty_stem", "the stem is empty"))
        options = cls._normalize_options(content.options, problems)
        keys = [o["key"] for o in options]
        answer: list[str] = []
        for key in content.answer:
            if key not in keys:
                problems.append(
                    Problem("answer", "unknown_option", f"answer {key!r} is not an option")
                )
            elif key not in answer:
                answer.append(key)
        answer.sort(key=keys.index)
        if not problems:
            if len(answer) < cls.min_answers:
                problems.append(
                    Problem(
                        "answer",
                        "too_few_answers",
                        f"needs at least {cls.min_answers} correct option(s)",
                    )
                )
            elif len(answer) > cls.max_answers:
                problems.append(
                    Problem(
                        "answer",
                        "too_many_answers",
                        f"allows at most {cls.max_answers} correct option(s)",
                    )
                )
        if not isinstance(content.difficulty, int) or not 1 <= content.difficulty <= 5:
            problems.append(Problem("difficulty", "bad_difficulty", "difficulty must be 1 to 5"))
        if problems:
            raise InvalidQuestion(problems)
        return QuestionContent(
            type=cls.name,
            stem=stem,
            options=options,
            answer=answer,
            explanation=sanitize_html(content.explanation),
            difficulty=content.difficulty,
        )

    @classmethod
    def _normalize_options(
        cls, options: Sequence[dict[str, str]], problems: list[Problem]
    ) -> list[dict[str, str]]:
        result: list[dict[str, str]] = []
        seen: set[str] = set()
        for i, option in enumerate(options):
            key = str(option.get("key") or "")
            text = sanitize_html(str(option.get("text") or ""))
            label = LETTERS[i] if i < len(LETTERS) else str(i + 1)
            if not OPTION_KEY.match(key):
                problems.append(Problem(f"option {label}", "bad_key", f"bad option key {key!r}"))
                continue
            if key in seen:
                problems.append(Problem(f"option {label}", "duplicate_key", "repeated option key"))
                continue
            if not plain_text(text) and "<img" not in text:
                problems.append(Problem(f"option {label}", "empty_option", "the option is empty"))
                continue
            seen.add(key)
            result.append({"key": key, "text": text})
        if not problems:
            if len(result) < cls.min_options:
                problems.append(
                    Problem("options", "too_few_options", f"needs at least {cls.min_options}")
                )
            elif len(result) > cls.max_options:
                problems.append(
                    Problem("options", "too_many_options", f"allows at most {cls.max_options}")
                )
        return result

    # -- delivery ----------------------------------------------------------------
    @classmethod
    def candidate_view(
        cls,
        version_id: int,
        stem: str,
        options: Sequence[dict[str, str]],
        option_order: Sequence[str] | None = None,
    ) -> CandidateQuestion:
        """What a candidate sees: stem and options in the paper's order, never the key."""
        by_key = {o["key"]: o["text"] for o in options}
        order = list(option_order) if option_order else [o["key"] for o in options]
        return CandidateQuestion(
            id=version_id,
            type=cls.name,
            stem=stem,
            options=[{"key": k, "text": by_key[k]} for k in order if k in by_key],
        )

    @classmethod
    def validate_response(cls, response: Sequence[str], option_keys: Sequence[str]) -> bool:
        """Return whether ``response`` is a possible choice for this question."""
        if len(set(response)) != len(response):
            return False
        if any(k not in option_keys for k in response):
            return False
        return len(response) <= (cls.max_answers if cls.max_answers > 1 else 1)

    # -- grading -----------------------------------------------------------------
    @classmethod
    def grade(
        cls, answer: Sequence[str], response: Sequence[str], points: float, rule: str = ""
    ) -> float:
        """Return the points earned by ``response`` against ``answer``."""
        return float(points) if response and set(response) == set(answer) else 0.0

    @classmethod
    def shuffles_options(cls) -> bool:
        return True


class Judge(QuestionType):
    """判断题: a statement that is true or false; options T (正确) and F (错误), never shuffled."""

    name = "judge"
    min_options = max_options = 2

    @classmethod
    def default_options(cls) -> list[dict[str, str]]:
        return [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]

    @classmethod
    def normalize(cls, content: QuestionContent) -> QuestionContent:
        keys = [o.get("key") for o in content.options]
        if keys != ["T", "F"]:
            content = QuestionContent(
                type=content.type,
                stem=content.stem,
                options=cls.default_options(),
                answer=content.answer,
                explanation=content.explanation,
                difficulty=content.difficulty,
            )
        return super().normalize(content)

    @classmethod
    def shuffles_options(cls) -> bool:
        return False


class Single(QuestionType):
    """单选题: one correct option among two to eight."""

    name = "single"


class Multi(QuestionType):
    """多选题: two or more correct options among three to eight."""

    name = "multi"
    min_options = 3
    min_answers = 2
    max_answers = 8

    @classmethod
    def grade(
        cls, answer: Sequence[str], response: Sequence[str], points: float, rule: str = ""
    ) -> float:
        chosen, correct = set(response), set(answer)
        if not chosen:
            return 0.0
        if rule == "partial":
            if chosen - correct:
                return 0.0
            if chosen == correct:
                return float(points)
            return min(float(points), PARTIAL_POINTS_PER_OPTION * len(chosen))
        return float(points) if chosen == correct else 0.0


# The partial rule of the registered-safety-engineer exam (DOMAIN.md): 0.5 per correct option.
PARTIAL_POINTS_PER_OPTION = 0.5


def get_type(name: str) -> type[QuestionType]:
    """Return the class of question type ``name``; KeyError if there is none."""
    return QuestionType.registry[name]


def type_names() -> list[str]:
    return list(QuestionType.registry)


def new_option_key(existing: Sequence[str]) -> str:
    """Return a fresh stable option key not in ``existing``: o1, o2, ..."""
    n = 1
    taken = set(existing)
    while f"o{n}" in taken:
        n += 1
    return f"o{n}"
