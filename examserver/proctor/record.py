"""The exam-room record (考场记录) that the proctors fill in and sign (104号 §16).

``room_record`` gathers what happened in one room as plain values, in the exam centre's local
time; ``record_sheet`` turns it into the translated lines that both the print view and the PDF
show, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from examserver.auth.models import User
from examserver.delivery.clock import AttemptStatus, ms
from examserver.delivery.models import Attempt
from examserver.identity import mask_id_number
from examserver.proctor.models import Incident, IncidentKind, RoomEvent, SessionStaff
from examserver.proctor.service import ProctorError, candidate_status
from examserver.records.service import format_points as card_points
from examserver.records.service import kind_label
from examserver.sessions.models import Candidate, ExamSession, Registration

# Events a terminal reports: summarised per candidate, not listed one by one.
TERMINAL_KINDS = frozenset(
    {"login", "connect", "moved", "disconnect", "focus_lost", "focus_back", "submit"}
)
# Room events that are actions even when nobody is named as their actor.
ACTION_KINDS = frozenset(
    {
        "verify",
        "late_start",
        "mark_absent",
        "start_room",
        "pause",
        "resume",
        "extend",
        "force_submit",
        "release_terminal",
        "incident",
        "expel",
        "announce",
        "close_session",
    }
)
MIN_SIGNATURE_LINES = 2
CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8), "CST")


# ---------------------------------------------------------------------- the record's data
@dataclass(frozen=True)
class RosterLine:
    """One registered candidate, by seat."""

    seat: int
    admission_no: str
    name: str
    id_number_masked: str
    status: str
    attempt_id: int | None = None
    first_login_at: dt.datetime | None = None
    verified_at: dt.datetime | None = None
    verified_by: str = ""
    started_at: dt.datetime | None = None
    submitted_at: dt.datetime | None = None
    submit_reason: str = ""
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    incidents: int = 0
    extension_ms: int = 0
    paused_ms: int = 0
    credited_ms: int = 0
    focus_losses: int = 0
    terminal_moves: int = 0
    disconnects: int = 0


@dataclass(frozen=True)
class Attendance:
    """Who came, who did not, and how their exams ended."""

    registered: int
    present: int
    absent: int
    not_arrived: int
    submitted: int
    expelled: int
    in_progress: int
    passed: int
    absentees: list[RosterLine]
    not_arrived_list: list[RosterLine]


@dataclass(frozen=True)
class IncidentLine:
    """A violation: a warning, or an expulsion with the second staff member's confirmation."""

    at: dt.datetime
    seat: int
    name: str
    admission_no: str
    kind: str
    note: str
    recorded_by: str
    confirmed_by: str = ""
    confirmed_at: dt.datetime | None = None

    @property
    def pending(self) -> bool:
        """Whether this is an expulsion still waiting for its confirmation."""
        return self.kind == IncidentKind.expulsion.value and self.confirmed_at is None


@dataclass(frozen=True)
class ActionLine:
    """One proctor action; an action on several candidates at once is one line."""

    at: dt.datetime
    actor: str
    kind: str
    candidates: list[tuple[int, str]]
    reason: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Interval:
    """A pause of one candidate: ``end`` is None while it lasts."""

    start: dt.datetime
    end: dt.datetime | None
    reason: str
    actor: str


@dataclass(frozen=True)
class Extension:
    at: dt.datetime
    minutes: int
    reason: str
    actor: str


@dataclass(frozen=True)
class AdjustmentLine:
    """A candidate whose time was changed: extensions, pauses, time given back after a stop."""

    seat: int
    name: str
    extension_ms: int
    extensions: list[Extension]
    paused_ms: int
    pauses: list[Interval]
    credited_ms: int


@dataclass(frozen=True)
class StaffMember:
    name: str
    duty: str


