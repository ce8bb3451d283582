"""Read-side queries of the question-bank pages: the filtered, paged question list and the trees.

Search on the stem is a case-insensitive substring match on ``Question.stem_text`` (the plain
text of the current stem), with the LIKE wildcards of the user's term escaped. Chinese has no
word boundaries, so a word-based full-text index would miss most searches: a substring is what a
person typing 动火 expects to find. Over 10,000+ questions a substring scan of one text column is
still a few milliseconds; the other filters (bank and status, knowledge point) use the indexes
on question(bank_id, status) and question(topic_id).

A page costs three small statements, never one per row: the count, the page itself (with the
version number and the usage as correlated subqueries), and the knowledge points of the banks on
the page to build their paths.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from examserver.errors import AppError
from examserver.question_bank.models import Bank, Question, QuestionStatus, QuestionVersion, Topic
from examserver.question_bank.operations import TOPIC_SEPARATOR
from examserver.question_bank.types import type_names

STATUSES = ("active", "retired", "all")
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000
MAX_SEARCH = 200
PREVIEW_CHARS = 120


@dataclass(frozen=True)
class QuestionFilters:
    """What the question list shows: every field optional except status and paging."""

    bank_id: int | None = None
    type: str | None = None
    topic_id: int | None = None
    difficulty: int | None = None
    status: str = QuestionStatus.active.value
    search: str = ""
    page: int = 1
    per_page: int = 50

    def query_args(self, **changes: object) -> dict[str, object]:
        """Return the filters as URL arguments (for links), with ``changes`` applied."""
        args: dict[str, object] = {
            "bank": self.bank_id,
            "type": self.type,
            "topic": self.topic_id,
            "difficulty": self.difficulty,
            "status": self.status,
            "q": self.search,
            "page": self.page,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v not in (None, "")}


@dataclass(frozen=True)
class QuestionRow:
    """One line of the question list."""

    id: int
    bank_id: int
    bank_code: str
    type: str
    stem_preview: str
    topic_id: int | None
    topic_path: str
    difficulty: int
    status: str
    version_no: int
    used_count: int


@dataclass(frozen=True)
class Page:
    """A page of the question list and where it sits in the whole."""

    items: list[QuestionRow]
    total: int
    page: int
    per_page: int
    filters: QuestionFilters = field(default_factory=QuestionFilters)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _bad(message: str) -> AppError:
    return AppError("bad_filter", message, 400)


def _int_arg(args: Mapping[str, str], name: str, label: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise _bad(
            _("%(field)s must be a whole number, not “%(value)s”.", field=label, value=raw[:40])
        )
    return int(raw)


def default_per_page() -> int:
    """Return the configured page size, bounded to 1..MAX_PER_PAGE."""
    configured = current_app.config["EXAMSERVER"].get("QUESTIONS_PER_PAGE", 50)
    try:
        value = int(configured)
    except (TypeError, ValueError):
        value = 50
    return min(max(value, 1), MAX_PER_PAGE)


def parse_filters(args: Mapping[str, str], per_page: int | None = None) -> QuestionFilters:
    """Build the list filters from URL arguments; AppError(bad_filter) names a wrong one."""
    bank_id = _int_arg(args, "bank", _("Bank"))
    topic_id = _int_arg(args, "topic", _("Knowledge point"))
    qtype = (args.get("type") or "").strip() or None
    if qtype is not None and qtype not in type_names():
        raise _bad(_("Unknown question type “%(value)s”.", value=qtype[:40]))
    difficulty = _int_arg(args, "difficulty", _("Difficulty"))
    if difficulty is not None and not 1 <= difficulty <= 5:
        raise _bad(_("Difficulty must be 1 to 5, not %(value)s.", value=difficulty))
    status = (args.get("status") or "").strip() or QuestionStatus.active.value
    if status not in STATUSES:
        raise _bad(_("Status must be active, retired or all, not “%(value)s”.", value=status[:40]))
    search = " ".join((args.get("q") or "").split())
    if len(search) > MAX_SEARCH:
        raise _bad(_("The search text is too long (at most %(n)s characters).", n=MAX_SEARCH))
    raw_page = (args.get("page") or "").strip()
    if raw_page == "":
        page = 1
    else:
        if not raw_page.isascii() or not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
            raise _bad(
                _("The page must be a whole number from 1, not “%(value)s”.", value=raw_page[:40])
            )
        page = int(raw_page)
    size = per_page if per_page is not None else default_per_page()
    return QuestionFilters(
        bank_id=bank_id,
        type=qtype,
        topic_id=topic_id,
        difficulty=difficulty,
        status=status,
        search=search,
        page=page,
        per_page=min(max(size, 1), MAX_PER_PAGE),
    )


def _subtree(topic_id: int) -> Select[Any]:
    """Select a knowledge point's id and all its descendants' ids, in SQL."""
    tree = select(Topic.id).where(Topic.id == topic_id).cte("subtree", recursive=True)
    tree = tree.union_all(select(Topic.id).where(Topic.parent_id == tree.c.id))
    return select(tree.c.id)


def _filtered(session: Session, filters: QuestionFilters) -> Select[Any]:
    """Return the statement selecting the ids of matching questions (checks bank and topic)."""
    stmt = select(Question.id)
    if filters.bank_id is not None:
        if session.get(Bank, filters.bank_id) is None:
            raise _bad(_("There is no bank with id %(id)s.", id=filters.bank_id))
        stmt = stmt.where(Question.bank_id == filters.bank_id)
    if filters.status != "all":
        stmt = stmt.where(Question.status == filters.status)
    if filters.type is not None:
        stmt = stmt.where(Question.type == filters.type)
    if filters.difficulty is not None:
        stmt = stmt.where(Question.difficulty == filters.difficulty)
    if filters.topic_id is not None:
        topic = session.get(Topic, filters.topic_id)
        if topic is None:
            raise _bad(_("There is no knowledge point with id %(id)s.", id=filters.topic_id))
        if filters.bank_id is not None and topic.bank_id != filters.bank_id:
            raise _bad(_("That knowledge point belongs to another bank."))
        stmt = stmt.where(Question.topic_id.in_(_subtree(topic.id)))
    if filters.search:
        stmt = stmt.where(Question.stem_text.icontains(filters.search, autoescape=True))
    return stmt


def list_questions(session: Session, filters: QuestionFilters) -> Page:
    """Return one page of the questions matching ``filters``, newest first."""
    ids = _filtered(session, filters)
    total = int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)
    pages = max(1, math.ceil(total / filters.per_page))
    page = min(filters.page, pages)
    version_no = (
        select(QuestionVersion.version_no)
        .where(QuestionVersion.id == Question.current_version_id)
        .scalar_subquery()
    )
    used = (
        select(func.coalesce(func.sum(QuestionVersion.used_count), 0))
        .where(QuestionVersion.question_id == Question.id)
        .scalar_subquery()
    )
    stmt = (
        ids.add_columns(
            Question.bank_id,
            Bank.code,
            Question.type,
            func.substr(Question.stem_text, 1, PREVIEW_CHARS + 1),
            Question.topic_id,
            Question.difficulty,
            Question.status,
            version_no,
            used,
        )
        .join(Bank, Bank.id == Question.bank_id)
        .order_by(Question.id.desc())
        .limit(filters.per_page)
        .offset((page - 1) * filters.per_page)
    )
    rows = session.execute(stmt).all()
    paths = topic_paths(session, {r[1] for r in rows})
    items = [
        QuestionRow(
            id=r[0],
            bank_id=r[1],
            bank_code=r[2],
            type=r[3],
            stem_preview=_truncate(r[4] or ""),
            topic_id=r[5],
            topic_path=paths.get(r[5], "") if r[5] is not None else "",
            difficulty=r[6],
            status=r[7],
            version_no=int(r[8] or 0),
            used_count=int(r[9] or 0),
        )
        for r in rows
    ]
    return Page(items=items, total=total, page=page, per_page=filters.per_page, filters=filters)


def _truncate(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def topic_paths(session: Session, bank_ids: Iterable[int]) -> dict[int, str]:
    """Return the full path of every knowledge point of the given banks, by id."""
    wanted = list(set(bank_ids))
    if not wanted:
        return {}
    nodes = {
        tid: (parent_id, name)
        for tid, parent_id, name in session.execute(
            select(Topic.id, Topic.parent_id, Topic.name).where(Topic.bank_id.in_(wanted))
        )
    }
    paths: dict[int, str] = {}

    def path_of(tid: int) -> str:
        if tid not in paths:
            parent_id, name = nodes[tid]
            seen = 0
            parts = [name]
            while parent_id is not None and parent_id in nodes and seen < 64:
                parent_id, parent_name = nodes[parent_id]
                parts.append(parent_name)
                seen += 1
            paths[tid] = TOPIC_SEPARATOR.join(reversed(parts))
        return paths[tid]

    for tid in nodes:
        path_of(tid)
    return paths


@dataclass(frozen=True)
class TopicNode:
    """A knowledge point placed in its bank's tree, with question counts."""

    id: int
    parent_id: int | None
    name: str
    path: str
    depth: int
    questions: int  # questions whose current version is filed here
    subtree_questions: int  # the same, counting the descendants too
    has_children: bool


