"""The proctor's edges: the `/proctor` Socket.IO namespace and the console pages.

Authentication is the staff login's session cookie, checked once at connect; authorisation is
checked on every `watch` and every action against the session in the payload (a proctor sees
and acts only on the sessions assigned to them; inspectors only watch).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, Namespace, join_room, leave_room
from sqlalchemy.orm import Session

from examserver.auth.access import roles_required
from examserver.auth.models import User
from examserver.db import transaction, utcnow
from examserver.delivery import service as delivery
from examserver.delivery.errors import error_body, message_for
from examserver.delivery.models import Attempt
from examserver.extensions import db, socketio
from examserver.notify import (
    EXAM_NS,
    PROCTOR_NS,
    proctor_room,
    to_attempt,
    to_proctors,
    to_session_terminals,
)
from examserver.proctor import service
from examserver.proctor.live import push_candidates, push_events
from examserver.proctor.service import Outcome
from examserver.sessions.models import ExamSession

log = logging.getLogger("examserver.proctor")

bp = Blueprint("proctor", __name__, url_prefix="/proctor")
WATCHERS = ("admin", "staff", "proctor", "inspector")


# ---------------------------------------------------------------------- namespace
def _fail(code: str) -> dict[str, Any]:
    return {"ok": False, **error_body(code)}


def _refuse(code: str) -> ConnectionRefusedError:
    # A lone argument reaches the client as str(arg); the second one travels as structured data,
    # so the console's connect_error gets err.data {code, message} as the protocol says.
    message = message_for(code)
    return ConnectionRefusedError(message, {"code": code, "message": message})


class ProctorNamespace(Namespace):
    """`/proctor`: staff consoles. A candidate's token never gets in: only a staff session."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self._connections: dict[str, dict[str, Any]] = {}

    def trigger_event(self, event: str, *args: Any) -> Any:
        handler: Callable[..., Any] | None
        if event in ACTIONS:

            def handler(data: Any = None) -> dict[str, Any]:
                return self._act(event, data)

        else:
            handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return None

        def guarded(*handler_args: Any) -> Any:
            with force_locale(_staff_lang()):
                try:
                    return handler(*handler_args)
                except ConnectionRefusedError:
                    raise
                except Exception:
                    log.exception("/proctor %s handler failed", event)
                    if event == "connect":
                        raise _refuse("server_error") from None
                    return None if event == "disconnect" else _fail("server_error")

        return self.socketio._handle_event(guarded, event, self.namespace, *args)

    def on_connect(self, auth: Any = None) -> None:
        user = current_user._get_current_object() if current_user.is_authenticated else None
        if user is None or user.role not in WATCHERS or not user.active:
            log.info("/proctor connection refused from %s", request.remote_addr)
            raise _refuse("login_required")
        self._connections[request.sid] = {"user_id": user.id, "watching": set()}  # type: ignore[attr-defined]

    def on_disconnect(self, reason: Any = None) -> None:
        self._connections.pop(request.sid, None)  # type: ignore[attr-defined]

    def _user(self, session: Session) -> User | None:
        conn = self._connections.get(request.sid)  # type: ignore[attr-defined]
        if conn is None:
            return None
        user = session.get(User, conn["user_id"])
        return user if user is not None and user.active else None

    def on_watch(self, data: Any = None) -> dict[str, Any]:
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if isinstance(session_id, bool) or not isinstance(session_id, int):
            return _fail("bad_payload")
        with transaction(db.engine) as session:
            user = self._user(session)
            if user is None:
                return _fail("login_required")
            exam_session = session.get(ExamSession, session_id)
            if exam_session is None:
                return _fail("unknown_session")
            if not service.can_watch(session, user, exam_session):
                log.warning("user %s may not watch session %s", user.username, session_id)
                return _fail("forbidden")
        # Join before reading the snapshot: a change committed in between is pushed, never lost
        # (the console applies pushes older than its snapshot's as_of no more).
        join_room(proctor_room(session_id))
        self._connections[request.sid]["watching"].add(session_id)  # type: ignore[attr-defined]
        now = utcnow()
        with transaction(db.engine) as session:
            exam_session = session.get(ExamSession, session_id)
            user = self._user(session)
            if exam_session is None or user is None:
                return _fail("login_required")
            rows = service.roster(session, session_id, now)
            return {
                "ok": True,
                "session": _session_info(
                    exam_session, service.can_act(session, user, exam_session)
                ),
                "roster": rows,
                "counters": service.counters(rows),
                "events": service.recent_events(session, session_id),
                "pending_incidents": service.pending_incidents(session, session_id),
                "server_time": now.isoformat(),
            }

    def on_unwatch(self, data: Any = None) -> dict[str, Any]:
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if isinstance(session_id, int) and not isinstance(session_id, bool):
            leave_room(proctor_room(session_id))
            self._connections.get(request.sid, {}).get("watching", set()).discard(session_id)  # type: ignore[attr-defined]
        return {"ok": True}

    def _act(self, event: str, data: Any) -> dict[str, Any]:
        """Run one room action: check the payload's keys, authorise, call, push."""
        action, fields = ACTIONS[event]
        if not isinstance(data, dict) or not set(data) <= {"session_id", *fields}:
            return _fail("bad_payload")
        session_id = data.get("session_id")
        if isinstance(session_id, bool) or not isinstance(session_id, int):
            return _fail("bad_payload")
        now = utcnow()
        try:
            with transaction(db.engine, write=True) as session:
                user = self._user(session)
                if user is None:
                    return _fail("login_required")
                exam_session = session.get(ExamSession, session_id)
                if exam_session is None:
                    return _fail("unknown_session")
                # A second staff member confirming an expulsion may be a patrol inspector.
                allowed = service.can_act(session, user, exam_session) or (
                    event == "confirm_incident" and service.can_watch(session, user, exam_session)
                )
                if not allowed:
                    log.warning(
                        "user %s refused %s on session %s", user.username, event, session_id
                    )
                    return _fail("forbidden")
                outcome = action(session, user, session_id, *(data.get(f) for f in fields), now)
                events = [service.event_row(e) for e in outcome.events]
                info = _session_info(exam_session, True) if outcome.session_changed else None
                states = {
                    attempt.id: delivery.state_payload(session, attempt, now)
                    for attempt_id in outcome.attempts
                    if (attempt := session.get(Attempt, attempt_id)) is not None
                }
        except delivery.DeliveryError as exc:  # ProctorError included
            return _fail(exc.code)
        _after_action(session_id, outcome, events, states, now)
        if info is not None:
            info.pop("can_act")  # each console keeps its own answer to that
            to_proctors(session_id, "session", info)
        return {"ok": True, **outcome.result}