@dataclass(frozen=True)
class RoomRecord:
    """Everything the exam-room record shows; times are in the exam centre's zone."""

    session_id: int
    issuer: str
    exam_point: str
    room: str
    session_code: str
    session_name: str
    exam_name: str
    blueprint_code: str
    exam_kind: str
    start_mode: str
    duration_min: int
    pass_score: float
    opens_at: dt.datetime
    closes_at: dt.datetime
    room_started_at: dt.datetime | None
    closed_at: dt.datetime | None
    generated_at: dt.datetime
    roster: list[RosterLine]
    attendance: Attendance
    incidents: list[IncidentLine]
    actions: list[ActionLine]
    adjustments: list[AdjustmentLine]
    terminals: list[RosterLine]
    staff: list[StaffMember] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        """Whether the session has been closed (the record is final)."""
        return self.closed_at is not None

    @property
    def proctors(self) -> list[str]:
        return [s.name for s in self.staff if s.duty == "proctor"]

    @property
    def inspectors(self) -> list[str]:
        return [s.name for s in self.staff if s.duty == "inspector"]


def zone_of(name: str) -> dt.tzinfo:
    """Return the time zone called ``name``; China's fixed offset if the tz database is absent."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == "Asia/Shanghai":  # China has no daylight saving time
            return CHINA_STANDARD_TIME
        raise


def _name(user: User | None) -> str:
    if user is None:
        return ""
    return str(user.display_name or user.username)


def room_record(
    db: Session,
    session_id: int,
    now: dt.datetime,
    *,
    issuer: str = "",
    timezone: str = "Asia/Shanghai",
) -> RoomRecord:
    """Gather the exam-room record of a session as it stands at ``now`` (open or closed)."""
    exam_session = db.get(ExamSession, session_id)
    if exam_session is None:
        raise ProctorError("unknown_session", status=404)
    zone = zone_of(timezone)

    def local(value: dt.datetime | None) -> dt.datetime | None:
        return value.astimezone(zone) if value is not None else None

    rows = db.execute(
        select(Registration, Candidate, Attempt)
        .join(Candidate, Candidate.id == Registration.candidate_id)
        .outerjoin(Attempt, Attempt.registration_id == Registration.id)
        .where(Registration.session_id == session_id)
        .order_by(Registration.seat, Registration.id)
    ).all()
    events = list(
        db.scalars(
            select(RoomEvent)
            .where(RoomEvent.session_id == session_id)
            .order_by(RoomEvent.at, RoomEvent.id)
        )
    )
    incidents = list(
        db.scalars(
            select(Incident)
            .where(Incident.session_id == session_id)
            .order_by(Incident.recorded_at, Incident.id)
        )
    )
    staff_rows = db.execute(
        select(SessionStaff.duty, User)
        .join(User, User.id == SessionStaff.user_id)
        .where(SessionStaff.session_id == session_id)
        .order_by(SessionStaff.id)
    ).all()
    user_ids = {e.actor_id for e in events} | {a.verified_by_id for _r, _c, a in rows if a}
    user_ids |= {i.recorded_by_id for i in incidents} | {i.confirmed_by_id for i in incidents}
    users = {
        u.id: _name(u)
        for u in db.scalars(select(User).where(User.id.in_([i for i in user_ids if i])))
    }

    per_attempt: dict[int, Counter[str]] = {}
    for event in events:
        if event.attempt_id is not None:
            per_attempt.setdefault(event.attempt_id, Counter())[event.kind] += 1
    incident_counts = Counter(i.attempt_id for i in incidents)

    roster: list[RosterLine] = []
    by_attempt: dict[int, RosterLine] = {}
    for registration, candidate, attempt in rows:
        line = _roster_line(
            registration,
            candidate,
            attempt,
            exam_session,
            now,
            local,
            users,
            incident_counts,
            per_attempt,
        )
        roster.append(line)
        if line.attempt_id is not None:
            by_attempt[line.attempt_id] = line

    return RoomRecord(
        session_id=exam_session.id,
        issuer=issuer,
        exam_point=exam_session.exam_point,
        room=exam_session.room,
        session_code=exam_session.code,
        session_name=exam_session.name,
        exam_name=exam_session.blueprint.name,
        blueprint_code=exam_session.blueprint.code,
        exam_kind=exam_session.kind,
        start_mode=exam_session.start_mode,
        duration_min=exam_session.blueprint.duration_min,
        pass_score=float(exam_session.blueprint.pass_score),
        opens_at=exam_session.opens_at.astimezone(zone),
        closes_at=exam_session.closes_at.astimezone(zone),
        room_started_at=local(exam_session.room_started_at),
        closed_at=local(exam_session.closed_at),
        generated_at=now.astimezone(zone),
        roster=roster,
        attendance=attendance_of(roster),
        incidents=[_incident_line(i, by_attempt, users, zone) for i in incidents],
        actions=action_lines(events, by_attempt, users, zone),
        adjustments=_adjustments(
            roster, events, users, zone, {a.id: a for _r, _c, a in rows if a is not None}
        ),
        terminals=[r for r in roster if r.focus_losses or r.terminal_moves or r.disconnects],
        staff=[StaffMember(_name(user), duty) for duty, user in staff_rows],
    )


def _roster_line(
    registration: Registration,
    candidate: Candidate,
    attempt: Attempt | None,
    exam_session: ExamSession,
    now: dt.datetime,
    local: Callable[[dt.datetime | None], dt.datetime | None],
    users: dict[int, str],
    incident_counts: Counter[int],
    per_attempt: dict[int, Counter[str]],
) -> RosterLine:
    base = RosterLine(
        seat=registration.seat,
        admission_no=registration.admission_no,
        name=candidate.name,
        id_number_masked=mask_id_number(candidate.id_number),
        status="not_arrived",
    )
    if attempt is None:
        # No paper was drawn: nobody could sit; at the close that is an absence.
        return replace(base, status="absent") if exam_session.closed_at is not None else base
    kinds = per_attempt.get(attempt.id, Counter())
    submitted = attempt.status == AttemptStatus.submitted.value
    return replace(
        base,
        status=candidate_status(attempt, now),
        attempt_id=attempt.id,
        first_login_at=local(attempt.first_login_at),
        verified_at=local(attempt.verified_at),
        verified_by=users.get(attempt.verified_by_id or 0, ""),
        started_at=local(attempt.started_at),
        submitted_at=local(attempt.submitted_at),
        submit_reason=attempt.submit_reason if submitted else "",
        score=float(attempt.score) if submitted and attempt.score is not None else None,
        max_score=float(attempt.max_score) if submitted and attempt.max_score is not None else None,
        passed=attempt.passed if submitted else None,
        incidents=incident_counts.get(attempt.id, 0),
        extension_ms=attempt.extension_ms,
        paused_ms=_paused_ms(attempt, now),
        credited_ms=attempt.credited_ms,
        focus_losses=max(attempt.focus_losses, kinds["focus_lost"]),
        # A move after a stale terminal, or a release by the proctor (the old one hung).
        terminal_moves=kinds["moved"] + kinds["release_terminal"],
        disconnects=kinds["disconnect"],
    )


def _paused_ms(attempt: Attempt, now: dt.datetime) -> int:
    """Time stood still so far, the pause still running included."""
    ongoing = 0
    if attempt.status == AttemptStatus.paused.value and attempt.paused_at is not None:
        ongoing = max(0, ms(now - attempt.paused_at))
    return attempt.paused_ms + ongoing


def attendance_of(roster: Sequence[RosterLine]) -> Attendance:
    """Count the roster: registered, present, absent, submitted, expelled, passed."""
    statuses = Counter(r.status for r in roster)
    absent = statuses["absent"]
    not_arrived = statuses["not_arrived"]
    present = len(roster) - absent - not_arrived
    submitted = statuses["submitted"]
    expelled = statuses["expelled"]
    return Attendance(
        registered=len(roster),
        present=present,
        absent=absent,
        not_arrived=not_arrived,
        submitted=submitted,
        expelled=expelled,
        in_progress=present - submitted - expelled,
        passed=sum(1 for r in roster if r.status == "submitted" and r.passed),
        absentees=[r for r in roster if r.status == "absent"],
        not_arrived_list=[r for r in roster if r.status == "not_arrived"],
    )


def _incident_line(
    incident: Incident, by_attempt: dict[int, RosterLine], users: dict[int, str], zone: dt.tzinfo
) -> IncidentLine:
    line = by_attempt.get(incident.attempt_id)
    return IncidentLine(
        at=incident.recorded_at.astimezone(zone),
        seat=line.seat if line else 0,
        name=line.name if line else "",
        admission_no=line.admission_no if line else "",
        kind=incident.kind,
        note=incident.note,
        recorded_by=users.get(incident.recorded_by_id, ""),
        confirmed_by=users.get(incident.confirmed_by_id or 0, ""),
        confirmed_at=incident.confirmed_at.astimezone(zone) if incident.confirmed_at else None,
    )


def action_lines(
    events: Iterable[RoomEvent],
    by_attempt: dict[int, RosterLine],
    users: dict[int, str],
    zone: dt.tzinfo,
) -> list[ActionLine]:
    """The proctors' actions in order; one action on many candidates (pause all) is one line."""
    lines: list[ActionLine] = []
    last_key: tuple[Any, ...] | None = None
    for event in events:
        if event.kind in TERMINAL_KINDS or (
            event.actor_id is None and event.kind not in ACTION_KINDS
        ):
            continue
        detail = dict(event.detail or {})
        candidate = by_attempt.get(event.attempt_id or 0)
        key = (
            event.at,
            event.actor_id,
            event.kind,
            event.reason,
            json.dumps(detail, sort_keys=True, default=str),
        )
        if candidate is not None and key == last_key and lines[-1].candidates:
            lines[-1].candidates.append((candidate.seat, candidate.name))
            continue
        lines.append(
            ActionLine(
                at=event.at.astimezone(zone),
                actor=users.get(event.actor_id or 0, ""),
                kind=event.kind,
                candidates=[(candidate.seat, candidate.name)] if candidate else [],
                reason=event.reason,
                detail=detail,
            )
        )
        last_key = key if candidate is not None else None
    return lines


