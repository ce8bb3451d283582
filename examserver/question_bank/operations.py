"""Question-bank services shared by the admin pages, the importers, the CLI and the demo.

Services flush and never commit: the caller (a request, a CLI command) owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from examserver.db import utcnow
from examserver.question_bank.models import Bank, Question, QuestionStatus, QuestionVersion, Topic
from examserver.question_bank.richtext import normalized_stem_key, plain_text
from examserver.question_bank.types import InvalidQuestion, Problem, QuestionContent, get_type

TOPIC_SEPARATOR = "/"


class BankError(ValueError):
    """A refused bank operation, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def get_bank(session: Session, code: str) -> Bank | None:
    return session.scalar(select(Bank).where(Bank.code == code))


def get_or_create_bank(session: Session, code: str, name: str | None = None, **fields: str) -> Bank:
    """Return the bank with ``code``, creating it (named ``name`` or its code) if missing."""
    bank = get_bank(session, code)
    if bank is None:
        bank = Bank(code=code, name=name or code, **fields)
        session.add(bank)
        session.flush()
    return bank


def topic_path(topic: Topic | None) -> str:
    """Return a knowledge point's path from the root, e.g. ``法律法规/安全生产法``."""
    parts: list[str] = []
    while topic is not None:
        parts.append(topic.name)
        topic = topic.parent
    return TOPIC_SEPARATOR.join(reversed(parts))


def find_topic(session: Session, bank: Bank, path: str) -> Topic | None:
    """Return the knowledge point at ``path`` in ``bank``, or None."""
    parent_id: int | None = None
    topic: Topic | None = None
    for name in _split_path(path):
        topic = session.scalar(
            select(Topic).where(
                Topic.bank_id == bank.id,
                Topic.name == name,
                Topic.parent_id.is_(None) if parent_id is None else Topic.parent_id == parent_id,
            )
        )
        if topic is None:
            return None
        parent_id = topic.id
    return topic


def ensure_topic(session: Session, bank: Bank, path: str) -> Topic | None:
    """Return the knowledge point at ``path``, creating missing nodes; None for an empty path."""
    parent: Topic | None = None
    for name in _split_path(path):
        topic = session.scalar(
            select(Topic).where(
                Topic.bank_id == bank.id,
                Topic.name == name,
                Topic.parent_id.is_(None) if parent is None else Topic.parent_id == parent.id,
            )
        )
        if topic is None:
            topic = Topic(bank_id=bank.id, name=name, parent=parent)
            session.add(topic)
            session.flush()
        parent = topic
    return parent


def _split_path(path: str) -> list[str]:
    return [p.strip() for p in (path or "").split(TOPIC_SEPARATOR) if p.strip()]


def topic_subtree_ids(session: Session, topic_ids: Iterable[int]) -> set[int]:
    """Return the given knowledge points and all their descendants."""
    wanted = set(topic_ids)
    if not wanted:
        return set()
    children: dict[int | None, list[int]] = {}
    for tid, parent_id in session.execute(select(Topic.id, Topic.parent_id)):
        children.setdefault(parent_id, []).append(tid)
    result: set[int] = set()
    stack = list(wanted)
    while stack:
        tid = stack.pop()
        if tid in result:
            continue
        result.add(tid)
        stack.extend(children.get(tid, []))
    return result


@dataclass
class Draft:
    """A question as entered: content plus where it belongs."""

    content: QuestionContent
    topic_id: int | None = None


def check_content(content: QuestionContent) -> QuestionContent:
    """Return the content sanitized and checked by its type, or raise InvalidQuestion."""
    try:
        qtype = get_type(content.type)
    except KeyError:
        raise InvalidQuestion(
            [Problem("type", "unknown_type", f"unknown question type {content.type!r}")]
        ) from None
    return qtype.normalize(content)


def create_question(
    session: Session,
    bank: Bank,
    content: QuestionContent,
    topic: Topic | None = None,
    user_id: int | None = None,
) -> Question:
    """Add a question with its first version; flushes."""
    content = check_content(content)
    if topic is not None and topic.bank_id != bank.id:
        raise BankError("topic_elsewhere", "the knowledge point belongs to another bank")
    question = Question(bank_id=bank.id, type=content.type, status=QuestionStatus.active.value)
    session.add(question)
    session.flush()
    version = QuestionVersion(question_id=question.id, version_no=1, created_by_id=user_id)
    _fill_version(version, content, topic)
    session.add(version)
    session.flush()
    _point_at(question, version)
    session.flush()
    return question


