"""Issuing and verifying training-record cards."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from examserver.delivery.models import Attempt
from examserver.identity import mask_id_number
from examserver.records.models import TrainingRecord

log = logging.getLogger("examserver.records")

CODE_LENGTH = 12


def _settings() -> dict[str, Any]:
    return dict(current_app.config["EXAMSERVER"])


def card_key(secret_key: str) -> bytes:
    """Derive the card-signing key from the server's secret (a key of its own purpose)."""
    return hmac.new(
        secret_key.encode(), b"examserver training-record card", hashlib.sha256
    ).digest()


def verify_code_for(key: bytes, record: TrainingRecord) -> str:
    """Return the card's verification code: an HMAC of the record that cannot be guessed."""
    message = "|".join(
        [
            record.card_no,
            record.id_number,
            record.name,
            f"{float(record.score):.2f}",
            record.exam_date.isoformat(),
            record.kind,
        ]
    ).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:CODE_LENGTH]


def issue_card_if_due(db: Session, attempt: Attempt, now: dt.datetime) -> TrainingRecord | None:
    """Create the card of a passed attempt whose blueprint issues one; idempotent; flushes."""
    if not attempt.passed:
        return None
    blueprint = attempt.paper.blueprint
    if not blueprint.issues_card:
        return None
    existing = db.scalar(select(TrainingRecord).where(TrainingRecord.attempt_id == attempt.id))
    if existing is not None:
        return existing
    settings = _settings()
    registration = attempt.registration
    candidate = registration.candidate
    exam_session = registration.session
    bank = blueprint.bank
    local_day = now.astimezone(ZoneInfo(settings["TIMEZONE"])).date()
    record = TrainingRecord(
        card_no=f"{settings['CARD_PREFIX']}{local_day.year}{attempt.id:07d}",
        attempt_id=attempt.id,
        candidate_id=candidate.id,
        name=candidate.name,
        sex=candidate.sex,
        id_number=candidate.id_number,
        employer=candidate.employer,
        industry=bank.industry,
        category=bank.category,
        job_type=candidate.job_type or bank.job_type,
        kind=exam_session.kind,
        training_hours=int(settings["CARD_TRAINING_HOURS"]),
        exam_date=local_day,
        score=float(attempt.score or 0),
        max_score=float(attempt.max_score or 0),
        passed=True,
        issuer=str(settings["ISSUER_NAME"]),
        issued_at=now,
        verify_code="",
    )
    record.verify_code = verify_code_for(card_key(current_app.config["SECRET_KEY"]), record)
    db.add(record)
    db.flush()
    return record


def find_card(db: Session, card_no: str, code: str) -> TrainingRecord | None:
    """Return the card if the number and code match (compared in constant time), else None."""
    record = db.scalar(select(TrainingRecord).where(TrainingRecord.card_no == card_no))
    if record is None or record.revoked_at is not None:
        hmac.compare_digest("x" * CODE_LENGTH, code.upper()[:CODE_LENGTH].ljust(CODE_LENGTH))
        return None
    if not hmac.compare_digest(record.verify_code, code.strip().upper()):
        return None
    return record


# ------------------------------------------------------------------ verification
CARD_NO_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
CODE_RE = re.compile(rf"^[A-Z2-7]{{{CODE_LENGTH}}}$")
# Grouping characters a person may type between the code's blocks of four.
_CODE_SEPARATORS = re.compile(r"[\s\-]+")
_DUMMY_MESSAGE = b"examserver: no such card"


@dataclass(frozen=True)
class CardRef:
    """A card number and verification code as typed, checked for shape only."""

    card_no: str
    code: str


def parse_card_ref(card_no: object, code: object) -> tuple[CardRef | None, dict[str, str]]:
    """Normalise a typed card number and code; return the reference or the problem per field.

    Both are read case-insensitively (upper-cased: card numbers are issued upper-case); spaces and
    hyphens between the code's blocks are dropped.
    """
    problems: dict[str, str] = {}
    number = card_no.strip().upper() if isinstance(card_no, str) else ""
    typed_code = _CODE_SEPARATORS.sub("", code).upper() if isinstance(code, str) else ""
    if not CARD_NO_RE.match(number):
        problems["card_no"] = "bad_card_no"
    if not CODE_RE.match(typed_code):
        problems["code"] = "bad_code"
    if problems:
        return None, problems
    return CardRef(number, typed_code), {}