def _adjustments(
    roster: Sequence[RosterLine],
    events: Sequence[RoomEvent],
    users: dict[int, str],
    zone: dt.tzinfo,
    attempts: dict[int, Attempt],
) -> list[AdjustmentLine]:
    """Each candidate whose time changed, with every extension and pause and who gave it."""
    extensions: dict[int, list[Extension]] = {}
    pauses: dict[int, list[Interval]] = {}
    for event in events:
        if event.attempt_id is None:
            continue
        actor = users.get(event.actor_id or 0, "")
        at = event.at.astimezone(zone)
        if event.kind == "extend":
            minutes = int((event.detail or {}).get("minutes", 0))
            extensions.setdefault(event.attempt_id, []).append(
                Extension(at, minutes, event.reason, actor)
            )
        elif event.kind == "pause":
            pauses.setdefault(event.attempt_id, []).append(Interval(at, None, event.reason, actor))
        elif event.kind == "resume":
            open_pauses = pauses.get(event.attempt_id, [])
            if open_pauses and open_pauses[-1].end is None:
                last = open_pauses[-1]
                open_pauses[-1] = Interval(last.start, at, last.reason, last.actor)
    lines = []
    for line in roster:
        if line.attempt_id is None:
            continue
        its_pauses = pauses.get(line.attempt_id, [])
        attempt = attempts[line.attempt_id]
        if its_pauses and its_pauses[-1].end is None and attempt.submitted_at is not None:
            # Submitted while paused: the pause ended with the paper.
            last = its_pauses[-1]
            end = attempt.submitted_at.astimezone(zone)
            its_pauses[-1] = Interval(last.start, end, last.reason, last.actor)
        its_extensions = extensions.get(line.attempt_id, [])
        if not (
            its_extensions or its_pauses or line.extension_ms or line.paused_ms or line.credited_ms
        ):
            continue
        lines.append(
            AdjustmentLine(
                seat=line.seat,
                name=line.name,
                extension_ms=line.extension_ms,
                extensions=its_extensions,
                paused_ms=line.paused_ms,
                pauses=its_pauses,
                credited_ms=line.credited_ms,
            )
        )
    return lines


