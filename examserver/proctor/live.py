"""Pushing a room's changes to the consoles watching it: roster deltas and log entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from examserver.db import transaction, utcnow
from examserver.delivery.models import Attempt
from examserver.extensions import db
from examserver.notify import to_proctors
from examserver.proctor import service


def push_candidates(session_id: int, attempt_ids: set[int] | list[int], now: dt.datetime) -> None:
    """Send the proctors of a room the fresh roster rows of some candidates (deltas)."""
    if not attempt_ids or not _watched(session_id):
        return
    with transaction(db.engine) as session:
        rows = service.roster(session, session_id, now, attempt_ids)
    for row in rows:
        to_proctors(session_id, "candidate", row)


def push_attempts(attempt_ids: set[int]) -> None:
    """Push roster deltas for attempts of any sessions (the answer writer's hook)."""
    now = utcnow()
    with transaction(db.engine) as session:
        pairs = session.execute(
            select(Attempt.id, Attempt.session_id).where(Attempt.id.in_(sorted(attempt_ids)))
        ).all()
    by_session: dict[int, set[int]] = {}
    for attempt_id, session_id in pairs:
        by_session.setdefault(session_id, set()).add(attempt_id)
    for session_id, ids in by_session.items():
        push_candidates(session_id, ids, now)


def push_after_commit(attempt_ids: set[int], events: list[tuple[int, dict[str, Any]]]) -> None:
    """The answer writer's hook: push the room events and roster rows a batch changed."""
    for session_id, row in events:
        if _watched(session_id):
            to_proctors(session_id, "event", row)
    if attempt_ids:
        push_attempts(attempt_ids)


def push_events(session_id: int, events: list[dict[str, Any]]) -> None:
    for event in events:
        to_proctors(session_id, "event", event)


def room_event(session_id: int, kind: str, attempt_id: int | None = None, **detail: Any) -> None:
    """Log a terminal's event (login, disconnect, focus loss…) and push it with the row."""
    now = utcnow()
    with transaction(db.engine, write=True) as session:
        event = service.log_event(session, session_id, kind, now, attempt_id, **detail)
        row = service.event_row(event)
    push_events(session_id, [row])
    if attempt_id is not None:
        push_candidates(session_id, {attempt_id}, now)


def _watched(session_id: int) -> bool:
    """Whether any console may watch the session: with one worker, one of ours must be in its
    room; with a message queue the consoles may be on other workers, so always."""
    from flask import current_app

    from examserver.extensions import socketio
    from examserver.notify import PROCTOR_NS, proctor_room

    server = socketio.server
    if server is None or current_app.config["EXAMSERVER"]["MESSAGE_QUEUE"]:
        return True
    return any(True for _ in server.manager.get_participants(PROCTOR_NS, proctor_room(session_id)))