def update_question(
    session: Session,
    question: Question,
    content: QuestionContent,
    topic: Topic | None = None,
    user_id: int | None = None,
) -> QuestionVersion:
    """Save an edit. A version a paper has used stays as it was: the edit becomes a new one."""
    content = check_content(content)
    if topic is not None and topic.bank_id != question.bank_id:
        raise BankError("topic_elsewhere", "the knowledge point belongs to another bank")
    current = question.current_version
    assert current is not None
    if current.type != content.type and current.is_used:
        raise BankError("type_change_used", "a used question cannot change its type")
    if current.is_used:
        version = QuestionVersion(
            question_id=question.id, version_no=current.version_no + 1, created_by_id=user_id
        )
        session.add(version)
    else:
        version = current
    _fill_version(version, content, topic)
    session.flush()
    _point_at(question, version)
    question.updated_at = utcnow()
    session.flush()
    return version


def _fill_version(version: QuestionVersion, content: QuestionContent, topic: Topic | None) -> None:
    version.type = content.type
    version.stem = content.stem
    version.options = [dict(o) for o in content.options]
    version.answer = list(content.answer)
    version.explanation = content.explanation
    version.difficulty = content.difficulty
    version.topic_id = topic.id if topic is not None else None


def _point_at(question: Question, version: QuestionVersion) -> None:
    question.current_version = version
    question.current_version_id = version.id
    question.type = version.type
    question.topic_id = version.topic_id
    question.difficulty = version.difficulty
    question.stem_text = plain_text(version.stem)
    question.stem_key = normalized_stem_key(version.stem)


def mark_versions_used(session: Session, version_ids: Sequence[int]) -> None:
    """Record that papers show these versions, freezing them; flushes."""
    if not version_ids:
        return
    for vid in set(version_ids):
        count = sum(1 for v in version_ids if v == vid)
        session.execute(
            update(QuestionVersion)
            .where(QuestionVersion.id == vid)
            .values(used_count=QuestionVersion.used_count + count)
        )


def question_is_used(session: Session, question: Question) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(QuestionVersion)
            .where(QuestionVersion.question_id == question.id, QuestionVersion.used_count > 0)
        )
    )


def retire_questions(session: Session, question_ids: Sequence[int]) -> int:
    """Retire questions: they stay for the papers that used them but are drawn no more."""
    result = session.execute(
        update(Question)
        .where(Question.id.in_(list(question_ids)), Question.status == QuestionStatus.active.value)
        .values(status=QuestionStatus.retired.value, retired_at=utcnow(), updated_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def restore_questions(session: Session, question_ids: Sequence[int]) -> int:
    """Make retired questions active again."""
    result = session.execute(
        update(Question)
        .where(Question.id.in_(list(question_ids)), Question.status == QuestionStatus.retired.value)
        .values(status=QuestionStatus.active.value, retired_at=None, updated_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_question(session: Session, question: Question) -> None:
    """Delete a question no paper has used; a used one must be retired instead."""
    if question_is_used(session, question):
        raise BankError("question_used", "a question a paper has used is retired, not deleted")
    question.current_version_id = None
    question.current_version = None
    session.flush()
    for version in list(question.versions):
        session.delete(version)
    session.delete(question)
    session.flush()


def move_questions(
    session: Session, question_ids: Sequence[int], bank: Bank, topic: Topic | None = None
) -> int:
    """Move questions to another bank (and knowledge point); used versions keep theirs."""
    if topic is not None and topic.bank_id != bank.id:
        raise BankError("topic_elsewhere", "the knowledge point belongs to another bank")
    moved = 0
    for question in session.scalars(select(Question).where(Question.id.in_(list(question_ids)))):
        question.bank_id = bank.id
        question.topic_id = topic.id if topic is not None else None
        current = question.current_version
        if current is not None and not current.is_used:
            current.topic_id = question.topic_id
        question.updated_at = utcnow()
        moved += 1
    session.flush()
    return moved


def duplicate_groups(session: Session, bank_id: int | None = None) -> list[list[Question]]:
    """Return groups of active questions whose normalized stems are the same."""
    keys = (
        select(Question.stem_key)
        .where(Question.status == QuestionStatus.active.value)
        .group_by(Question.stem_key)
        .having(func.count() > 1)
    )
    if bank_id is not None:
        keys = keys.where(Question.bank_id == bank_id)
    query = select(Question).where(
        Question.stem_key.in_(keys), Question.status == QuestionStatus.active.value
    )
    if bank_id is not None:
        query = query.where(Question.bank_id == bank_id)
    rows = session.scalars(query.order_by(Question.stem_key, Question.id)).all()
    groups: dict[str, list[Question]] = {}
    for question in rows:
        groups.setdefault(question.stem_key, []).append(question)
    return [g for g in groups.values() if len(g) > 1]


def existing_stem_keys(session: Session, bank_id: int) -> set[str]:
    """Return the normalized-stem keys of a bank's active questions (for import checks)."""
    return set(
        session.scalars(
            select(Question.stem_key).where(
                Question.bank_id == bank_id, Question.status == QuestionStatus.active.value
            )
        )
    )