# ---------------------------------------------------------------------- translated lines
@dataclass(frozen=True)
class SheetField:
    label: str
    value: str


@dataclass(frozen=True)
class SheetTable:
    """A titled table of text cells; ``widths`` are relative column widths for the PDF."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    empty: str
    widths: tuple[float, ...]


@dataclass(frozen=True)
class Signature:
    label: str
    name: str


@dataclass(frozen=True)
class RecordSheet:
    """The record as translated text, in the order printed."""

    title: str
    issuer: str
    notice: str
    fields: list[SheetField]
    attendance_title: str
    attendance: list[SheetField]
    attendance_lists: list[SheetField]
    tables: list[SheetTable]
    signatures: list[Signature]
    date_label: str
    printed: str
    page_template: str
    file_stem: str

    def table(self, key: str) -> SheetTable:
        """Return the table called ``key``."""
        return next(t for t in self.tables if t.key == key)


DASH = "—"


def status_label(status: str) -> str:
    """Return the translated state of a candidate in the room."""
    labels = {
        "not_arrived": _("Not arrived"),
        "logged_in": _("Logged in, not verified"),
        "verified": _("Verified, waiting"),
        "answering": _("Answering"),
        "offline": _("Offline"),
        "paused": _("Paused"),
        "submitted": _("Submitted"),
        "absent": _("Absent"),
        "expelled": _("Expelled"),
    }
    return str(labels.get(status, status))


def submit_reason_label(reason: str) -> str:
    """Return how a paper was handed in."""
    labels = {
        "candidate": _("By the candidate"),
        "timeout": _("Time up, automatic"),
        "proctor": _("Collected by the proctor"),
        "closed": _("At the session's close"),
        "expelled": _("Expelled"),
    }
    return str(labels.get(reason, reason)) if reason else DASH


def incident_kind_label(kind: str) -> str:
    """Return the translated kind of a violation."""
    labels = {"warning": _("Warning"), "expulsion": _("Expulsion")}
    return str(labels.get(kind, kind))


def action_label(kind: str) -> str:
    """Return the translated name of a proctor action."""
    labels = {
        "verify": _("Identity verified"),
        "late_start": _("Late arrival started"),
        "mark_absent": _("Marked absent"),
        "start_room": _("Room started"),
        "pause": _("Paused"),
        "resume": _("Resumed"),
        "extend": _("Time extended"),
        "force_submit": _("Paper collected"),
        "release_terminal": _("Terminal released"),
        "incident": _("Incident recorded"),
        "expel": _("Expulsion confirmed"),
        "announce": _("Announcement"),
        "close_session": _("Session closed"),
    }
    return str(labels.get(kind, kind))


def start_mode_label(mode: str) -> str:
    if mode == "proctor":
        return str(_("Proctor starts the room"))
    return str(_("Candidates start within the window"))


def format_points(value: float | None) -> str:
    """Return a score without a needless decimal part (80, 92.5), or a dash for none yet."""
    return DASH if value is None else card_points(value)


def format_duration(value_ms: int) -> str:
    """Return a duration as minutes and seconds."""
    seconds = max(0, value_ms) // 1000
    minutes, seconds = divmod(seconds, 60)
    if not minutes:
        return str(_("%(s)d s", s=seconds))
    if not seconds:
        return str(_("%(n)d min", n=minutes))
    return str(_("%(m)d min %(s)d s", m=minutes, s=seconds))


def stamp(value: dt.datetime | None) -> str:
    """Return a local date and time to the minute, as in the record's header."""
    return DASH if value is None else value.strftime("%Y-%m-%d %H:%M")


