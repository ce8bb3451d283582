"""The roster read with plain Core columns gives exactly the rows the ORM version gave, for a
room with a candidate in every state, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from examserver.db import transaction, utcnow
from examserver.delivery.clock import CLOCK_FIELDS, Clock
from examserver.delivery.models import Attempt
from examserver.extensions import db
from examserver.proctor import service
from examserver.proctor.models import Incident, IncidentKind
from examserver.sessions.models import Candidate, Registration


@pytest.fixture
def app(any_db_app: Flask) -> Flask:
    """This module's worlds on both databases (the fixtures of tests.delivery use ``app``)."""
    return any_db_app


# ---------------------------------------------------------------- the ORM version, as it was
def orm_roster(
    db_session: Session, session_id: int, now: dt.datetime, attempt_ids: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """The roster as read with entities before the Core rewrite: the reference."""
    from examserver.papers.models import PaperItem

    query = (
        select(Attempt, Registration, Candidate)
        .join(Registration, Registration.id == Attempt.registration_id)
        .join(Candidate, Candidate.id == Registration.candidate_id)
        .where(Attempt.session_id == session_id)
        .order_by(Registration.seat, Registration.id)
    )
    if attempt_ids is not None:
        query = query.where(Attempt.id.in_(list(attempt_ids)))
    rows = db_session.execute(query.execution_options(populate_existing=True)).all()
    ids = [a.id for a, _r, _c in rows]
    incidents: dict[int, int] = {}
    totals: dict[int, int] = {}
    if ids:
        incidents = dict(
            db_session.execute(  # type: ignore[arg-type]
                select(Incident.attempt_id, func.count())
                .where(Incident.attempt_id.in_(ids))
                .group_by(Incident.attempt_id)
            ).all()
        )
        papers = {a.paper_id for a, _r, _c in rows}
        per_paper = dict(
            db_session.execute(  # type: ignore[arg-type]
                select(PaperItem.paper_id, func.count())
                .where(PaperItem.paper_id.in_(papers))
                .group_by(PaperItem.paper_id)
            ).all()
        )
        totals = {a.id: int(per_paper.get(a.paper_id, 0)) for a, _r, _c in rows}
    return [
        orm_row(a, r, c, totals.get(a.id, 0), int(incidents.get(a.id, 0)), now) for a, r, c in rows
    ]


def orm_row(
    attempt: Attempt,
    registration: Registration,
    candidate: Candidate,
    total: int,
    incidents: int,
    now: dt.datetime,
) -> dict[str, Any]:
    from examserver.identity import mask_id_number

    iso = service._iso
    online = service.is_online(attempt, now)
    return {
        "as_of": now.isoformat(),
        "candidate_id": candidate.id,
        "attempt_id": attempt.id,
        "name": candidate.name,
        "seat": registration.seat,
        "admission_no": registration.admission_no,
        "id_number_masked": mask_id_number(candidate.id_number),
        "employer": candidate.employer,
        "job_type": candidate.job_type,
        "photo_url": f"/media/{candidate.photo_media_id}" if candidate.photo_media_id else None,
        "verified_at": iso(attempt.verified_at),
        "status": service.candidate_status(attempt, now),
        "answered": attempt.answered_count,
        "total": total,
        "remaining_ms": attempt.clock().remaining_ms(now),
        "deadline_at": iso(attempt.deadline_at),
        "online": online,
        "offline_since": None if online else iso(attempt.terminal_seen_at),
        "last_activity": iso(attempt.last_activity_at or attempt.terminal_seen_at),
        "incidents": incidents,
        "focus_losses": attempt.focus_losses,
        "pause_reason": attempt.pause_reason if attempt.status == "paused" else "",
        "score": attempt.score if attempt.status == "submitted" else None,
        "passed": attempt.passed if attempt.status == "submitted" else None,
    }


# ---------------------------------------------------------------- a room in every state
STATES = [
    "not_arrived",
    "logged_in",
    "verified",
    "answering",
    "offline",  # running, terminal gone
    "offline",  # running, terminal still named but silent for too long
    "paused",
    "submitted",  # passed
    "submitted",  # failed
    "absent",
    "expelled",
    "answering",  # extended, credited, with incidents
]


def _every_state(app: Flask, session_id: int, user_id: int, now: dt.datetime) -> None:
    """Put the room's attempts, by seat, in the states of ``STATES``."""
    from examserver.question_bank.models import Media

    with app.app_context():
        photo = f"photo of room {session_id}".encode()
        media = Media(sha256=hashlib.sha256(photo).hexdigest(), mime="image/png", data=photo)
        db.session.add(media)
        attempts = db.session.execute(
            select(Attempt, Registration, Candidate)
            .join(Registration, Registration.id == Attempt.registration_id)
            .join(Candidate, Candidate.id == Registration.candidate_id)
            .where(Attempt.session_id == session_id)
            .order_by(Registration.seat)
        ).all()
        assert len(attempts) == len(STATES)
        db.session.flush()
        started = now - dt.timedelta(minutes=10)
        for n, (attempt, _registration, candidate) in enumerate(attempts):
            candidate.job_type = "焊工" if n % 2 else ""
            candidate.photo_media_id = media.id if n % 3 == 0 else None
            if n >= 1:
                attempt.first_login_at = started - dt.timedelta(minutes=1)
            if n >= 2:
                attempt.verified_at = started - dt.timedelta(seconds=30)
            if 3 <= n <= 8 or n >= 10:
                attempt.set_clock(attempt.clock().start(started))
                attempt.terminal_sid = f"sid-{n}"
                attempt.terminal_seen_at = now - dt.timedelta(seconds=n)
                attempt.answered_count = n
                attempt.last_activity_at = now - dt.timedelta(seconds=2 * n)
                attempt.focus_losses = n % 3
            attempt.pause_reason = "left over" if n == 1 else ""  # shown only while paused
        _, _, _, answering, gone, silent, paused, passed, failed, absent, expelled, extended = (
            a for a, _r, _c in attempts
        )
        gone.terminal_sid = None
        gone.last_activity_at = None
        silent.terminal_seen_at = now - dt.timedelta(minutes=5)
        paused.set_clock(paused.clock().pause(now - dt.timedelta(minutes=1)))
        paused.pause_reason = "toilet"
        for attempt, score, ok in ((passed, 85.5, True), (failed, 20.0, False)):
            attempt.set_clock(attempt.clock().submit())
            attempt.score, attempt.max_score, attempt.passed = score, 100.0, ok
        absent.absent_at = now - dt.timedelta(minutes=20)
        expelled.expelled_at = now - dt.timedelta(minutes=2)
        expelled.set_clock(expelled.clock().submit())
        expelled.score, expelled.passed = 0.0, False
        extended.set_clock(extended.clock().extend(600_000).credit(30_000))
        for attempt, kind in (
            (extended, IncidentKind.warning),
            (extended, IncidentKind.warning),
            (expelled, IncidentKind.warning),
            (expelled, IncidentKind.expulsion),
        ):
            db.session.add(
                Incident(
                    session_id=session_id,
                    attempt_id=attempt.id,
                    kind=kind.value,
                    recorded_by_id=user_id,
                    recorded_at=now,
                )
            )
        db.session.commit()


def _room(app: Flask, open_world: Any, create_user: Any, code: str = "S1") -> tuple[int, dt.datetime]:
    world = open_world(n=len(STATES), code=code)
    now = utcnow()
    _every_state(app, world.session_id, create_user(f"proctor-{code}", "proctor"), now)
    return world.session_id, now


def test_the_core_roster_equals_the_orm_roster_in_every_state(
    app: Flask, open_world: Any, create_user: Any
) -> None:
    session_id, now = _room(app, open_world, create_user)
    with app.app_context(), transaction(db.engine) as session:
        expected = orm_roster(session, session_id, now)
        assert [r["status"] for r in expected] == STATES
        assert {r["incidents"] for r in expected} == {0, 2}
        assert any(r["photo_url"] for r in expected) and any(r["pause_reason"] for r in expected)
        assert service.roster(session, session_id, now) == expected
        # Again, with the item totals cached, and for some attempts only.
        assert service.roster(session, session_id, now) == expected
        some = [expected[i]["attempt_id"] for i in (0, 6, 10, 11)]
        assert service.roster(session, session_id, now, some) == orm_roster(
            session, session_id, now, some
        )
        assert service.roster(session, session_id, now, []) == []
        # A later reading: the running clocks moved on, the silent terminal went offline.
        later = now + dt.timedelta(seconds=90)
        assert service.roster(session, session_id, later) == orm_roster(session, session_id, later)


def test_status_and_clock_read_entities_and_records_alike(
    app: Flask, open_world: Any, create_user: Any
) -> None:
    session_id, now = _room(app, open_world, create_user)
    with app.app_context(), transaction(db.engine) as session:
        attempts = {a.id: a for a in session.scalars(select(Attempt))}
        records = [
            service.RosterRecord._make(r)
            for r in session.connection().execute(
                service._roster_query(True, False), {"session_ids": [session_id]}
            )
        ]
        assert len(records) == len(STATES)
        for record in records:
            attempt = attempts[record.id]
            assert Clock.of(record) == attempt.clock()
            assert {name: getattr(record, name) for name in CLOCK_FIELDS} == {
                name: getattr(attempt, name) for name in CLOCK_FIELDS
            }
            assert service.candidate_status(record, now) == service.candidate_status(attempt, now)
            assert service.is_online(record, now) == service.is_online(attempt, now)


def test_one_query_for_several_rooms_and_item_totals_read_once(
    app: Flask, open_world: Any, create_user: Any
) -> None:
    first, now = _room(app, open_world, create_user, "S1")
    second, _ = _room(app, open_world, create_user, "S2")
    with app.app_context(), transaction(db.engine) as session:
        one = service.roster(session, first, now)
        two = service.roster(session, second, now)
        wanted = [one[3]["attempt_id"], two[0]["attempt_id"], two[7]["attempt_id"]]
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            pairs = service.roster_rows(session, now, None, wanted)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert len(statements) == 1  # no per-paper count: both rooms' totals are cached
        assert sorted((s, r["attempt_id"]) for s, r in pairs) == sorted(
            [(first, wanted[0]), (second, wanted[1]), (second, wanted[2])]
        )
        rows = {r["attempt_id"]: r for _s, r in pairs}
        assert rows[wanted[0]] == one[3] and rows[wanted[2]] == two[7]
        assert service.roster_rows(session, now, [first], wanted) == [(first, one[3])]
        assert service.roster_rows(session, now, [], wanted) == []

