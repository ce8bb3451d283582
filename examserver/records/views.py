"""Public pages of training-record cards: the printable card, its PDF and QR code, verification.

Anyone holding a card number and its code may see the card: the code is the capability. A wrong
code answers exactly like an unknown number, counts as a failed try of the client, and too many
failed tries lock the client out before any card is looked at.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from examserver.auth.access import public
from examserver.db import utcnow
from examserver.errors import AppError, error_response
from examserver.extensions import db
from examserver.records import pdf, ratelimit, service
from examserver.records.models import TrainingRecord
from examserver.records.service import CardRef

bp = Blueprint("records", __name__)
log = logging.getLogger("examserver.records")


class VerificationLocked(AppError):
    """Too many failed tries from one client: refused before any card is looked at."""

    def __init__(self, lockout: ratelimit.Lockout) -> None:
        minutes = max(1, math.ceil(lockout.retry_after_s / 60))
        super().__init__(
            "rate_limited",
            _(
                "Too many wrong card numbers or codes were tried from your address. "
                "Try again in %(minutes)d minutes.",
                minutes=minutes,
            ),
            429,
        )
        self.retry_after_s = lockout.retry_after_s


def _session() -> Session:
    return cast(Session, db.session)


def _settings() -> dict[str, Any]:
    return cast(dict[str, Any], current_app.config["EXAMSERVER"])


def _not_found() -> AppError:
    return AppError("card_not_found", _("No card matches this card number and code."), 404)


def _lookup(ref: CardRef) -> TrainingRecord | None:
    """Refuse a locked-out client, then look the card up; a miss is logged and counted."""
    settings = _settings()
    client = ratelimit.client_key(request.remote_addr)
    now = utcnow()
    window = dt.timedelta(minutes=int(settings["VERIFY_WINDOW_MIN"]))
    lockout = ratelimit.lockout(
        _session(), client, now, int(settings["VERIFY_MAX_FAILURES"]), window
    )
    if lockout is not None:
        log.warning("card verification refused: %s is locked out", client)
        raise VerificationLocked(lockout)
    key = service.card_key(current_app.config["SECRET_KEY"])
    record = service.match_card(_session(), key, ref)
    if record is None:
        ratelimit.record_failure(_session(), client, now, window)
        _session().commit()
        log.warning("card verification failed: %s tried card number %s", client, ref.card_no)
    return record


def _card_or_404(card_no: str, code: str) -> TrainingRecord:
    ref, _problems = service.parse_card_ref(card_no, code)
    if ref is None:
        log.info("card link refused: malformed number or code from %s", request.remote_addr)
        raise _not_found()
    record = _lookup(ref)
    if record is None:
        raise _not_found()
    return record


def _card_locale() -> str:
    """The card is an official document in the centre's language, whatever the UI shows."""
    return str(_settings()["LOCALE"])


def _printed(record: TrainingRecord) -> service.PrintedCard:
    qr_url = url_for(
        "records.verify_link", card_no=record.card_no, code=record.verify_code, _external=True
    )
    verify_page = url_for("records.verify_form", _external=True)
    with force_locale(_card_locale()):
        return service.printed_card(record, qr_url, verify_page)


def _private(response: Response) -> Response:
    # The URL carries the card's code: keep the page out of caches, indexes and referrers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/cards/<card_no>/<code>")
@public
def card(card_no: str, code: str) -> ResponseReturnValue:
    record = _card_or_404(card_no, code)
    page = render_template(
        "records/card.html",
        card=_printed(record),
        card_lang=_card_locale().replace("_", "-"),
        pdf_url=url_for("records.card_pdf", card_no=record.card_no, code=record.verify_code),
        qr_src=url_for("records.card_qr", card_no=record.card_no, code=record.verify_code),
    )
    return _private(make_response(page))


@bp.get("/cards/<card_no>/<code>.pdf")
@public
def card_pdf(card_no: str, code: str) -> ResponseReturnValue:
    record = _card_or_404(card_no, code)
    response = Response(pdf.render_card_pdf(_printed(record)), mimetype="application/pdf")
    # card_no matched [A-Za-z0-9]+, so the file name is plain ASCII.
    response.headers["Content-Disposition"] = (
        f'inline; filename="training-record-{record.card_no}.pdf"'
    )
    return _private(response)


@bp.get("/cards/<card_no>/<code>/qr.png")
@public
def card_qr(card_no: str, code: str) -> ResponseReturnValue:
    record = _card_or_404(card_no, code)
    url = url_for(
        "records.verify_link", card_no=record.card_no, code=record.verify_code, _external=True
    )
    response = Response(pdf.qr_png(url), mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _field_messages(problems: dict[str, str]) -> dict[str, str]:
    messages = {
        "bad_card_no": _("Enter the card number as printed on the card: letters and digits."),
        "bad_code": _(
            "Enter the 12-character verification code printed on the card "
            "(letters A–Z and digits 2–7)."
        ),
    }
    return {field: str(messages[code]) for field, code in problems.items()}


def _verify_page(card_no: Any, code: Any) -> ResponseReturnValue:
    """Validate, look up and answer with the verification page."""
    form = {
        "card_no": card_no if isinstance(card_no, str) else "",
        "code": code if isinstance(code, str) else "",
    }
    ref, problems = service.parse_card_ref(card_no, code)
    if ref is None:
        log.info("card verification refused: %s", sorted(problems.values()))
        page = render_template(
            "records/verify.html",
            form={k: v[:64] for k, v in form.items()},
            errors=_field_messages(problems),
            problems=problems,
        )
        return page, 400
    record = _lookup(ref)
    if record is None:
        page = render_template(
            "records/verify.html", form={"card_no": ref.card_no, "code": ""}, outcome="no_match"
        )
        return _private(make_response(page, 404))
    page = render_template(
        "records/verify.html",
        form={"card_no": record.card_no, "code": ""},
        outcome="found",
        sheet=service.card_sheet(record),
        card_url=url_for("records.card", card_no=record.card_no, code=record.verify_code),
    )
    return _private(make_response(page))


@bp.get("/verify")
@public
def verify_form() -> ResponseReturnValue:
    return render_template("records/verify.html", form={"card_no": "", "code": ""})


@bp.post("/verify")
@public
def verify_submit() -> ResponseReturnValue:
    return _verify_page(request.form.get("card_no"), request.form.get("code"))


@bp.get("/verify/<card_no>/<code>")
@public
def verify_link(card_no: str, code: str) -> ResponseReturnValue:
    return _verify_page(card_no, code)


@bp.errorhandler(VerificationLocked)
def _locked(exc: VerificationLocked) -> ResponseReturnValue:
    body, status = error_response(exc.code, exc.message, exc.status)
    response = make_response(body, status)
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