def clock(value: dt.datetime | None, day: dt.date) -> str:
    """Return a local time of day; the date too when it is not the record's day."""
    if value is None:
        return DASH
    if value.date() == day:
        return value.strftime("%H:%M:%S")
    return value.strftime("%m-%d %H:%M:%S")


def candidate_text(candidates: Sequence[tuple[int, str]]) -> str:
    """Return whom an action concerned: one candidate, several, or the whole room."""
    if not candidates:
        return str(_("Whole room"))
    if len(candidates) == 1:
        seat, name = candidates[0]
        return str(_("Seat %(seat)s %(name)s", seat=seat, name=name))
    seats = join_list([str(seat) for seat, _name in candidates])
    return str(_("%(n)d candidates (seats %(seats)s)", n=len(candidates), seats=seats))


def action_detail(line: ActionLine) -> str:
    """Return the details of an action: minutes, counts, the kind of incident, its reason."""
    detail = line.detail
    parts: list[str] = []
    if line.kind == "extend":
        parts.append(str(_("+%(n)d min", n=int(detail.get("minutes", 0)))))
    elif line.kind == "start_room":
        parts.append(str(_("%(n)d candidates started", n=int(detail.get("started", 0)))))
    elif line.kind == "close_session":
        parts.append(
            str(
                _(
                    "%(submitted)d papers collected, %(absent)d marked absent",
                    submitted=int(detail.get("submitted", 0)),
                    absent=int(detail.get("absent", 0)),
                )
            )
        )
    elif line.kind == "incident":
        kind = incident_kind_label(str(detail.get("incident_kind", "")))
        if detail.get("pending"):
            kind = str(_("%(kind)s (to be confirmed by a second staff member)", kind=kind))
        parts.append(kind)
    if parts and line.reason:
        return str(_("%(detail)s: %(reason)s", detail=parts[0], reason=line.reason))
    return parts[0] if parts else line.reason or DASH


