"""Delivery services: open a session, log a candidate in, start, submit and grade an attempt.

Services take a SQLAlchemy session and flush; the caller (an HTTP view, a Socket.IO handler, a
background task) owns the transaction. Times come from the caller's ``now`` (``db.utcnow()``):
the server's clock is the only clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from examserver.delivery.clock import AttemptStatus, Clock, ClockError
from examserver.delivery.models import Answer, Attempt
from examserver.grading import KeyedItem, Result, grade_attempt
from examserver.identity import is_valid_id_number, normalize_id_number
from examserver.papers.models import Blueprint, Paper, PaperItem
from examserver.papers.operations import PaperDrawer, paper_layout
from examserver.question_bank.models import QuestionVersion
from examserver.question_bank.types import get_type
from examserver.sessions.models import ExamSession, Registration, StartMode
from examserver.wire import RawJSON

log = logging.getLogger("examserver.delivery")

# How early before a session opens a candidate may log in (DOMAIN.md: enter 15 minutes early).
LOGIN_EARLY = dt.timedelta(minutes=30)
# A terminal not heard from for this long no longer holds its attempt (Socket.IO's ping
# interval plus timeout is 45 s; presence is refreshed every 15 s).
TERMINAL_STALE = dt.timedelta(seconds=60)
MAX_CHOICES = 8


class DeliveryError(Exception):
    """A refused delivery action; ``code`` is stable, the edge translates it for the terminal."""

    def __init__(self, code: str, detail: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.status = status


# ------------------------------------------------------------------------ papers
def open_session(db: Session, exam_session: ExamSession, now: dt.datetime) -> int:
    """Draw a paper and create a waiting attempt for every registration that has none.

    Papers are drawn when a session opens, so a room that starts in the same second costs no
    assembly. Seats are drawn in order so each paper avoids its neighbours' (seat ± 1) layouts.
    Returns how many papers were drawn; idempotent.
    """
    blueprint = exam_session.blueprint
    registrations = list(
        db.scalars(
            select(Registration)
            .where(Registration.session_id == exam_session.id)
            .order_by(Registration.seat, Registration.id)
        )
    )
    existing = {
        a.registration_id: a
        for a in db.scalars(select(Attempt).where(Attempt.session_id == exam_session.id))
    }
    layouts: dict[int, list[int]] = {}
    for attempt in existing.values():
        layouts[attempt.registration.seat] = paper_layout(attempt.paper)
    drawer: PaperDrawer | None = None
    drawn = 0
    for registration in registrations:
        if registration.id in existing:
            continue
        if drawer is None:
            drawer = PaperDrawer(db, blueprint)
        avoid = [layouts[s] for s in (registration.seat - 1, registration.seat + 1) if s in layouts]
        seed = f"{exam_session.code}:{registration.admission_no}:{secrets.token_hex(4)}"[-64:]
        paper = drawer.draw(seed, avoid)
        render_paper_view(db, paper)
        layouts[registration.seat] = paper_layout(paper)
        db.add(_new_attempt(exam_session, blueprint, registration, paper))
        drawn += 1
    if exam_session.status == "scheduled":
        exam_session.status = "open"
    db.flush()
    return drawn


def _new_attempt(
    exam_session: ExamSession, blueprint: Blueprint, registration: Registration, paper: Paper
) -> Attempt:
    return Attempt(
        registration_id=registration.id,
        session_id=exam_session.id,
        paper_id=paper.id,
        status=AttemptStatus.waiting.value,
        duration_ms=blueprint.duration_min * 60_000,
        earliest_submit_ms=blueprint.earliest_submit_min * 60_000,
        pass_score=float(blueprint.pass_score),
        multi_scoring=blueprint.multi_scoring,
    )


@dataclass(frozen=True)
class PaperEntry:
    """One question of a stored paper as the server checks answers against it."""

    item_id: int
    type: str
    option_keys: frozenset[str]


@dataclass(frozen=True)
class PaperView:
    """A stored paper: what a candidate sees (no key) and what answers are checked against.

    ``paper`` is the `state` message's ``paper`` value, {"sections": [...]}, encoded once (see
    examserver/wire.py): a room that starts at once costs no encoding of papers.
    """

    paper: RawJSON
    entries: dict[int, PaperEntry]  # question (version) id -> entry
    item_ids: dict[int, int]  # paper item id -> question (version) id

    @property
    def total(self) -> int:
        return len(self.entries)


def paper_view(db: Session, paper_id: int) -> PaperView:
    """Return a paper's candidate view, cached: a stored paper never changes once drawn.

    This is the one process-level cache on the delivery path; it holds immutable data only, so
    several workers (or a restart) can never disagree through it.
    """
    key = (str(db.get_bind().engine.url), paper_id)
    with _VIEW_LOCK:
        view = _PAPER_VIEWS.get(key)
        if view is not None:
            _PAPER_VIEWS.move_to_end(key)
            return view
    stored = db.scalar(select(Paper.view).where(Paper.id == paper_id))
    view = view_from_stored(stored) if stored else build_paper_view(db, paper_id)
    with _VIEW_LOCK:
        _PAPER_VIEWS[key] = view
        while len(_PAPER_VIEWS) > PAPER_VIEW_CACHE:
            _PAPER_VIEWS.popitem(last=False)
    return view


def render_paper_view(db: Session, paper: Paper) -> None:
    """Store the paper's candidate view on it (at draw time); flushes."""
    view = build_paper_view(db, paper.id)
    paper.view = {
        "sections": view.paper.decode()["sections"],
        "entries": [
            [question_id, e.item_id, e.type, sorted(e.option_keys)]
            for question_id, e in view.entries.items()
        ],
    }
    db.flush()


