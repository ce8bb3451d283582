"""Proctor services: who may watch and act on a room, the roster, and every room action.

Each action is checked here (not by hiding a button), is idempotent where it can be, leaves a
``RoomEvent`` with who, when and why, and returns what changed so the edge can push it. Services
flush; the edge owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from examserver.auth.models import User
from examserver.delivery import service as delivery
from examserver.delivery.clock import CLOCK_FIELDS, AttemptStatus, Clock, ClockError
from examserver.delivery.models import Attempt
from examserver.delivery.service import DeliveryError
from examserver.proctor.models import Incident, IncidentKind, RoomEvent, SessionStaff
from examserver.sessions.models import Candidate, ExamSession, Registration, StartMode

# DOMAIN.md: no entry later than 30 minutes after the start.
LATE_ENTRY = dt.timedelta(minutes=30)
MAX_EXTENSION_MIN = 120
MAX_TEXT = 500
ACTING_ROLES = ("admin", "staff", "proctor")


class ProctorError(DeliveryError):
    """A refused proctor action, with a stable code."""


@dataclass
class Outcome:
    """What an action changed: attempts whose terminal and roster row must be refreshed."""

    attempts: set[int] = field(default_factory=set)
    events: list[RoomEvent] = field(default_factory=list)
    announcement: str | None = None
    session_changed: bool = False
    disconnect_sids: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- access
def can_watch(db: Session, user: User, exam_session: ExamSession) -> bool:
    """Whether ``user`` may see this room: staff+, its proctors, inspectors of its exam point."""
    if not user.active:
        return False
    if user.role in ("admin", "staff"):
        return True
    if user.role == "inspector":
        return bool(user.exam_point) and user.exam_point == exam_session.exam_point
    if user.role == "proctor":
        return is_assigned(db, user, exam_session)
    return False


def can_act(db: Session, user: User, exam_session: ExamSession) -> bool:
    """Whether ``user`` may act on this room: staff+ and its assigned proctors, never inspectors."""
    if not user.active or user.role not in ACTING_ROLES:
        return False
    if user.role == "proctor":
        return is_assigned(db, user, exam_session)
    return True


def is_assigned(db: Session, user: User, exam_session: ExamSession) -> bool:
    return (
        db.scalar(
            select(SessionStaff.id).where(
                SessionStaff.session_id == exam_session.id, SessionStaff.user_id == user.id
            )
        )
        is not None
    )


def assign(db: Session, exam_session: ExamSession, user: User, duty: str = "proctor") -> None:
    """Assign a staff member to a session; idempotent."""
    if not is_assigned(db, user, exam_session):
        db.add(SessionStaff(session_id=exam_session.id, user_id=user.id, duty=duty))
        db.flush()


def watchable_sessions(db: Session, user: User) -> list[ExamSession]:
    """The sessions ``user`` may watch, newest first."""
    query = select(ExamSession).order_by(ExamSession.opens_at.desc())
    if user.role == "proctor":
        query = query.join(SessionStaff, SessionStaff.session_id == ExamSession.id).where(
            SessionStaff.user_id == user.id
        )
    elif user.role == "inspector":
        if not user.exam_point:
            return []
        query = query.where(ExamSession.exam_point == user.exam_point)
    elif user.role not in ("admin", "staff"):
        return []
    return list(db.scalars(query))


# ---------------------------------------------------------------------- roster
class AttemptState(Protocol):
    """What a candidate's status is read from: an ``Attempt`` entity or a ``RosterRecord``."""

    @property
    def status(self) -> str: ...
    @property
    def terminal_sid(self) -> str | None: ...
    @property
    def terminal_seen_at(self) -> dt.datetime | None: ...
    @property
    def first_login_at(self) -> dt.datetime | None: ...
    @property
    def verified_at(self) -> dt.datetime | None: ...
    @property
    def absent_at(self) -> dt.datetime | None: ...
    @property
    def expelled_at(self) -> dt.datetime | None: ...