def _roster_table(record: RoomRecord, day: dt.date) -> SheetTable:
    rows = []
    for r in record.roster:
        result = DASH
        if r.passed is not None:
            result = str(_("Pass") if r.passed else _("Fail"))
        rows.append(
            [
                str(r.seat),
                r.admission_no,
                r.name,
                r.id_number_masked,
                status_label(r.status),
                clock(r.first_login_at, day),
                clock(r.verified_at, day),
                clock(r.submitted_at, day),
                submit_reason_label(r.submit_reason),
                format_points(r.score),
                result,
                str(r.incidents) if r.incidents else DASH,
            ]
        )
    return SheetTable(
        key="roster",
        title=str(_("Roster")),
        columns=[
            str(_("Seat")),
            str(_("Admission number")),
            str(_("Full name")),
            str(_("ID number")),
            str(_("Status")),
            str(_("Logged in")),
            str(_("Verified")),
            str(_("Submitted")),
            str(_("How")),
            str(_("Score")),
            str(_("Result")),
            str(_("Incidents")),
        ],
        rows=rows,
        empty=str(_("No candidate is registered for this session.")),
        widths=(3, 9, 6, 10, 7, 6, 6, 6, 7, 4, 4, 3.5),
    )


def _incident_table(record: RoomRecord, day: dt.date) -> SheetTable:
    rows = []
    for i in record.incidents:
        if i.kind != IncidentKind.expulsion.value:
            confirmed = DASH
        elif i.pending:
            confirmed = str(_("Not confirmed yet"))
        else:
            confirmed = f"{i.confirmed_by} {clock(i.confirmed_at, day)}"
        rows.append(
            [
                clock(i.at, day),
                str(_("Seat %(seat)s %(name)s", seat=i.seat, name=i.name)),
                incident_kind_label(i.kind),
                i.note,
                i.recorded_by,
                confirmed,
            ]
        )
    return SheetTable(
        key="incidents",
        title=str(_("Incidents")),
        columns=[
            str(_("Time")),
            str(_("Candidate")),
            str(_("Kind")),
            str(_("Note")),
            str(_("Recorded by")),
            str(_("Confirmed by")),
        ],
        rows=rows,
        empty=str(_("No incident was recorded.")),
        widths=(6, 9, 7, 18, 7, 10),
    )


