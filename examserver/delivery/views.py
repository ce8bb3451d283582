"""The candidate's edges: the terminal page, the login API and the `/exam` Socket.IO namespace.

Each handler is thin: validate the payload's shape, find the attempt from the connection's
authenticated identity (never from the payload), call a service, answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_socketio import ConnectionRefusedError, Namespace, join_room
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from examserver.auth.access import public
from examserver.db import transaction, utcnow
from examserver.delivery import service
from examserver.delivery.clock import AttemptStatus
from examserver.delivery.errors import error_body, message_for
from examserver.delivery.models import Attempt
from examserver.delivery.service import DeliveryError
from examserver.delivery.tasks import ClockTasks
from examserver.delivery.writer import AnswerWrite, AnswerWriter, Operation
from examserver.extensions import csrf, db, socketio
from examserver.i18n import LANGUAGES
from examserver.identity import mask_id_number
from examserver.notify import EXAM_NS, attempt_room, session_room, to_attempt
from examserver.proctor import service as proctor_service
from examserver.proctor.live import push_after_commit, push_attempts
from examserver.question_bank.types import get_type

log = logging.getLogger("examserver.delivery")

bp = Blueprint("exam", __name__)

TOKEN_MAX_AGE = 24 * 3600
TERMINAL_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ADMISSION_NO = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_SEQ = 2**53 - 1


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="exam-terminal")


def make_token(attempt_id: int, nonce: str) -> str:
    return _serializer().dumps({"a": attempt_id, "n": nonce})


def read_token(token: Any) -> tuple[int, str] | None:
    if not isinstance(token, str) or len(token) > 512:
        return None
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int):
        return None
    return data["a"], str(data.get("n", ""))


def _api_error(code: str, status: int) -> ResponseReturnValue:
    log.info("exam login refused: %s from %s", code, request.remote_addr)
    return jsonify(error_body(code)), status


@bp.get("/exam")
@public
def terminal() -> ResponseReturnValue:
    return render_template("exam/terminal.html")


@bp.post("/api/exam/login")
@public
@csrf.exempt
def login() -> ResponseReturnValue:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _api_error("bad_payload", 400)
    admission_no = data.get("admission_no")
    id_number = data.get("id_number")
    terminal_id = data.get("terminal") or ""
    if (
        not isinstance(admission_no, str)
        or not isinstance(id_number, str)
        or not isinstance(terminal_id, str)
        or not ADMISSION_NO.match(admission_no.strip())
        or len(id_number) > 32
        or (terminal_id and not TERMINAL_ID.match(terminal_id))
    ):
        return _api_error("bad_payload", 400)
    address = (request.remote_addr or "")[:64]

    def apply(session: Session, now: dt.datetime) -> dict[str, Any]:
        # Admission numbers are upper case; a candidate may type them in lower case.
        attempt, nonce = service.login(
            session, admission_no.strip().upper(), id_number.strip(), terminal_id, now
        )
        registration = attempt.registration
        candidate = registration.candidate
        exam_session = registration.session
        operation.attempt_ids.add(attempt.id)
        _log(session, operation, exam_session.id, "login", now, attempt.id, address=address)
        return {
            "token": make_token(attempt.id, nonce),
            "attempt_id": attempt.id,
            "candidate": {
                "name": candidate.name,
                "id_number": _masked(candidate.id_number),
                "job_type": candidate.job_type,
                "employer": candidate.employer,
                "photo_url": (
                    f"/media/{candidate.photo_media_id}" if candidate.photo_media_id else None
                ),
                "admission_no": registration.admission_no,
                "seat": registration.seat,
            },
            "session": {
                "name": exam_session.name,
                "start_mode": exam_session.start_mode,
                "room": exam_session.room,
            },
        }

    operation = Operation(apply)
    try:
        body = _writer().run(operation)
    except DeliveryError as exc:
        return _api_error(exc.code, exc.status)
    return jsonify(body)


def _log(
    session: Session,
    operation: Operation,
    session_id: int,
    kind: str,
    now: dt.datetime,
    attempt_id: int | None,
    **detail: Any,
) -> None:
    """Write a room event in the operation's transaction; it is pushed after the commit."""
    event = proctor_service.log_event(session, session_id, kind, now, attempt_id, **detail)
    operation.events.append((session_id, proctor_service.event_row(event)))


def _state(attempt_id: int) -> dict[str, Any]:
    """Read the attempt's `state` message (after the writer committed a change)."""
    return _state_and_view(attempt_id)[0]


