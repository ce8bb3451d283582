"""Forms of the question-bank pages: the bank form, and the question editor's posted fields."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from examserver.question_bank.operations import TOPIC_SEPARATOR
from examserver.question_bank.types import (
    LETTERS,
    Judge,
    Problem,
    QuestionContent,
    new_option_key,
    type_names,
)

BANK_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ROWS = 20  # more rows than any type allows; beyond this the post is not an editor's
MAX_RICH = 50_000
MAX_OPTION = 10_000
MAX_TOPIC_NAME = 200
MAX_TOPIC_DEPTH = 12


class BankForm(FlaskForm):
    """A bank's identity and where it belongs: industry, personnel category, job type."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(BANK_CODE, message=_l("1 to 64 letters, digits, _ or -.")),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    industry = StringField(_l("Industry"), validators=[Length(max=100)])
    category = StringField(_l("Personnel category"), validators=[Length(max=100)])
    job_type = StringField(_l("Job type"), validators=[Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])


def check_topic_name(raw: str) -> tuple[str, str | None]:
    """Return a knowledge point name stripped, and a problem message or None."""
    name = " ".join((raw or "").split())
    if not name:
        return name, _("The name is empty.")
    if len(name) > MAX_TOPIC_NAME:
        return name, _("The name is too long (at most %(n)s characters).", n=MAX_TOPIC_NAME)
    if TOPIC_SEPARATOR in name:
        return name, _("A name cannot contain “%(sep)s”.", sep=TOPIC_SEPARATOR)
    return name, None


@dataclass
class EditorEntry:
    """What the question editor posted, parsed; ``problems`` lists what is wrong with it."""

    bank_id: int | None
    type: str
    stem: str
    option_keys: list[str]
    option_texts: list[str]
    correct: list[int]
    topic_id: int | None
    topic_path: str
    difficulty: int | None
    explanation: str
    confirm_duplicate: bool
    problems: list[Problem] = field(default_factory=list)

    def content(self) -> QuestionContent:
        """Return the question content the entry describes (not yet normalized)."""
        options = [
            {"key": k, "text": t} for k, t in zip(self.option_keys, self.option_texts, strict=True)
        ]
        answer = [self.option_keys[i] for i in self.correct if 0 <= i < len(self.option_keys)]
        return QuestionContent(
            type=self.type,
            stem=self.stem,
            options=options,
            answer=answer,
            explanation=self.explanation,
            difficulty=self.difficulty if self.difficulty is not None else 0,
        )

    def rows(self) -> list[dict[str, object]]:
        """Return the option rows to show again in the editor."""
        return [
            {"key": k, "text": t, "correct": i in self.correct, "letter": _letter(i)}
            for i, (k, t) in enumerate(zip(self.option_keys, self.option_texts, strict=True))
        ]


def _letter(i: int) -> str:
    return LETTERS[i] if i < len(LETTERS) else str(i + 1)


def _optional_int(raw: str | None) -> int | None | str:
    raw = (raw or "").strip()
    if raw == "":
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 12:
        return int(raw)
    return raw