def _action_table(record: RoomRecord, day: dt.date) -> SheetTable:
    rows = [
        [
            clock(a.at, day),
            a.actor or DASH,
            action_label(a.kind),
            candidate_text(a.candidates),
            action_detail(a),
        ]
        for a in record.actions
    ]
    return SheetTable(
        key="actions",
        title=str(_("Proctor actions")),
        columns=[
            str(_("Time")),
            str(_("By")),
            str(_("Action")),
            str(_("Candidate")),
            str(_("Reason and details")),
        ],
        rows=rows,
        empty=str(_("No action was taken.")),
        widths=(6, 7, 8, 11, 22),
    )


def _adjustment_table(record: RoomRecord, day: dt.date) -> SheetTable:
    rows = []
    for a in record.adjustments:
        extensions = "\n".join(
            " ".join([clock(e.at, day), str(_("+%(n)d min", n=e.minutes)), e.reason]).rstrip()
            for e in a.extensions
        )
        pauses = "\n".join(
            f"{clock(p.start, day)}–{clock(p.end, day) if p.end else '…'} {p.reason}".rstrip()
            for p in a.pauses
        )
        credited = format_duration(a.credited_ms) if a.credited_ms else DASH
        rows.append(
            [
                str(_("Seat %(seat)s %(name)s", seat=a.seat, name=a.name)),
                format_duration(a.extension_ms) if a.extension_ms else DASH,
                extensions or DASH,
                format_duration(a.paused_ms) if a.paused_ms else DASH,
                pauses or DASH,
                credited,
            ]
        )
    return SheetTable(
        key="adjustments",
        title=str(_("Extensions and pauses")),
        columns=[
            str(_("Candidate")),
            str(_("Extra time")),
            str(_("Extensions")),
            str(_("Time paused")),
            str(_("Pauses")),
            str(_("Given back after a server stop")),
        ],
        rows=rows,
        empty=str(_("No candidate's time was extended or paused.")),
        widths=(9, 6, 14, 6, 14, 7),
    )


def _terminal_table(record: RoomRecord) -> SheetTable:
    rows = [
        [
            str(_("Seat %(seat)s %(name)s", seat=r.seat, name=r.name)),
            str(r.focus_losses),
            str(r.terminal_moves),
            str(r.disconnects),
        ]
        for r in record.terminals
    ]
    return SheetTable(
        key="terminals",
        title=str(_("Terminal events per candidate")),
        columns=[
            str(_("Candidate")),
            str(_("Left the exam window")),
            str(_("Changed terminal")),
            str(_("Connection lost")),
        ],
        rows=rows,
        empty=str(_("No terminal reported a focus loss, a change or a lost connection.")),
        widths=(10, 8, 8, 8),
    )


def join_list(items: Sequence[str]) -> str:
    """Join words as the current language lists them (a、b和c; a, b, and c)."""
    return format_list(list(items), locale=str(get_locale() or "en")) if items else DASH


def _people(lines: Sequence[RosterLine]) -> str:
    return join_list(
        [
            str(
                _(
                    "Seat %(seat)s %(name)s (%(admission_no)s)",
                    seat=r.seat,
                    name=r.name,
                    admission_no=r.admission_no,
                )
            )
            for r in lines
        ]
    )


