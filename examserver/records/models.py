"""Training-record cards and the log of failed verification tries (for rate limiting)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from examserver.db import utcnow
from examserver.extensions import db


class TrainingRecord(db.Model):  # type: ignore[name-defined,misc]
    """A training-record card (培训记录): one training/exam row made portable and verifiable.

    The fields are a snapshot taken at issue: later edits of the candidate or the session do not
    change a card that has been printed.
    """

    __tablename__ = "training_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(32), unique=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), unique=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(8), default="")
    id_number: Mapped[str] = mapped_column(String(18))
    employer: Mapped[str] = mapped_column(String(200), default="")
    industry: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    job_type: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(16))
    training_hours: Mapped[int] = mapped_column(default=0)
    exam_date: Mapped[dt.date]
    score: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False))
    max_score: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False))
    passed: Mapped[bool] = mapped_column()
    issuer: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    verify_code: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class VerificationFailure(db.Model):  # type: ignore[name-defined,misc]
    """A wrong card-number/code try, kept to rate-limit guessing across workers."""

    __tablename__ = "verification_failure"
    __table_args__ = (Index("ix_verification_failure_client_at", "client", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