def parse_editor(
    form: MultiDict[str, str], existing_keys: Sequence[str] = (), fixed_bank_id: int | None = None
) -> EditorEntry:
    """Read the editor's fields; keep known option keys, give new rows fresh ones."""
    problems: list[Problem] = []
    bank_raw = _optional_int(form.get("bank_id")) if fixed_bank_id is None else fixed_bank_id
    bank_id: int | None = bank_raw if isinstance(bank_raw, int) else None
    if bank_id is None:
        problems.append(Problem("bank", "bad_bank", _("Choose a bank.")))
    qtype = (form.get("type") or "").strip()
    if qtype not in type_names():
        problems.append(Problem("type", "unknown_type", _("Choose a question type.")))
    stem = form.get("stem") or ""
    if len(stem) > MAX_RICH:
        problems.append(Problem("stem", "too_long", _("The stem is too long.")))
        stem = stem[:MAX_RICH]
    explanation = form.get("explanation") or ""
    if len(explanation) > MAX_RICH:
        problems.append(Problem("explanation", "too_long", _("The explanation is too long.")))
        explanation = explanation[:MAX_RICH]

    keys = [k.strip() for k in form.getlist("option_key")]
    texts = form.getlist("option_text")
    if len(keys) != len(texts):
        keys = (keys + [""] * len(texts))[: len(texts)]
    if len(texts) > MAX_ROWS:
        problems.append(Problem("options", "too_many_options", _("Too many options.")))
        keys, texts = keys[:MAX_ROWS], texts[:MAX_ROWS]
    for i, text in enumerate(texts):
        if len(text) > MAX_OPTION:
            problems.append(Problem(f"option {_letter(i)}", "too_long", _("Too long.")))
            texts[i] = text[:MAX_OPTION]
    if qtype == Judge.name:
        keys, texts = _judge_rows(keys, texts)
    else:
        keys = _stable_keys(keys, existing_keys)

    correct: list[int] = []
    for raw in form.getlist("correct"):
        value = _optional_int(raw)
        if isinstance(value, int) and value < len(keys) and value not in correct:
            correct.append(value)
        else:
            problems.append(Problem("answer", "unknown_option", _("A marked answer is unknown.")))
    correct.sort()

    topic_raw = _optional_int(form.get("topic_id"))
    topic_id = topic_raw if isinstance(topic_raw, int) else None
    if isinstance(topic_raw, str):
        problems.append(Problem("topic", "bad_topic", _("Choose a knowledge point.")))
    topic_path = (form.get("topic_path") or "").strip()
    if topic_path:
        parts = [p for p in topic_path.split(TOPIC_SEPARATOR) if p.strip()]
        if len(parts) > MAX_TOPIC_DEPTH:
            problems.append(Problem("topic", "bad_topic", _("The path is too deep.")))
        for part in parts:
            _name, message = check_topic_name(part)
            if message:
                problems.append(Problem("topic", "bad_topic", message))
                break

    difficulty_raw = _optional_int(form.get("difficulty"))
    difficulty = difficulty_raw if isinstance(difficulty_raw, int) else None
    if difficulty is None or not 1 <= difficulty <= 5:
        problems.append(
            Problem("difficulty", "bad_difficulty", _("The difficulty must be 1 to 5."))
        )
    return EditorEntry(
        bank_id=bank_id,
        type=qtype,
        stem=stem,
        option_keys=keys,
        option_texts=texts,
        correct=correct,
        topic_id=topic_id,
        topic_path=topic_path,
        difficulty=difficulty,
        explanation=explanation,
        confirm_duplicate=form.get("confirm_duplicate") in ("1", "on", "yes", "true"),
        problems=problems,
    )


def _judge_rows(keys: list[str], texts: list[str]) -> tuple[list[str], list[str]]:
    """A true/false question always has the rows T and F; their texts may be edited."""
    defaults = Judge.default_options()
    if keys == ["T", "F"] and all(t.strip() for t in texts):
        return keys, texts
    return [o["key"] for o in defaults], [o["text"] for o in defaults]


def _stable_keys(keys: list[str], existing_keys: Sequence[str]) -> list[str]:
    """Keep a posted key only if the question already had it; the rest get fresh keys."""
    known = {k for k in existing_keys if k not in ("T", "F")}
    result: list[str] = []
    for key in keys:
        result.append(key if key in known and key not in result else "")
    for i, key in enumerate(result):
        if not key:
            result[i] = new_option_key([k for k in result if k] + list(known))
    return result


# Translated messages for the problems the question types report (their own are English).
def problem_message(problem: Problem) -> str:
    """Return the message of ``problem`` in the UI language."""
    messages = {
        "empty_stem": _("The stem is empty."),
        "unknown_option": _("A marked answer is not one of the options."),
        "too_few_answers": _("Mark more correct options."),
        "too_many_answers": _("Too many correct options are marked."),
        "bad_difficulty": _("The difficulty must be 1 to 5."),
        "bad_key": _("This option has a bad key."),
        "duplicate_key": _("This option's key is repeated."),
        "empty_option": _("The option is empty."),
        "too_few_options": _("Add more options."),
        "too_many_options": _("Too many options."),
        "unknown_type": _("Choose a question type."),
        "type_change_used": _("A question a paper has used cannot change its type."),
        "topic_elsewhere": _("The knowledge point belongs to another bank."),
    }
    return str(messages.get(problem.code, problem.message))


def problems_by_field(problems: Sequence[Problem]) -> dict[str, list[str]]:
    """Group problems by the editor field they belong to (``option 2`` for the third row)."""
    result: dict[str, list[str]] = {}
    for problem in problems:
        key = problem.field
        if key.startswith("option "):
            letter = key[len("option ") :]
            index = LETTERS.find(letter) if len(letter) == 1 else -1
            key = f"option {index}" if index >= 0 else "options"
        message = problem_message(problem)
        result.setdefault(key, [])
        if message not in result[key]:
            result[key].append(message)
    return result
