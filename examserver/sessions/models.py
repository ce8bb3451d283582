"""Exam sessions, candidates and the registration of a candidate to a session."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examserver.db import utcnow
from examserver.extensions import db
from examserver.papers.models import Blueprint


class StartMode(enum.StrEnum):
    """How candidates start: the proctor starts the room, or each within a time window."""

    proctor = "proctor"
    window = "window"


class ExamKind(enum.StrEnum):
    initial = "initial"
    retraining = "retraining"
    review = "review"
    retake = "retake"


class ExamSession(db.Model):  # type: ignore[name-defined,misc]
    """An exam session (考试场次): a blueprint, a room, a time window and its candidates."""

    __tablename__ = "exam_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    blueprint_id: Mapped[int] = mapped_column(ForeignKey("blueprint.id"))
    kind: Mapped[str] = mapped_column(String(16), default=ExamKind.initial.value)
    start_mode: Mapped[str] = mapped_column(String(16), default=StartMode.proctor.value)
    exam_point: Mapped[str] = mapped_column(String(200), default="")
    room: Mapped[str] = mapped_column(String(100), default="")
    seats: Mapped[int] = mapped_column(default=0)
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    notes: Mapped[str] = mapped_column(Text, default="")
    room_started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    blueprint: Mapped[Blueprint] = relationship()
    registrations: Mapped[list[Registration]] = relationship(
        back_populates="session", order_by="Registration.seat"
    )


class Candidate(db.Model):  # type: ignore[name-defined,misc]
    """A person who sits exams (考生), known by their resident ID number."""

    __tablename__ = "candidate"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(8), default="")
    employer: Mapped[str] = mapped_column(String(200), default="")
    job_type: Mapped[str] = mapped_column(String(100), default="")
    photo_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Registration(db.Model):  # type: ignore[name-defined,misc]
    """A candidate admitted to a session, with an admission number (准考证号) and a seat."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("session_id", "candidate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"), index=True)
    admission_no: Mapped[str] = mapped_column(String(32), unique=True)
    seat: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    session: Mapped[ExamSession] = relationship(back_populates="registrations")
    candidate: Mapped[Candidate] = relationship()