class RosterRecord(NamedTuple):
    """One roster row as read, plain values under the attribute names of ``Attempt``,
    ``Registration`` and ``Candidate`` (so ``candidate_status``, ``is_online`` and ``Clock.of``
    read it as they read an entity). A named tuple: its fields are read several dozen times per
    row, many times faster than a SQLAlchemy ``Row``'s."""

    session_id: int
    id: int
    paper_id: int
    status: str
    duration_ms: int
    earliest_submit_ms: int
    started_at: dt.datetime | None
    deadline_at: dt.datetime | None
    paused_at: dt.datetime | None
    extension_ms: int
    paused_ms: int
    credited_ms: int
    terminal_sid: str | None
    terminal_seen_at: dt.datetime | None
    first_login_at: dt.datetime | None
    verified_at: dt.datetime | None
    absent_at: dt.datetime | None
    expelled_at: dt.datetime | None
    focus_losses: int
    answered_count: int
    last_activity_at: dt.datetime | None
    pause_reason: str
    score: float | None
    passed: bool | None
    seat: int
    admission_no: str
    candidate_id: int
    name: str
    id_number: str
    employer: str
    job_type: str
    photo_media_id: int | None
    incidents: int


def candidate_status(attempt: AttemptState, now: dt.datetime) -> str:
    """The state a proctor sees for one candidate."""
    if attempt.expelled_at is not None:
        return "expelled"
    if attempt.absent_at is not None:
        return "absent"
    if attempt.status == AttemptStatus.submitted.value:
        return "submitted"
    if attempt.status == AttemptStatus.paused.value:
        return "paused"
    if attempt.status == AttemptStatus.running.value:
        return "answering" if is_online(attempt, now) else "offline"
    if attempt.verified_at is not None:
        return "verified"
    if attempt.first_login_at is not None:
        return "logged_in"
    return "not_arrived"