def topic_tree(session: Session, bank_id: int) -> list[TopicNode]:
    """Return a bank's knowledge points depth-first, each with its question counts."""
    rows = session.execute(
        select(Topic.id, Topic.parent_id, Topic.name)
        .where(Topic.bank_id == bank_id)
        .order_by(Topic.name, Topic.id)
    ).all()
    counts = dict(
        session.execute(
            select(Question.topic_id, func.count())
            .where(Question.bank_id == bank_id, Question.topic_id.is_not(None))
            .group_by(Question.topic_id)
        ).all()
    )
    children: dict[int | None, list[tuple[int, str]]] = {}
    known = {r[0] for r in rows}
    for tid, parent_id, name in rows:
        key = parent_id if parent_id in known else None
        children.setdefault(key, []).append((tid, name))

    def subtree_count(tid: int) -> int:
        return counts.get(tid, 0) + sum(subtree_count(c) for c, _n in children.get(tid, []))

    result: list[TopicNode] = []

    def walk(parent: int | None, prefix: str, depth: int) -> None:
        for tid, name in children.get(parent, []):
            path = f"{prefix}{TOPIC_SEPARATOR}{name}" if prefix else name
            result.append(
                TopicNode(
                    id=tid,
                    parent_id=parent,
                    name=name,
                    path=path,
                    depth=depth,
                    questions=int(counts.get(tid, 0)),
                    subtree_questions=subtree_count(tid),
                    has_children=bool(children.get(tid)),
                )
            )
            if depth < 64:
                walk(tid, path, depth + 1)

    walk(None, "", 0)
    return result