def view_from_stored(stored: dict[str, Any]) -> PaperView:
    """Rebuild a PaperView from what ``render_paper_view`` stored."""
    entries = {
        int(question_id): PaperEntry(int(item_id), str(qtype), frozenset(keys))
        for question_id, item_id, qtype, keys in stored["entries"]
    }
    return PaperView(
        RawJSON.encode({"sections": stored["sections"]}),
        entries,
        {e.item_id: question_id for question_id, e in entries.items()},
    )


PAPER_VIEW_CACHE = 4096
_PAPER_VIEWS: OrderedDict[tuple[str, int], PaperView] = OrderedDict()
_VIEW_LOCK = threading.Lock()


def build_paper_view(db: Session, paper_id: int) -> PaperView:
    """Build a paper's candidate view from its items and their exact question versions."""
    from examserver.papers.models import BlueprintSection

    blueprint_id = db.scalar(select(Paper.blueprint_id).where(Paper.id == paper_id))
    if blueprint_id is None:
        raise DeliveryError("unknown_paper", str(paper_id), 404)
    titles = [
        t or ""
        for t in db.scalars(
            select(BlueprintSection.title)
            .where(BlueprintSection.blueprint_id == blueprint_id)
            .order_by(BlueprintSection.position)
        )
    ]
    rows = db.execute(
        select(
            PaperItem.id,
            PaperItem.section_index,
            PaperItem.points,
            PaperItem.option_order,
            QuestionVersion.id,
            QuestionVersion.type,
            QuestionVersion.stem,
            QuestionVersion.options,
        )
        .join(QuestionVersion, QuestionVersion.id == PaperItem.question_version_id)
        .where(PaperItem.paper_id == paper_id)
        .order_by(PaperItem.position)
    ).all()
    sections: list[dict[str, Any]] = []
    by_index: dict[int, dict[str, Any]] = {}
    entries: dict[int, PaperEntry] = {}
    item_ids: dict[int, int] = {}
    for item_id, section_index, points, option_order, version_id, qtype, stem, options in rows:
        section = by_index.get(section_index)
        if section is None:
            section = {
                "title": titles[section_index] if section_index < len(titles) else "",
                "type": qtype,
                "points": float(points),
                "questions": [],
            }
            by_index[section_index] = section
            sections.append(section)
        view = get_type(qtype).candidate_view(version_id, stem, options, option_order)
        section["questions"].append({"id": view.id, "stem": view.stem, "options": view.options})
        entries[version_id] = PaperEntry(item_id, qtype, frozenset(o["key"] for o in options))
        item_ids[item_id] = version_id
    return PaperView(RawJSON.encode({"sections": sections}), entries, item_ids)