# Room actions: the service that does each, and the payload fields it takes after session_id
# (validated by the service). Every action is authorised in ``ProctorNamespace._act``.
ACTIONS: dict[str, tuple[Callable[..., Outcome], tuple[str, ...]]] = {
    "verify": (service.verify, ("candidate_id",)),
    "mark_absent": (service.mark_absent, ("candidate_id",)),
    "start_room": (service.start_room, ()),
    "pause": (service.pause, ("candidate_id", "reason")),
    "resume": (service.resume, ("candidate_id",)),
    "extend": (service.extend, ("candidate_id", "minutes", "reason")),
    "force_submit": (service.force_submit, ("candidate_id", "reason")),
    "release_terminal": (service.release_terminal, ("candidate_id", "reason")),
    "incident": (service.record_incident, ("candidate_id", "kind", "note")),
    "confirm_incident": (service.confirm_incident, ("incident_id",)),
    "announce": (service.announce, ("text",)),
    "close_session": (service.close_session, ()),
}


def _after_action(
    session_id: int,
    outcome: Outcome,
    events: list[dict[str, Any]],
    states: dict[int, dict[str, Any]],
    now: dt.datetime,
) -> None:
    """After the commit: tell the terminals, then the proctors, what changed."""
    for sid in outcome.disconnect_sids:
        socketio.server.disconnect(sid, namespace=EXAM_NS)
    for attempt_id, state in states.items():
        to_attempt(attempt_id, "state", state)
    if outcome.announcement:
        to_session_terminals(
            session_id, "announcement", {"text": outcome.announcement, "at": now.isoformat()}
        )
    push_events(session_id, events)
    push_candidates(session_id, outcome.attempts, now)


def _session_info(exam_session: ExamSession, can_act: bool) -> dict[str, Any]:
    return {
        "id": exam_session.id,
        "code": exam_session.code,
        "name": exam_session.name,
        "start_mode": exam_session.start_mode,
        "room": exam_session.room,
        "exam_point": exam_session.exam_point,
        "opens_at": exam_session.opens_at.isoformat(),
        "closes_at": exam_session.closes_at.isoformat(),
        "room_started_at": (
            exam_session.room_started_at.isoformat() if exam_session.room_started_at else None
        ),
        "closed_at": exam_session.closed_at.isoformat() if exam_session.closed_at else None,
        "can_act": can_act,
    }


def _staff_lang() -> str:
    from examserver.i18n import select_locale

    try:
        return select_locale()
    except RuntimeError:
        return str(current_app.config["EXAMSERVER"]["LOCALE"])


# ---------------------------------------------------------------------- pages
@bp.get("/")
@roles_required(*WATCHERS)
def sessions() -> ResponseReturnValue:
    user = current_user._get_current_object()
    rows = service.watchable_sessions(db.session(), user)
    return render_template("proctor/sessions.html", sessions=rows)


@bp.get("/sessions/<int:session_id>")
@roles_required(*WATCHERS)
def console(session_id: int) -> ResponseReturnValue:
    exam_session = db.session.get(ExamSession, session_id)
    if exam_session is None:
        abort(404)
    user = current_user._get_current_object()
    if not service.can_watch(db.session(), user, exam_session):
        abort(403)
    return render_template(
        "proctor/console.html",
        exam_session=exam_session,
        can_act=service.can_act(db.session(), user, exam_session),
    )


def disconnect_staff(user_id: int) -> None:
    """Close a staff member's consoles on this worker (at logout)."""
    server = socketio.server
    handler = server.namespace_handlers.get(PROCTOR_NS) if server is not None else None
    if isinstance(handler, ProctorNamespace):
        for sid, conn in list(handler._connections.items()):
            if conn["user_id"] == user_id:
                server.disconnect(sid, namespace=PROCTOR_NS)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # init_app made a new Socket.IO server for this app: give it its own namespace object.
    socketio.on_namespace(ProctorNamespace(PROCTOR_NS))