@dataclass(frozen=True)
class TopicChoice:
    """A knowledge point offered in a select: its bank, id and path."""

    bank_id: int
    id: int
    path: str


def topic_choices(session: Session, bank_ids: Iterable[int] | None = None) -> list[TopicChoice]:
    """Return the knowledge points of the given banks (all banks if None), sorted by path."""
    if bank_ids is None:
        ids = list(session.scalars(select(Bank.id)))
    else:
        ids = list(bank_ids)
    paths = topic_paths(session, ids)
    banks = (
        dict(session.execute(select(Topic.id, Topic.bank_id).where(Topic.bank_id.in_(ids))).all())
        if ids
        else {}
    )
    return sorted(
        (TopicChoice(bank_id=banks[tid], id=tid, path=path) for tid, path in paths.items()),
        key=lambda c: (c.bank_id, c.path),
    )


@dataclass(frozen=True)
class BankSummary:
    """A bank with how many questions it holds, by type and status."""

    bank: Bank
    by_type: dict[str, int]
    active: int
    retired: int

    @property
    def total(self) -> int:
        return self.active + self.retired


def bank_summaries(session: Session) -> list[BankSummary]:
    """Return every bank with its counts per type (active questions) and per status."""
    banks = list(session.scalars(select(Bank).order_by(Bank.code)))
    by_type: dict[int, dict[str, int]] = {}
    by_status: dict[int, dict[str, int]] = {}
    for bank_id, qtype, status, count in session.execute(
        select(Question.bank_id, Question.type, Question.status, func.count()).group_by(
            Question.bank_id, Question.type, Question.status
        )
    ):
        status_counts = by_status.setdefault(bank_id, {})
        status_counts[status] = status_counts.get(status, 0) + count
        if status == QuestionStatus.active.value:
            by_type.setdefault(bank_id, {})[qtype] = count
    return [
        BankSummary(
            bank=b,
            by_type={t: by_type.get(b.id, {}).get(t, 0) for t in type_names()},
            active=by_status.get(b.id, {}).get(QuestionStatus.active.value, 0),
            retired=by_status.get(b.id, {}).get(QuestionStatus.retired.value, 0),
        )
        for b in banks
    ]