# ------------------------------------------------------------------------ login
def find_registration(db: Session, admission_no: str, id_number: str) -> Registration:
    """Return the registration these credentials name, or refuse with one vague error."""
    if not is_valid_id_number(id_number):
        raise DeliveryError("bad_id_number", status=400)
    registration = db.scalar(select(Registration).where(Registration.admission_no == admission_no))
    if registration is None or registration.candidate.id_number != normalize_id_number(id_number):
        # One answer for both cases: an admission number cannot be probed.
        raise DeliveryError("bad_credentials", status=401)
    return registration


def login(
    db: Session, admission_no: str, id_number: str, terminal_id: str, now: dt.datetime
) -> tuple[Attempt, str]:
    """Check a candidate's credentials and the session window; return the attempt and a nonce.

    A new nonce invalidates tokens handed out earlier. Refused while another terminal holds the
    attempt (``terminal_in_use``).
    """
    registration = find_registration(db, admission_no, id_number)
    exam_session = registration.session
    if now < exam_session.opens_at - LOGIN_EARLY:
        raise DeliveryError("session_not_open", status=403)
    attempt = db.scalar(select(Attempt).where(Attempt.registration_id == registration.id))
    if attempt is None:
        if now > exam_session.closes_at:
            raise DeliveryError("session_closed", status=403)
        open_session(db, exam_session, now)
        attempt = db.scalar(select(Attempt).where(Attempt.registration_id == registration.id))
        assert attempt is not None
    elif now > exam_session.closes_at and attempt.status == AttemptStatus.waiting.value:
        raise DeliveryError("session_closed", status=403)
    if terminal_held_elsewhere(attempt, terminal_id, now):
        raise DeliveryError("terminal_in_use", status=409)
    nonce = secrets.token_hex(8)
    attempt.token_nonce = nonce
    if attempt.first_login_at is None:
        attempt.first_login_at = now
    db.flush()
    return attempt, nonce


def terminal_held_elsewhere(attempt: Attempt, terminal_id: str, now: dt.datetime) -> bool:
    """Whether another, live terminal holds this attempt."""
    if attempt.terminal_sid is None or attempt.terminal_id == terminal_id:
        return False
    seen = attempt.terminal_seen_at
    return seen is not None and now - seen < TERMINAL_STALE


def attach_terminal(
    db: Session,
    attempt_id: int,
    nonce: str,
    terminal_id: str,
    sid: str,
    address: str,
    now: dt.datetime,
) -> tuple[Attempt, str | None, bool]:
    """Make ``sid`` the attempt's one live terminal.

    Returns the attempt, the sid it replaces (if any) and whether the candidate moved from
    another terminal.

    The same terminal (same terminal id) reconnecting takes over from its own stale socket;
    another terminal is refused while the first is live.
    """
    attempt = _lock_attempt(db, attempt_id)
    if attempt is None or not nonce or attempt.token_nonce != nonce:
        raise DeliveryError("token_revoked", status=401)
    if terminal_held_elsewhere(attempt, terminal_id, now):
        raise DeliveryError("terminal_in_use", status=409)
    replaced = attempt.terminal_sid if attempt.terminal_sid != sid else None
    moved = bool(attempt.terminal_id) and attempt.terminal_id != terminal_id
    attempt.terminal_id = terminal_id
    attempt.terminal_sid = sid
    attempt.terminal_seen_at = now
    attempt.terminal_address = address[:64]
    db.flush()
    return attempt, replaced, moved


