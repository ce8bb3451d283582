"""Issuing and verifying training-record cards."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from examserver.delivery.models import Attempt
from examserver.records.models import TrainingRecord

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