def _named(name: str, code: str) -> str:
    return str(_("%(name)s (%(code)s)", name=name, code=code))


def record_sheet(record: RoomRecord) -> RecordSheet:
    """Translate the record into the lines printed, in the current locale."""
    day = record.opens_at.date()
    if record.closed:
        notice = ""
    else:
        notice = str(
            _(
                "Not closed yet: this record shows the room as it stood at %(time)s.",
                time=stamp(record.generated_at),
            )
        )
    fields = [
        SheetField(str(_("Exam centre")), record.issuer or DASH),
        SheetField(str(_("Exam point")), record.exam_point or DASH),
        SheetField(str(_("Room")), record.room or DASH),
        SheetField(str(_("Session")), _named(record.session_name, record.session_code)),
        SheetField(str(_("Exam")), _named(record.exam_name, record.blueprint_code)),
        SheetField(str(_("Training kind")), kind_label(record.exam_kind)),
        SheetField(str(_("Start mode")), start_mode_label(record.start_mode)),
        SheetField(
            str(_("Duration and pass mark")),
            str(
                _(
                    "%(n)d min, pass mark %(score)s",
                    n=record.duration_min,
                    score=format_points(record.pass_score),
                )
            ),
        ),
        SheetField(str(_("Scheduled")), f"{stamp(record.opens_at)} – {stamp(record.closes_at)}"),
        SheetField(str(_("Room started")), stamp(record.room_started_at)),
        SheetField(
            str(_("Closed")),
            stamp(record.closed_at) if record.closed else str(_("Not closed yet")),
        ),
        SheetField(str(_("Proctors")), join_list(record.proctors)),
    ]
    a = record.attendance
    attendance = [
        SheetField(str(_("Registered")), str(a.registered)),
        SheetField(str(_("Present")), str(a.present)),
        SheetField(str(_("Absent")), str(a.absent)),
        SheetField(str(_("Submitted")), str(a.submitted)),
        SheetField(str(_("Expelled")), str(a.expelled)),
        SheetField(str(_("Passed")), str(a.passed)),
    ]
    if not record.closed:
        attendance.insert(3, SheetField(str(_("Not arrived yet")), str(a.not_arrived)))
        attendance.insert(5, SheetField(str(_("Still in the exam")), str(a.in_progress)))
    lists = [SheetField(str(_("Absentees")), _people(a.absentees))]
    if a.not_arrived_list:
        lists.append(SheetField(str(_("Not arrived yet")), _people(a.not_arrived_list)))

    signatures = [Signature(str(_("Proctor's signature")), name) for name in record.proctors]
    while len(signatures) < MIN_SIGNATURE_LINES:
        signatures.append(Signature(str(_("Proctor's signature")), ""))
    signatures += [
        Signature(str(_("Patrol inspector's signature")), name)
        for name in record.inspectors or [""]
    ]
    return RecordSheet(
        title=str(_("Exam-room record")),
        issuer=record.issuer,
        notice=notice,
        fields=fields,
        attendance_title=str(_("Attendance")),
        attendance=attendance,
        attendance_lists=lists,
        tables=[
            _roster_table(record, day),
            _incident_table(record, day),
            _action_table(record, day),
            _adjustment_table(record, day),
            _terminal_table(record),
        ],
        signatures=signatures,
        date_label=str(_("Date")),
        printed=str(_("Printed at %(time)s", time=stamp(record.generated_at))),
        # Filled in per page by the PDF: "%(page)s" and "%(pages)s" stay placeholders.
        page_template=str(_("Page %(page)s of %(pages)s")),
        file_stem=file_stem(record.session_id, record.session_code),
    )


def file_stem(session_id: int, session_code: str) -> str:
    """Return an ASCII file name stem for a record: the session's id and its code."""
    code = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in session_code
    )
    return f"exam-room-record-{session_id}-{code}".rstrip("-_")[:100]