def is_online(attempt: AttemptState, now: dt.datetime) -> bool:
    seen = attempt.terminal_seen_at
    return (
        attempt.terminal_sid is not None
        and seen is not None
        and now - seen < delivery.TERMINAL_STALE
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_attempt = Attempt.__table__.c
_registration = Registration.__table__.c
_candidate = Candidate.__table__.c
_incident = Incident.__table__.c

# The columns of a ``RosterRecord``, in its order: no ORM entities are built for the roster,
# which is read for every watch and, through the pusher, several times a second in an exam.
_ROSTER_COLUMNS = (
    _attempt.session_id,
    _attempt.id,
    _attempt.paper_id,
    *(_attempt[name] for name in CLOCK_FIELDS),
    _attempt.terminal_sid,
    _attempt.terminal_seen_at,
    _attempt.first_login_at,
    _attempt.verified_at,
    _attempt.absent_at,
    _attempt.expelled_at,
    _attempt.focus_losses,
    _attempt.answered_count,
    _attempt.last_activity_at,
    _attempt.pause_reason,
    _attempt.score,
    _attempt.passed,
    _registration.seat,
    _registration.admission_no,
    _registration.candidate_id,
    _candidate.name,
    _candidate.id_number,
    _candidate.employer,
    _candidate.job_type,
    _candidate.photo_media_id,
    # A correlated count, not a grouped outer join. Measured on SQLite, 1,000-seat room: the
    # whole room about 13 ms either way; 2 attempts 0.09 ms against 1.3 ms once the database holds
    # 20,000 incidents, since the join counts every incident where this reads two index ranges.
    select(func.count(_incident.id))
    .where(_incident.attempt_id == _attempt.id)
    .scalar_subquery()
    .label("incidents"),
)
assert tuple(c.name for c in _ROSTER_COLUMNS) == RosterRecord._fields


def roster(
    db: Session | Connection,
    session_id: int,
    now: dt.datetime,
    attempt_ids: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """The roster rows of a session (or of some of its attempts), by seat: one query, any size."""
    return [row for _session, row in roster_rows(db, now, [session_id], attempt_ids)]


def roster_rows(
    db: Session | Connection,
    now: dt.datetime,
    session_ids: Iterable[int] | None,
    attempt_ids: Iterable[int] | None,
) -> list[tuple[int, dict[str, Any]]]:
    """(session id, roster row) pairs of some sessions and/or attempts, in one query.

    The proctor pusher asks for every attempt a few batches changed, whatever their rooms, at
    once. ``None`` means no filter on that side; an empty collection means no rows.
    """
    params: dict[str, list[int]] = {}
    for key, values in (("session_ids", session_ids), ("attempt_ids", attempt_ids)):
        if values is not None:
            params[key] = sorted(set(values))
            if not params[key]:
                return []
    conn = db if isinstance(db, Connection) else db.connection()
    query = _roster_query("session_ids" in params, "attempt_ids" in params)
    rows = [RosterRecord._make(r) for r in conn.execute(query, params)]
    totals = item_totals(conn, {r.paper_id for r in rows})
    return [(r.session_id, roster_row(r, totals.get(r.paper_id, 0), now)) for r in rows]


@functools.cache
def _roster_query(by_session: bool, by_attempt: bool) -> Select[Any]:
    """The roster's statement, built once per filter shape: a fixed statement with expanding
    parameters memoizes its cache key, where a new one per call costs more than the query."""
    query = (
        select(*_ROSTER_COLUMNS)
        .select_from(
            Attempt.__table__.join(
                Registration.__table__, _registration.id == _attempt.registration_id
            ).join(Candidate.__table__, _candidate.id == _registration.candidate_id)
        )
        .order_by(_registration.seat, _registration.id)
    )
    if by_session:
        query = query.where(_attempt.session_id.in_(bindparam("session_ids", expanding=True)))
    if by_attempt:
        query = query.where(_attempt.id.in_(bindparam("attempt_ids", expanding=True)))
    return query


# A drawn paper's items never change, so its item total is read once per process: a bounded,
# immutable cache like ``delivery.service.paper_view``'s, keyed by database and paper.
ITEM_TOTAL_CACHE = 16384
_ITEM_TOTALS: OrderedDict[tuple[str, int], int] = OrderedDict()
_TOTALS_LOCK = threading.Lock()


def item_totals(conn: Connection, paper_ids: Iterable[int]) -> dict[int, int]:
    """The number of items on each paper, from the cache or one grouped query for the rest."""
    from examserver.papers.models import PaperItem

    url = str(conn.engine.url)
    totals: dict[int, int] = {}
    with _TOTALS_LOCK:
        for paper_id in paper_ids:
            total = _ITEM_TOTALS.get((url, paper_id))
            if total is not None:
                _ITEM_TOTALS.move_to_end((url, paper_id))
                totals[paper_id] = total
    missing = sorted(set(paper_ids) - set(totals))
    if not missing:
        return totals
    items = PaperItem.__table__.c
    counted = {
        paper_id: int(count)
        for paper_id, count in conn.execute(
            select(items.paper_id, func.count())
            .where(items.paper_id.in_(missing))
            .group_by(items.paper_id)
        )
    }
    totals.update(counted)
    with _TOTALS_LOCK:
        # A paper without items is not cached: it is not a drawn paper (yet), so ask again.
        for paper_id, count in counted.items():
            _ITEM_TOTALS[(url, paper_id)] = count
        while len(_ITEM_TOTALS) > ITEM_TOTAL_CACHE:
            _ITEM_TOTALS.popitem(last=False)
    return totals


def roster_row(source: RosterRecord, total: int, now: dt.datetime) -> dict[str, Any]:
    """One candidate's roster row (docs/protocol.md, the ``candidate`` event), as of ``now``."""
    from examserver.identity import mask_id_number

    online = is_online(source, now)
    submitted = source.status == AttemptStatus.submitted.value
    return {
        "as_of": now.isoformat(),
        "candidate_id": source.candidate_id,
        "attempt_id": source.id,
        "name": source.name,
        "seat": source.seat,
        "admission_no": source.admission_no,
        "id_number_masked": mask_id_number(source.id_number),
        "employer": source.employer,
        "job_type": source.job_type,
        "photo_url": f"/media/{source.photo_media_id}" if source.photo_media_id else None,
        "verified_at": _iso(source.verified_at),
        "status": candidate_status(source, now),
        "answered": source.answered_count,
        "total": total,
        "remaining_ms": Clock.of(source).remaining_ms(now),
        "deadline_at": _iso(source.deadline_at),
        "online": online,
        "offline_since": None if online else _iso(source.terminal_seen_at),
        "last_activity": _iso(source.last_activity_at or source.terminal_seen_at),
        "incidents": int(source.incidents),
        "focus_losses": source.focus_losses,
        "pause_reason": source.pause_reason if source.status == AttemptStatus.paused.value else "",
        "score": source.score if submitted else None,
        "passed": source.passed if submitted else None,
    }


def counters(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The room's counters: present, answering, submitted, offline, absent, total."""
    statuses = [r["status"] for r in rows]
    return {
        "total": len(rows),
        "present": sum(s not in ("not_arrived", "absent") for s in statuses),
        "answering": statuses.count("answering"),
        "submitted": statuses.count("submitted") + statuses.count("expelled"),
        "offline": statuses.count("offline"),
        "absent": statuses.count("absent"),
        "paused": statuses.count("paused"),
    }


def event_row(event: RoomEvent, names: dict[int, str] | None = None) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": _iso(event.at),
        "kind": event.kind,
        "attempt_id": event.attempt_id,
        "actor": event.actor.display_name if event.actor is not None else None,
        "reason": event.reason,
        "detail": event.detail or {},
    }


def pending_incidents(db: Session, session_id: int) -> list[dict[str, Any]]:
    """Expulsions recorded in a room and still waiting for a second staff member."""
    rows = db.scalars(
        select(Incident)
        .where(
            Incident.session_id == session_id,
            Incident.kind == IncidentKind.expulsion.value,
            Incident.confirmed_at.is_(None),
        )
        .order_by(Incident.recorded_at)
    ).all()
    return [
        {
            "incident_id": i.id,
            "attempt_id": i.attempt_id,
            "note": i.note,
            "recorded_by": i.recorded_by.display_name if i.recorded_by else None,
            "recorded_by_id": i.recorded_by_id,
            "at": _iso(i.recorded_at),
        }
        for i in rows
    ]


def recent_events(db: Session, session_id: int, limit: int = 200) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(RoomEvent)
        .where(RoomEvent.session_id == session_id)
        .order_by(RoomEvent.at.desc(), RoomEvent.id.desc())
        .limit(limit)
    ).all()
    return [event_row(e) for e in reversed(rows)]


def log_event(
    db: Session,
    session_id: int,
    kind: str,
    now: dt.datetime,
    attempt_id: int | None = None,
    actor: User | None = None,
    reason: str = "",
    **detail: Any,
) -> RoomEvent:
    """Write one line of the room's log (also terminal events: logins, disconnects, focus)."""
    event = RoomEvent(
        session_id=session_id,
        attempt_id=attempt_id,
        actor_id=actor.id if actor is not None else None,
        kind=kind,
        reason=reason,
        detail=detail,
        at=now,
    )
    event.actor = actor
    db.add(event)
    db.flush()
    return event


# ---------------------------------------------------------------------- actions
def _session(db: Session, session_id: Any) -> ExamSession:
    if isinstance(session_id, bool) or not isinstance(session_id, int):
        raise ProctorError("bad_payload")
    exam_session = db.get(ExamSession, session_id)
    if exam_session is None:
        raise ProctorError("unknown_session", status=404)
    return exam_session


def _attempts(
    db: Session, exam_session: ExamSession, candidate_id: Any, allow_all: bool
) -> list[Attempt]:
    """The attempts an action targets: one candidate of this session, or all when allowed."""
    query = (
        select(Attempt)
        .join(Registration, Registration.id == Attempt.registration_id)
        .where(Attempt.session_id == exam_session.id)
    )
    if candidate_id is None:
        if not allow_all:
            raise ProctorError("bad_payload")
        return list(db.scalars(query.order_by(Registration.seat)))
    if isinstance(candidate_id, bool) or not isinstance(candidate_id, int):
        raise ProctorError("bad_payload")
    attempt = db.scalar(query.where(Registration.candidate_id == candidate_id))
    if attempt is None:
        raise ProctorError("unknown_candidate", status=404)
    return [attempt]


def _text(value: Any, required: bool, field_code: str = "reason_required") -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ProctorError("bad_payload")
    value = value.strip()
    if required and not value:
        raise ProctorError(field_code)
    return value


def _finished(attempt: Attempt) -> bool:
    return attempt.status == AttemptStatus.submitted.value or attempt.absent_at is not None


def verify(
    db: Session, user: User, session_id: Any, candidate_id: Any, now: dt.datetime
) -> Outcome:
    """Record that the proctor checked the candidate's ID card against photo and details.

    After the room has started, a verified late arrival (within 30 minutes) starts at once,
    with the time left to the room's common end.
    """
    exam_session = _session(db, session_id)
    (attempt,) = _attempts(db, exam_session, candidate_id, allow_all=False)
    outcome = Outcome(attempts={attempt.id})
    if attempt.absent_at is not None or attempt.expelled_at is not None:
        raise ProctorError("not_waiting")
    if attempt.verified_at is None:
        attempt.verified_at = now
        attempt.verified_by_id = user.id
        outcome.events.append(log_event(db, exam_session.id, "verify", now, attempt.id, user))
    started = exam_session.room_started_at
    if (
        started is not None
        and exam_session.start_mode == StartMode.proctor.value
        and attempt.status == AttemptStatus.waiting.value
    ):
        if now - started > LATE_ENTRY:
            raise ProctorError("too_late")
        _start_one(db, attempt, exam_session, now)
        outcome.events.append(log_event(db, exam_session.id, "late_start", now, attempt.id, user))
    db.flush()
    return outcome


def mark_absent(
    db: Session, user: User, session_id: Any, candidate_id: Any, now: dt.datetime
) -> Outcome:
    """Mark a candidate who has not started as absent (缺考)."""
    exam_session = _session(db, session_id)
    (attempt,) = _attempts(db, exam_session, candidate_id, allow_all=False)
    if attempt.absent_at is not None:
        return Outcome(attempts={attempt.id})
    if attempt.status != AttemptStatus.waiting.value:
        raise ProctorError("already_started")
    attempt.absent_at = now
    event = log_event(db, exam_session.id, "mark_absent", now, attempt.id, user)
    return Outcome(attempts={attempt.id}, events=[event])


def _start_one(db: Session, attempt: Attempt, exam_session: ExamSession, now: dt.datetime) -> None:
    delivery.start_attempt(db, attempt.id, now, by_proctor=True)
    started = exam_session.room_started_at
    if started is not None and attempt.deadline_at is not None:
        # Late arrivals end with the room: their clock starts at the room's start.
        common_end = started + dt.timedelta(milliseconds=attempt.clock().allowed_ms)
        attempt.deadline_at = min(attempt.deadline_at, common_end)


def start_room(db: Session, user: User, session_id: Any, now: dt.datetime) -> Outcome:
    """Start every verified, waiting candidate of a proctor-mode room at the same instant."""
    exam_session = _session(db, session_id)
    if exam_session.start_mode != StartMode.proctor.value:
        raise ProctorError("not_proctor_mode")
    if exam_session.closed_at is not None:
        raise ProctorError("session_closed")
    if now < exam_session.opens_at:
        raise ProctorError("session_not_open")
    delivery.open_session(db, exam_session, now)
    outcome = Outcome()
    first = exam_session.room_started_at is None
    if first:
        exam_session.room_started_at = now
    started = []
    for attempt in _attempts(db, exam_session, None, allow_all=True):
        if (
            attempt.status == AttemptStatus.waiting.value
            and attempt.verified_at is not None
            and attempt.absent_at is None
        ):
            delivery.start_attempt(db, attempt.id, now, by_proctor=True)
            started.append(attempt.id)
    outcome.attempts.update(started)
    if first or started:
        outcome.events.append(
            log_event(db, exam_session.id, "start_room", now, None, user, started=len(started))
        )
    outcome.result = {"started": len(started)}
    outcome.session_changed = first
    return outcome


def pause(
    db: Session, user: User, session_id: Any, candidate_id: Any, reason: Any, now: dt.datetime
) -> Outcome:
    """Pause one candidate or the whole room: their time stands still. Idempotent."""
    exam_session = _session(db, session_id)
    text = _text(reason, required=True)
    outcome = Outcome()
    for attempt in _attempts(db, exam_session, candidate_id, allow_all=True):
        if attempt.status != AttemptStatus.running.value:
            if candidate_id is not None and attempt.status != AttemptStatus.paused.value:
                raise ProctorError("not_running")
            continue
        attempt.set_clock(attempt.clock().pause(now))
        attempt.pause_reason = text
        outcome.attempts.add(attempt.id)
        outcome.events.append(log_event(db, exam_session.id, "pause", now, attempt.id, user, text))
    db.flush()
    return outcome


def resume(
    db: Session, user: User, session_id: Any, candidate_id: Any, now: dt.datetime
) -> Outcome:
    """Resume paused candidates: their deadline moves by the time they stood still."""
    exam_session = _session(db, session_id)
    outcome = Outcome()
    for attempt in _attempts(db, exam_session, candidate_id, allow_all=True):
        if attempt.status != AttemptStatus.paused.value:
            if candidate_id is not None and attempt.status != AttemptStatus.running.value:
                raise ProctorError("not_paused")
            continue
        attempt.set_clock(attempt.clock().resume(now))
        attempt.pause_reason = ""
        outcome.attempts.add(attempt.id)
        outcome.events.append(log_event(db, exam_session.id, "resume", now, attempt.id, user))
    db.flush()
    return outcome


def extend(
    db: Session,
    user: User,
    session_id: Any,
    candidate_id: Any,
    minutes: Any,
    reason: Any,
    now: dt.datetime,
) -> Outcome:
    """Give one candidate or everyone not yet submitted more time, with a reason."""
    exam_session = _session(db, session_id)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise ProctorError("bad_payload")
    if not 1 <= minutes <= MAX_EXTENSION_MIN:
        raise ProctorError("bad_extension")
    text = _text(reason, required=True)
    outcome = Outcome()
    for attempt in _attempts(db, exam_session, candidate_id, allow_all=True):
        if _finished(attempt) or attempt.expelled_at is not None:
            if candidate_id is not None:
                raise ProctorError("already_submitted")
            continue
        if candidate_id is None and attempt.status == AttemptStatus.waiting.value:
            continue  # the whole room's extension is for those sitting the exam
        try:
            attempt.set_clock(attempt.clock().extend(minutes * 60_000))
        except ClockError as exc:
            raise ProctorError(exc.code) from exc
        outcome.attempts.add(attempt.id)
        outcome.events.append(
            log_event(db, exam_session.id, "extend", now, attempt.id, user, text, minutes=minutes)
        )
    db.flush()
    return outcome


def force_submit(
    db: Session, user: User, session_id: Any, candidate_id: Any, reason: Any, now: dt.datetime
) -> Outcome:
    """Submit a candidate's paper now; racing the candidate's own submit grades once."""
    exam_session = _session(db, session_id)
    text = _text(reason, required=True)
    (attempt,) = _attempts(db, exam_session, candidate_id, allow_all=False)
    if attempt.status == AttemptStatus.waiting.value:
        raise ProctorError("not_running")
    submission = delivery.submit_attempt(db, attempt.id, now, reason="proctor")
    outcome = Outcome(attempts={attempt.id})
    if not submission.already:
        outcome.events.append(
            log_event(db, exam_session.id, "force_submit", now, attempt.id, user, text)
        )
    outcome.result = {"already": submission.already, "score": submission.score}
    return outcome


def release_terminal(
    db: Session, user: User, session_id: Any, candidate_id: Any, reason: Any, now: dt.datetime
) -> Outcome:
    """Free a candidate from a terminal that hangs, so they can continue on another one.

    The old token is revoked (a new login is needed) and the old socket is disconnected.
    """
    exam_session = _session(db, session_id)
    text = _text(reason, required=True)
    (attempt,) = _attempts(db, exam_session, candidate_id, allow_all=False)
    outcome = Outcome(attempts={attempt.id})
    if attempt.terminal_sid:
        outcome.disconnect_sids.append(attempt.terminal_sid)
    attempt.terminal_sid = None
    attempt.terminal_id = ""
    attempt.token_nonce = secrets.token_hex(8)
    outcome.events.append(
        log_event(db, exam_session.id, "release_terminal", now, attempt.id, user, text)
    )
    db.flush()
    return outcome


def record_incident(
    db: Session,
    user: User,
    session_id: Any,
    candidate_id: Any,
    kind: Any,
    note: Any,
    now: dt.datetime,
) -> Outcome:
    """Record a warning, or propose an expulsion that a second staff member must confirm."""
    exam_session = _session(db, session_id)
    if kind not in IncidentKind.__members__:
        raise ProctorError("bad_incident_kind")
    text = _text(note, required=True, field_code="note_required")
    (attempt,) = _attempts(db, exam_session, candidate_id, allow_all=False)
    if attempt.expelled_at is not None:
        raise ProctorError("already_expelled")
    incident = Incident(
        session_id=exam_session.id,
        attempt_id=attempt.id,
        kind=kind,
        note=text,
        recorded_by_id=user.id,
        recorded_at=now,
    )
    db.add(incident)
    db.flush()
    event = log_event(
        db, exam_session.id, "incident", now, attempt.id, user, text, incident_kind=kind,
        incident_id=incident.id, pending=kind == IncidentKind.expulsion.value,
    )  # fmt: skip
    return Outcome(attempts={attempt.id}, events=[event], result={"incident_id": incident.id})


def confirm_incident(
    db: Session, user: User, session_id: Any, incident_id: Any, now: dt.datetime
) -> Outcome:
    """Confirm an expulsion as the second staff member: the attempt ends, invalid, score 0."""
    exam_session = _session(db, session_id)
    if isinstance(incident_id, bool) or not isinstance(incident_id, int):
        raise ProctorError("bad_payload")
    incident = db.get(Incident, incident_id)
    if incident is None or incident.session_id != exam_session.id:
        raise ProctorError("unknown_incident", status=404)
    if incident.kind != IncidentKind.expulsion.value:
        raise ProctorError("not_an_expulsion")
    if incident.confirmed_at is not None:
        return Outcome(attempts={incident.attempt_id})
    if incident.recorded_by_id == user.id:
        raise ProctorError("second_staff_required")
    incident.confirmed_by_id = user.id
    incident.confirmed_at = now
    attempt = db.get(Attempt, incident.attempt_id)
    assert attempt is not None
    db.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id)
        .values(
            status=AttemptStatus.submitted.value,
            paused_at=None,
            submitted_at=func.coalesce(Attempt.submitted_at, now),
            submit_reason="expelled",
            score=0,
            passed=False,
            expelled_at=now,
        )
    )
    db.refresh(attempt)
    event = log_event(
        db, exam_session.id, "expel", now, attempt.id, user, incident.note,
        incident_id=incident.id, recorded_by=incident.recorded_by_id,
    )  # fmt: skip
    return Outcome(attempts={attempt.id}, events=[event])