def _state_and_view(attempt_id: int) -> tuple[dict[str, Any], service.PaperView | None]:
    """The `state` message, and the attempt's paper unless it is over: a terminal that connects
    has its paper loaded (and encoded) now, not when its whole room starts in one second."""
    with transaction(db.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        if attempt is None:
            raise DeliveryError("unknown_attempt", status=404)
        state = service.state_payload(session, attempt, utcnow())
        view = None
        if attempt.status != AttemptStatus.submitted.value:
            view = service.paper_view(session, attempt.paper_id)
        return state, view


def _masked(id_number: str) -> str:
    return mask_id_number(id_number)


# ---------------------------------------------------------------------- Socket.IO
def _writer() -> AnswerWriter:
    return current_app.extensions["examserver.writer"]  # type: ignore[no-any-return]


def _refuse(code: str) -> ConnectionRefusedError:
    # python-socketio turns a lone argument into a string ({"message": str(arg)}); the second
    # argument travels as structured data: the client's connect_error gets err.data {code, message}.
    message = message_for(code)
    return ConnectionRefusedError(message, {"code": code, "message": message})


def _fail(code: str) -> dict[str, Any]:
    """A refusal; its message is added in the terminal's language by the dispatcher."""
    return {"ok": False, "error": {"code": code}}


def _seq(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SEQ:
        return None
    return value


# The terminal's events that need no Flask context at all: they read the connection's identity
# and its cached paper, and queue a write. The others run in an application context.
CONTEXT_FREE = frozenset({"answer", "flag", "rtt", "navigate", "focus"})


class ExamNamespace(Namespace):
    """`/exam`: one connection per candidate terminal, authenticated once at connect.

    ``connect`` and ``disconnect`` run as Flask-SocketIO runs every handler, in a request context
    made from the handshake (they read the address and join rooms). Every other event is
    dispatched here with the sid as its first argument: an answer is the most frequent message
    of the whole system, and a request context per event (URL matching, session, context
    variables) cost more than the answer's own work.
    """

    def __init__(self, namespace: str, app: Flask) -> None:
        super().__init__(namespace)
        self.app = app
        # Who each connection of this worker is, set once at connect. Only the connection's
        # identity lives here; every piece of exam state is in the database.
        self._connections: dict[str, dict[str, Any]] = {}

    @property
    def writer(self) -> AnswerWriter:
        return self.app.extensions["examserver.writer"]  # type: ignore[no-any-return]

    def _lang(self, sid: str) -> str:
        ident = self._connections.get(sid) or {}
        return str(ident.get("lang") or self.app.config["EXAMSERVER"]["LOCALE"])

    def trigger_event(self, event: str, *args: Any) -> Any:
        handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return None
        if event in ("connect", "disconnect"):
            return self._in_request_context(handler, event, *args)
        sid, data = args[0], (args[1] if len(args) > 1 else None)
        try:
            if event in CONTEXT_FREE:
                result = handler(sid, data)
            else:
                with self.app.app_context():
                    result = handler(sid, data)
        except Exception:
            log.exception("%s handler failed", event)
            result = _fail("server_error")
        error = result.get("error") if isinstance(result, dict) else None
        if error and "message" not in error:
            # Refusals speak the terminal's language (chosen at connect).
            with self.app.app_context(), force_locale(self._lang(sid)):
                error["message"] = message_for(error["code"])
        return result

    def _in_request_context(self, handler: Any, event: str, *args: Any) -> Any:
        def in_terminal_language(*handler_args: Any) -> Any:
            if event == "connect":
                lang = _auth_lang(handler_args[-1] if handler_args else None)
            else:
                lang = self._lang(request.sid)  # type: ignore[attr-defined]
            with force_locale(lang):
                try:
                    return handler(*handler_args)
                except ConnectionRefusedError:
                    raise
                except Exception:
                    log.exception("%s handler failed", event)
                    if event == "connect":
                        raise _refuse("server_error") from None
                    return None

        return self.socketio._handle_event(in_terminal_language, event, self.namespace, *args)

    def on_connect(self, auth: Any = None) -> None:
        if not isinstance(auth, dict):
            raise _refuse("token_revoked")
        parsed = read_token(auth.get("token"))
        terminal_id = auth.get("terminal")
        if parsed is None:
            raise _refuse("token_revoked")
        if not isinstance(terminal_id, str) or not TERMINAL_ID.match(terminal_id):
            raise _refuse("bad_payload")
        attempt_id, nonce = parsed
        sid = request.sid  # type: ignore[attr-defined]
        address = (request.remote_addr or "")[:64]

        def apply(session: Session, now: dt.datetime) -> tuple[int, int, str | None]:
            attempt, replaced, moved = service.attach_terminal(
                session, attempt_id, nonce, terminal_id, sid, address, now
            )
            operation.attempt_ids.add(attempt_id)
            kind = "moved" if moved else "connect"
            _log(session, operation, attempt.session_id, kind, now, attempt_id, address=address)
            return attempt.session_id, attempt.paper_id, replaced

        operation = Operation(apply)
        try:
            session_id, paper_id, replaced = self.writer.run(operation)
            state, view = _state_and_view(attempt_id)
        except DeliveryError as exc:
            raise _refuse(exc.code) from exc
        self._connections[sid] = {
            "attempt_id": attempt_id,
            "session_id": session_id,
            "paper_id": paper_id,
            "paper_view": view,
            "lang": _auth_lang(auth),
        }
        join_room(attempt_room(attempt_id))
        join_room(session_room(session_id))
        if replaced:
            # The same terminal came back on a new socket: the old one is dead weight.
            socketio.server.disconnect(replaced, namespace=EXAM_NS)
        self.emit("state", state, room=sid)

    def on_disconnect(self, reason: Any = None) -> None:
        sid = request.sid  # type: ignore[attr-defined]
        ident = self._connections.pop(sid, None)
        if not ident:
            return

        def apply(session: Session, now: dt.datetime) -> None:
            if service.detach_terminal(session, ident["attempt_id"], sid, now):
                operation.attempt_ids.add(ident["attempt_id"])
                _log(
                    session, operation, ident["session_id"], "disconnect", now, ident["attempt_id"]
                )

        operation = Operation(apply)
        self.writer.run(operation)

    def on_start(self, sid: str, data: Any = None) -> dict[str, Any]:
        ident = self._connections.get(sid)
        if ident is None:
            return _fail("token_revoked")
        attempt_id = ident["attempt_id"]
        operation = Operation(
            lambda session, now: service.start_own_attempt(session, attempt_id, now),
            attempt_ids={attempt_id},
            savepoint=False,
        )
        try:
            started = self.writer.run(operation)
            if started is None:  # already running (or over): the stored state
                state = _state(attempt_id)
            else:
                state = service.started_state(started, self._view(ident), utcnow())
        except DeliveryError as exc:
            return _fail(exc.code)
        to_attempt(attempt_id, "state", state)
        return {"ok": True}

    def on_focus(self, sid: str, data: Any = None) -> dict[str, Any]:
        ident = self._connections.get(sid)
        if ident is None:
            return _fail("token_revoked")
        lost = data.get("lost") if isinstance(data, dict) else None
        if not isinstance(lost, bool):
            return _fail("bad_payload")

        def apply(session: Session, now: dt.datetime) -> None:
            service.note_focus(session, ident["attempt_id"], lost)
            kind = "focus_lost" if lost else "focus_back"
            _log(session, operation, ident["session_id"], kind, now, ident["attempt_id"])

        operation = Operation(apply, attempt_ids={ident["attempt_id"]})
        self.writer.run(operation)
        return {"ok": True}

    def on_answer(self, sid: str, data: Any = None) -> dict[str, Any]:
        ident = self._connections.get(sid)
        if ident is None:
            return _fail("token_revoked")
        if not isinstance(data, dict):
            return _fail("bad_payload")
        seq = _seq(data.get("seq"))
        question_id = data.get("question_id")
        choice = data.get("choice")
        if (
            seq is None
            or isinstance(question_id, bool)
            or not isinstance(question_id, int)
            or not isinstance(choice, list)
            or len(choice) > service.MAX_CHOICES
            or not all(isinstance(k, str) and 0 < len(k) <= 32 for k in choice)
        ):
            return _fail("bad_payload")
        entry = self._entry(ident, question_id)
        if entry is None:
            return _fail("unknown_question")
        if not get_type(entry.type).validate_response(choice, sorted(entry.option_keys)):
            return _fail("bad_choice")
        ok, code = self.writer.write(
            AnswerWrite(ident["attempt_id"], entry.item_id, seq, choice=list(choice))
        )
        return {"ok": True, "seq": seq} if ok else _fail(code or "server_error")

    def on_flag(self, sid: str, data: Any = None) -> dict[str, Any]:
        ident = self._connections.get(sid)
        if ident is None:
            return _fail("token_revoked")
        if not isinstance(data, dict):
            return _fail("bad_payload")
        seq = _seq(data.get("seq"))
        question_id = data.get("question_id")
        flagged = data.get("flagged")
        if seq is None or not isinstance(flagged, bool) or isinstance(question_id, bool):
            return _fail("bad_payload")
        if not isinstance(question_id, int):
            return _fail("bad_payload")
        entry = self._entry(ident, question_id)
        if entry is None:
            return _fail("unknown_question")
        ok, code = self.writer.write(
            AnswerWrite(ident["attempt_id"], entry.item_id, seq, flagged=flagged)
        )
        return {"ok": True, "seq": seq} if ok else _fail(code or "server_error")

    def on_rtt(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Answer at once: the terminal measures the round trip to correct its countdown."""
        return {}

    def on_navigate(self, sid: str, data: Any = None) -> dict[str, Any]:
        ident = self._connections.get(sid)
        if ident is None:
            return _fail("token_revoked")
        position = data.get("position") if isinstance(data, dict) else None
        if (
            isinstance(position, bool)
            or not isinstance(position, int)
            or not 0 <= position < 10_000
        ):
            return _fail("bad_payload")
        attempt_id = ident["attempt_id"]
        self.writer.run(
            Operation(lambda session, now: service.remember_position(session, attempt_id, position))
        )
        return {"ok": True}

    def on_submit(self, sid: str, data: Any = None) -> dict[str, Any]:
        ident = self._connections.get(sid)
        if ident is None:
            return _fail("token_revoked")
        attempt_id = ident["attempt_id"]

        def apply(session: Session, now: dt.datetime) -> service.Submission:
            # Queued after this terminal's answers: the grading sees every one of them.
            submission = service.submit_attempt(session, attempt_id, now)
            if not submission.already:
                _log(
                    session, operation, ident["session_id"], "submit", now, attempt_id,
                    score=submission.score,
                )  # fmt: skip
            return submission

        operation = Operation(apply, attempt_ids={attempt_id})
        try:
            submission = self.writer.run(operation)
            state = _state(attempt_id)
        except DeliveryError as exc:
            return _fail(exc.code)
        to_attempt(attempt_id, "state", state)
        return {"ok": True, "result": service.result_payload(submission)}

    def _entry(self, ident: dict[str, Any], question_id: int) -> service.PaperEntry | None:
        return self._view(ident).entries.get(question_id)

    def _view(self, ident: dict[str, Any]) -> service.PaperView:
        view = ident.get("paper_view")
        if view is None:
            with self.app.app_context(), transaction(db.engine) as session:
                view = service.paper_view(session, ident["paper_id"])
            ident["paper_view"] = view  # immutable once drawn
        return view  # type: ignore[no-any-return]


def _auth_lang(auth: Any) -> str:
    lang = auth.get("lang") if isinstance(auth, dict) else None
    if isinstance(lang, str) and lang in LANGUAGES:
        return lang
    return str(current_app.config["EXAMSERVER"]["LOCALE"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # init_app made a new Socket.IO server for this app: give it its own namespace object.
    socketio.on_namespace(ExamNamespace(EXAM_NS, app))
    eio = socketio.server.eio if socketio.server is not None else None
    if eio is None:
        raise RuntimeError("socketio must be initialised before the delivery edges")
    app.extensions["examserver.writer"] = AnswerWriter(
        engine_factory=lambda: db.engine,
        create_queue=eio.create_queue,
        queue_empty=eio.get_queue_empty_exception(),
        create_event=eio.create_event,
        start_task=socketio.start_background_task,
        app_context=app.app_context,
        after_commit=push_after_commit,
        sleep=socketio.sleep,
    )
    app.extensions["examserver.clock"] = ClockTasks(
        engine_factory=lambda: db.engine,
        app_context=app.app_context,
        emit_state=_timeout_submitted,
        emit_tick=lambda attempt_id, remaining: to_attempt(
            attempt_id, "tick", {"remaining_ms": remaining}
        ),
        local_sids=_local_exam_sids,
        sleep=socketio.sleep,
        start_task=socketio.start_background_task,
    )


def _timeout_submitted(attempt_id: int, state: dict[str, Any]) -> None:
    to_attempt(attempt_id, "state", state)
    push_attempts({attempt_id})


def _local_exam_sids() -> list[str]:
    """The sids of the terminals connected to this worker."""
    server = socketio.server
    if server is None:
        return []
    return [sid for sid, _eio_sid in server.manager.get_participants(EXAM_NS, None)]
