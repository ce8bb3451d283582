"""The exam-room record's pages: an HTML print view and the same record as a PDF."""

from __future__ import annotations

import logging
from typing import cast

from flask import Blueprint, Flask, Response, abort, current_app, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session

from examserver.auth.access import roles_required
from examserver.db import utcnow
from examserver.extensions import db
from examserver.proctor import record, record_pdf, service
from examserver.sessions.models import ExamSession

log = logging.getLogger("examserver.proctor")

bp = Blueprint("proctor_record", __name__, url_prefix="/proctor")
WATCHERS = ("admin", "staff", "proctor", "inspector")


def _session() -> Session:
    """The request's database session, typed as the plain ORM session the services take."""
    return cast(Session, db.session)


def _sheet(session_id: int) -> record.RecordSheet:
    """Authorise like the console (404 unknown, 403 not watchable), then build the sheet."""
    session = _session()
    exam_session = session.get(ExamSession, session_id)
    if exam_session is None:
        abort(404)
    user = current_user._get_current_object()
    if not service.can_watch(session, user, exam_session):
        log.warning("user %s may not read the record of session %s", user.username, session_id)
        abort(403)
    settings = current_app.config["EXAMSERVER"]
    data = record.room_record(
        session,
        session_id,
        utcnow(),
        issuer=str(settings["ISSUER_NAME"]),
        timezone=str(settings["TIMEZONE"]),
    )
    return record.record_sheet(data)


def _private(response: Response) -> Response:
    # The record names candidates: no shared cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sessions/<int:session_id>/record", endpoint="record")
@roles_required(*WATCHERS)
def record_page(session_id: int) -> ResponseReturnValue:
    sheet = _sheet(session_id)
    page = render_template(
        "proctor/record.html",
        sheet=sheet,
        session_id=session_id,
        pdf_url=url_for("proctor_record.record_pdf", session_id=session_id),
        console_url=url_for("proctor.console", session_id=session_id),
    )
    return _private(Response(page, mimetype="text/html"))


@bp.get("/sessions/<int:session_id>/record.pdf", endpoint="record_pdf")
@roles_required(*WATCHERS)
def record_pdf_file(session_id: int) -> ResponseReturnValue:
    sheet = _sheet(session_id)
    response = Response(record_pdf.render_record_pdf(sheet), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{sheet.file_stem}.pdf"'
    return _private(response)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