def announce(db: Session, user: User, session_id: Any, text: Any, now: dt.datetime) -> Outcome:
    """Send a message to every terminal of the room."""
    exam_session = _session(db, session_id)
    message = _text(text, required=True, field_code="text_required")
    event = log_event(db, exam_session.id, "announce", now, None, user, message)
    return Outcome(events=[event], announcement=message)


def close_session(db: Session, user: User, session_id: Any, now: dt.datetime) -> Outcome:
    """Close the session: submit what is still open, mark who never came as absent."""
    exam_session = _session(db, session_id)
    outcome = Outcome()
    if exam_session.closed_at is not None:
        return outcome
    submitted = absent = 0
    for attempt in _attempts(db, exam_session, None, allow_all=True):
        if attempt.absent_at is not None or attempt.status == AttemptStatus.submitted.value:
            continue
        if attempt.status == AttemptStatus.waiting.value:
            attempt.absent_at = now
            absent += 1
        else:
            delivery.submit_attempt(db, attempt.id, now, reason="closed")
            submitted += 1
        outcome.attempts.add(attempt.id)
    exam_session.closed_at = now
    exam_session.status = "closed"
    outcome.events.append(
        log_event(
            db,
            exam_session.id,
            "close_session",
            now,
            None,
            user,
            submitted=submitted,
            absent=absent,
        )  # fmt: skip
    )
    outcome.result = {"submitted": submitted, "absent": absent}
    outcome.session_changed = True
    db.flush()
    return outcome