def detach_terminal(db: Session, attempt_id: int, sid: str, now: dt.datetime) -> bool:
    """Forget ``sid`` as the attempt's terminal if it still is; returns whether it was."""
    result = db.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.terminal_sid == sid)
        .values(terminal_sid=None, terminal_seen_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def refresh_presence(db: Session, sids: Sequence[str], now: dt.datetime) -> None:
    """Mark the terminals connected to this worker as alive."""
    for start in range(0, len(sids), 500):
        db.execute(
            update(Attempt)
            .where(Attempt.terminal_sid.in_(list(sids[start : start + 500])))
            .values(terminal_seen_at=now)
        )


def _lock_attempt(db: Session, attempt_id: int) -> Attempt | None:
    query = select(Attempt).where(Attempt.id == attempt_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalar(query.execution_options(populate_existing=True))


# ------------------------------------------------------------------------ running
def start_attempt(
    db: Session, attempt_id: int, now: dt.datetime, by_proctor: bool = False
) -> Attempt:
    """Start the attempt's clock; in proctor mode only the proctor starts (``by_proctor``)."""
    attempt = _lock_attempt(db, attempt_id)
    if attempt is None:
        raise DeliveryError("unknown_attempt", status=404)
    if attempt.status != AttemptStatus.waiting.value:
        return attempt  # idempotent: a second start changes nothing
    exam_session = attempt.registration.session
    if exam_session.start_mode == StartMode.proctor.value and not by_proctor:
        raise DeliveryError("waiting_for_proctor", status=403)
    if now < exam_session.opens_at:
        raise DeliveryError("session_not_open", status=403)
    if now > exam_session.closes_at:
        raise DeliveryError("session_closed", status=403)
    try:
        attempt.set_clock(attempt.clock().start(now))
    except ClockError as exc:
        raise DeliveryError(exc.code) from exc
    db.flush()
    return attempt


@dataclass(frozen=True)
class Started:
    """What a candidate's own start changed: enough to build the running `state` without
    reading the attempt again."""

    attempt_id: int
    paper_id: int
    clock: Clock
    earliest_submit_ms: int
    position: int
    last_seq: int


def start_own_attempt(db: Session, attempt_id: int, now: dt.datetime) -> Started | None:
    """A candidate starts their own attempt (window mode): ``start_attempt`` in two Core
    statements, since a whole room may do it in the same second.

    Returns None when the attempt was not waiting (a second start changes nothing). Every
    refusal is raised before the one write, so the writer needs no savepoint for it.
    """
    table = Attempt.__table__
    sessions = ExamSession.__table__
    conn = db.connection()
    row = conn.execute(
        select(
            table.c.status,
            table.c.paper_id,
            table.c.duration_ms,
            table.c.earliest_submit_ms,
            table.c.extension_ms,
            table.c.position,
            table.c.last_seq,
            sessions.c.start_mode,
            sessions.c.opens_at,
            sessions.c.closes_at,
        )
        .join(sessions, sessions.c.id == table.c.session_id)
        .where(table.c.id == attempt_id)
    ).one_or_none()
    if row is None:
        raise DeliveryError("unknown_attempt", status=404)
    if row.status != AttemptStatus.waiting.value:
        return None
    if row.start_mode == StartMode.proctor.value:
        raise DeliveryError("waiting_for_proctor", status=403)
    if now < row.opens_at:
        raise DeliveryError("session_not_open", status=403)
    if now > row.closes_at:
        raise DeliveryError("session_closed", status=403)
    clock = Clock(
        AttemptStatus.waiting, row.duration_ms, row.earliest_submit_ms,
        extension_ms=row.extension_ms,
    ).start(now)  # fmt: skip
    changed = conn.execute(
        update(table)
        .where(table.c.id == attempt_id, table.c.status == AttemptStatus.waiting.value)
        .values(
            status=clock.status.value, started_at=clock.started_at, deadline_at=clock.deadline_at
        )
    ).rowcount
    if changed != 1:
        return None  # started by someone else in between (another worker, PostgreSQL)
    return Started(
        attempt_id, row.paper_id, clock, row.earliest_submit_ms, row.position, row.last_seq
    )


@dataclass(frozen=True)
class Submission:
    """The outcome of a submission: the result, and the card issued if any."""

    attempt_id: int
    score: float
    max_score: float
    passed: bool
    card_no: str | None
    verify_code: str | None
    already: bool = False
    reason: str = ""


def submit_attempt(
    db: Session, attempt_id: int, now: dt.datetime, reason: str = "candidate"
) -> Submission:
    """Submit and grade an attempt at once; a second submission returns the first's result.

    ``reason`` is candidate (earliest-submit rule applies), timeout or proctor.
    """
    attempt = _lock_attempt(db, attempt_id)
    if attempt is None:
        raise DeliveryError("unknown_attempt", status=404)
    if attempt.status == AttemptStatus.submitted.value:
        return _submission_of(db, attempt, already=True)
    if attempt.status == AttemptStatus.waiting.value and reason == "candidate":
        raise DeliveryError("not_running")
    clock = attempt.clock()
    if reason == "candidate":
        if attempt.status == AttemptStatus.paused.value:
            raise DeliveryError("paused")
        if not clock.may_submit(now):
            raise DeliveryError("too_early")
    # Compare-and-set: of two racing submissions exactly one moves the status.
    moved = db.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.status != AttemptStatus.submitted.value)
        .values(status=AttemptStatus.submitted.value)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        db.refresh(attempt)
        return _submission_of(db, attempt, already=True)
    result = grade(db, attempt)
    attempt.status = AttemptStatus.submitted.value
    attempt.paused_at = None
    attempt.submitted_at = now
    attempt.submit_reason = reason
    attempt.score = result.score
    attempt.max_score = result.max_score
    attempt.passed = result.passed
    db.flush()
    card = None
    if result.passed:
        from examserver.records.service import issue_card_if_due

        card = issue_card_if_due(db, attempt, now)
    log.info(
        "attempt %s submitted (%s): %s/%s %s",
        attempt.id, reason, result.score, result.max_score, "pass" if result.passed else "fail",
    )  # fmt: skip
    return Submission(
        attempt.id,
        result.score,
        result.max_score,
        result.passed,
        card.card_no if card else None,
        card.verify_code if card else None,
        reason=reason,
    )


def grade(db: Session, attempt: Attempt) -> Result:
    """Grade the attempt's saved answers and store each answer's points."""
    rows = db.execute(
        select(PaperItem.id, PaperItem.points, QuestionVersion.type, QuestionVersion.answer)
        .join(QuestionVersion, QuestionVersion.id == PaperItem.question_version_id)
        .where(PaperItem.paper_id == attempt.paper_id)
    ).all()
    items = [KeyedItem(r.id, r.type, tuple(r.answer), float(r.points)) for r in rows]
    answers = {
        a.paper_item_id: a
        for a in db.scalars(select(Answer).where(Answer.attempt_id == attempt.id))
    }
    result = grade_attempt(
        items,
        {item_id: a.choice for item_id, a in answers.items()},
        float(attempt.pass_score),
        attempt.multi_scoring,
    )
    for graded in result.items:
        if graded.item_id in answers:
            answers[graded.item_id].points = graded.earned
    return result


def _submission_of(db: Session, attempt: Attempt, already: bool) -> Submission:
    from examserver.records.models import TrainingRecord

    card = db.scalar(select(TrainingRecord).where(TrainingRecord.attempt_id == attempt.id))
    return Submission(
        attempt.id,
        float(attempt.score or 0),
        float(attempt.max_score or 0),
        bool(attempt.passed),
        card.card_no if card else None,
        card.verify_code if card else None,
        already=already,
        reason=attempt.submit_reason,
    )


def note_focus(db: Session, attempt_id: int, lost: bool) -> None:
    """Count a terminal's report that the exam window lost the focus."""
    if lost:
        db.execute(
            update(Attempt)
            .where(Attempt.id == attempt_id)
            .values(focus_losses=Attempt.focus_losses + 1)
        )


def remember_position(db: Session, attempt_id: int, position: int) -> None:
    """Remember which question the candidate is on, so a new terminal opens it again."""
    db.execute(update(Attempt).where(Attempt.id == attempt_id).values(position=position))


def overdue_attempt_ids(db: Session, now: dt.datetime, limit: int = 500) -> list[int]:
    """Return running attempts whose deadline has passed."""
    return list(
        db.scalars(
            select(Attempt.id)
            .where(Attempt.status == AttemptStatus.running.value, Attempt.deadline_at <= now)
            .limit(limit)
        )
    )


def credit_downtime(db: Session, down_ms: int) -> int:
    """Give every running attempt back ``down_ms`` the server was down; returns how many."""
    if down_ms <= 0:
        return 0
    count = 0
    for attempt in db.scalars(select(Attempt).where(Attempt.status == AttemptStatus.running.value)):
        attempt.set_clock(attempt.clock().credit(down_ms))
        count += 1
    db.flush()
    return count


# ------------------------------------------------------------------------ state
def state_payload(db: Session, attempt: Attempt, now: dt.datetime) -> dict[str, Any]:
    """The `state` message: the attempt, its paper while running or paused, answers, flags."""
    payload = _state_message(
        attempt.id,
        attempt.clock(),
        attempt.earliest_submit_ms,
        attempt.position,
        attempt.pause_reason,
        attempt.last_seq,
        now,
    )
    if attempt.status in (AttemptStatus.running.value, AttemptStatus.paused.value):
        view = paper_view(db, attempt.paper_id)
        payload["paper"] = view.paper
        for answer in db.scalars(select(Answer).where(Answer.attempt_id == attempt.id)):
            question_id = view.item_ids.get(answer.paper_item_id)
            if question_id is None:
                continue
            if answer.choice:
                payload["answers"][str(question_id)] = list(answer.choice)
            if answer.flagged:
                payload["flags"].append(question_id)
    if attempt.status == AttemptStatus.submitted.value:
        payload["result"] = result_payload(_submission_of(db, attempt, already=True))
    return payload


def started_state(started: Started, view: PaperView, now: dt.datetime) -> dict[str, Any]:
    """The `state` right after a candidate's own start, from what the start wrote: an attempt
    that was waiting has no answers and no flags (they are refused until it runs)."""
    payload = _state_message(
        started.attempt_id,
        started.clock,
        started.earliest_submit_ms,
        started.position,
        "",
        started.last_seq,
        now,
    )
    payload["paper"] = view.paper
    return payload


def _state_message(
    attempt_id: int,
    clock: Clock,
    earliest_submit_ms: int,
    position: int,
    pause_reason: str | None,
    last_seq: int,
    now: dt.datetime,
) -> dict[str, Any]:
    status = clock.status.value
    return {
        "attempt": {
            "id": attempt_id,
            "status": status,
            "remaining_ms": clock.remaining_ms(now),
            "duration_ms": clock.allowed_ms,
            "earliest_submit_ms": earliest_submit_ms,
            "elapsed_ms": clock.elapsed_ms(now),
            "position": position,
            "pause_reason": pause_reason if status == AttemptStatus.paused.value else "",
        },
        "answers": {},
        "flags": [],
        "last_seq": last_seq,
    }


def result_payload(submission: Submission) -> dict[str, Any]:
    """The result a candidate sees: score, pass or fail, and the card if one was issued."""
    verify_url = None
    if submission.card_no and submission.verify_code:
        verify_url = f"/verify/{submission.card_no}/{submission.verify_code}"
    return {
        "score": submission.score,
        "max_score": submission.max_score,
        "passed": submission.passed,
        "card_no": submission.card_no,
        "verify_url": verify_url,
        "reason": submission.reason,
    }