def match_card(db: Session, key: bytes, ref: CardRef) -> TrainingRecord | None:
    """Return the card (revoked ones too) when ``ref.code`` is its HMAC under ``key``, else None.

    The code is compared with an HMAC recomputed from the stored fields, so a card whose
    stored fields were altered after issue no longer verifies. An unknown number costs the same
    HMAC and comparison as a wrong code.
    """
    record = db.scalar(select(TrainingRecord).where(TrainingRecord.card_no == ref.card_no))
    if record is None:
        digest = hmac.new(key, _DUMMY_MESSAGE, hashlib.sha256).digest()
        hmac.compare_digest(base64.b32encode(digest).decode()[:CODE_LENGTH], ref.code)
        return None
    expected = verify_code_for(key, record)
    if hmac.compare_digest(expected, ref.code):
        return record
    if hmac.compare_digest(record.verify_code, ref.code):
        log.error("card %s: its fields no longer match its code (altered?)", record.card_no)
    return None


# ------------------------------------------------------------------ the printed card
@dataclass(frozen=True)
class CardField:
    """One labelled line of a card."""

    name: str
    label: str
    value: str


@dataclass(frozen=True)
class CardSheet:
    """What a card shows, translated: the HTML page, the PDF and the verification page share it."""

    title: str
    issuer: str
    card_no: str
    revoked: bool
    status_label: str
    fields: tuple[CardField, ...]

    def value(self, name: str) -> str:
        """Return the value of the field called ``name``."""
        return next(f.value for f in self.fields if f.name == name)


def kind_label(kind: str) -> str:
    """Return the translated name of an exam kind (初训/复训/复审/补考)."""
    labels = {
        "initial": _("Initial training"),
        "retraining": _("Re-training"),
        "review": _("Review"),
        "retake": _("Retake"),
    }
    return str(labels.get(kind, kind))


def sex_label(sex: str) -> str:
    """Return the translated sex as stored from the ID card (男/女)."""
    labels = {"男": _("Male"), "女": _("Female")}
    return str(labels.get(sex, sex))


def format_points(value: float) -> str:
    """Return a score without a needless decimal part: 80, 92.5."""
    return f"{float(value):g}"


def card_sheet(record: TrainingRecord) -> CardSheet:
    """Build the card's translated lines in the current locale; the ID number is masked."""
    zone = ZoneInfo(str(_settings()["TIMEZONE"]))
    issued_on = record.issued_at.astimezone(zone).date()
    if record.revoked_at is not None:
        revoked_on = format_date(record.revoked_at.astimezone(zone).date(), "long")
        status = _("Revoked on %(date)s", date=revoked_on)
    else:
        status = _("Valid")
    fields = (
        CardField("name", _("Full name"), record.name),
        CardField("sex", _("Sex"), sex_label(record.sex)),
        CardField("id_number", _("ID number"), mask_id_number(record.id_number)),
        CardField("employer", _("Employer"), record.employer),
        CardField("industry", _("Industry"), record.industry),
        CardField("category", _("Personnel category"), record.category),
        CardField("job_type", _("Job type"), record.job_type),
        CardField("kind", _("Training kind"), kind_label(record.kind)),
        CardField("training_hours", _("Training hours"), str(record.training_hours)),
        CardField("exam_date", _("Exam date"), format_date(record.exam_date, "long")),
        CardField(
            "score",
            _("Score"),
            f"{format_points(record.score)} / {format_points(record.max_score)}",
        ),
        CardField("result", _("Result"), _("Pass") if record.passed else _("Fail")),
        CardField("card_no", _("Card number"), record.card_no),
        CardField("issued_on", _("Issue date"), format_date(issued_on, "long")),
    )
    return CardSheet(
        title=_("Work-safety training record"),
        issuer=record.issuer,
        card_no=record.card_no,
        revoked=record.revoked_at is not None,
        status_label=str(status),
        fields=fields,
    )


@dataclass(frozen=True)
class PrintedCard:
    """A card ready to print: its sheet, the code to type, the QR link, translated captions."""

    sheet: CardSheet
    code: str
    code_line: str
    qr_url: str
    qr_caption: str
    verify_line: str


def group_code(code: str) -> str:
    """Return a verification code in blocks of four, as printed: ``ABCD EFGH IJKL``."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def printed_card(record: TrainingRecord, qr_url: str, verify_page_url: str) -> PrintedCard:
    """Build what a printed card carries, in the current locale."""
    code = group_code(record.verify_code)
    return PrintedCard(
        sheet=card_sheet(record),
        code=code,
        code_line=_("Verification code: %(code)s", code=code),
        qr_url=qr_url,
        qr_caption=_("Scan to verify"),
        verify_line=_("Verify at %(url)s with the card number and code.", url=verify_page_url),
    )
