"""Attempts (答题记录), their answers, and the server's heartbeat."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examserver.db import utcnow
from examserver.delivery.clock import AttemptStatus, Clock
from examserver.extensions import db


class Attempt(db.Model):  # type: ignore[name-defined,misc]
    """One candidate's sitting of one paper: its clock, its terminal, its result."""

    __tablename__ = "attempt"
    __table_args__ = (Index("ix_attempt_status_deadline", "status", "deadline_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("paper.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.waiting.value)
    duration_ms: Mapped[int] = mapped_column()
    earliest_submit_ms: Mapped[int] = mapped_column(default=0)
    # The blueprint's grading rules, frozen when the paper is drawn.
    pass_score: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False), default=0)
    multi_scoring: Mapped[str] = mapped_column(String(32), default="all_or_nothing")
    extension_ms: Mapped[int] = mapped_column(default=0)
    paused_ms: Mapped[int] = mapped_column(default=0)
    credited_ms: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    paused_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    pause_reason: Mapped[str] = mapped_column(String(200), default="")
    last_seq: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    # The one live terminal: its Socket.IO sid and when it was last heard from.
    terminal_id: Mapped[str] = mapped_column(String(64), default="")
    terminal_sid: Mapped[str | None] = mapped_column(String(64), default=None)
    terminal_seen_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    terminal_address: Mapped[str] = mapped_column(String(64), default="")
    token_nonce: Mapped[str] = mapped_column(String(32), default="")
    # What the room knows about the candidate (the proctor console's roster).
    first_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    verified_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)
    absent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    focus_losses: Mapped[int] = mapped_column(default=0, server_default="0")
    answered_count: Mapped[int] = mapped_column(default=0, server_default="0")
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    submit_reason: Mapped[str] = mapped_column(String(16), default="")
    score: Mapped[float | None] = mapped_column(Numeric(8, 2, asdecimal=False), default=None)
    max_score: Mapped[float | None] = mapped_column(Numeric(8, 2, asdecimal=False), default=None)
    passed: Mapped[bool | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    registration: Mapped[Any] = relationship("Registration")
    paper: Mapped[Any] = relationship("Paper")
    answers: Mapped[list[Answer]] = relationship(back_populates="attempt")

    def clock(self) -> Clock:
        """Return the attempt's timing state as a plain value."""
        return Clock.of(self)

    def set_clock(self, clock: Clock) -> None:
        """Store a new timing state."""
        self.status = clock.status.value
        self.started_at = clock.started_at
        self.deadline_at = clock.deadline_at
        self.paused_at = clock.paused_at
        self.extension_ms = clock.extension_ms
        self.paused_ms = clock.paused_ms
        self.credited_ms = clock.credited_ms


class Answer(db.Model):  # type: ignore[name-defined,misc]
    """A candidate's latest choice and flag on one question of their paper."""

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("attempt_id", "paper_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    paper_item_id: Mapped[int] = mapped_column(ForeignKey("paper_item.id"))
    choice: Mapped[list[str]] = mapped_column(JSON, default=list)
    choice_seq: Mapped[int] = mapped_column(default=0)
    flagged: Mapped[bool] = mapped_column(default=False)
    flag_seq: Mapped[int] = mapped_column(default=0)
    points: Mapped[float | None] = mapped_column(Numeric(8, 2, asdecimal=False), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    attempt: Mapped[Attempt] = relationship(back_populates="answers")


class ServerClock(db.Model):  # type: ignore[name-defined,misc]
    """The server's heartbeat, and the lease of the one worker that runs ticker and sweeper."""

    __tablename__ = "server_clock"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), default="")
    beat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
