"""Proctor assignments, incidents and the audit log of every action in a room."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examserver.db import utcnow
from examserver.extensions import db


class SessionStaff(db.Model):  # type: ignore[name-defined,misc]
    """A staff member assigned to an exam session: its proctors (监考员)."""

    __tablename__ = "session_staff"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    duty: Mapped[str] = mapped_column(String(16), default="proctor")

    user: Mapped[Any] = relationship("User")


class IncidentKind(enum.StrEnum):
    warning = "warning"
    expulsion = "expulsion"


class Incident(db.Model):  # type: ignore[name-defined,misc]
    """A violation (违纪) recorded by a proctor; an expulsion needs a second staff member."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    recorded_by: Mapped[Any] = relationship("User", foreign_keys=[recorded_by_id])
    confirmed_by: Mapped[Any] = relationship("User", foreign_keys=[confirmed_by_id])


class RoomEvent(db.Model):  # type: ignore[name-defined,misc]
    """One line of a room's log: terminal events and every proctor action (who, when, why)."""

    __tablename__ = "room_event"
    __table_args__ = (Index("ix_room_event_session_at", "session_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id"), default=None)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor: Mapped[Any] = relationship("User")
