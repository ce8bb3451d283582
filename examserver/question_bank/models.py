"""Banks, knowledge points, questions and their immutable-once-used versions, media."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examserver.db import utcnow
from examserver.extensions import db


class QuestionStatus(enum.StrEnum):
    active = "active"
    retired = "retired"


class Bank(db.Model):  # type: ignore[name-defined,misc]
    """A question bank (题库) for one industry, personnel category and job type."""

    __tablename__ = "bank"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    job_type: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    topics: Mapped[list[Topic]] = relationship(back_populates="bank", order_by="Topic.id")


class Topic(db.Model):  # type: ignore[name-defined,misc]
    """A knowledge point (知识点), a node of a tree within one bank."""

    __tablename__ = "topic"
    __table_args__ = (UniqueConstraint("bank_id", "parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id"), default=None)
    name: Mapped[str] = mapped_column(String(200))

    bank: Mapped[Bank] = relationship(back_populates="topics")
    parent: Mapped[Topic | None] = relationship(remote_side="Topic.id")


class Question(db.Model):  # type: ignore[name-defined,misc]
    """A question's identity; its content lives in versions, the newest being current."""

    __tablename__ = "question"
    __table_args__ = (
        Index("ix_question_bank_status", "bank_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"))
    status: Mapped[str] = mapped_column(String(16), default=QuestionStatus.active.value)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_version.id", use_alter=True, name="fk_question_current_version"),
        default=None,
    )
    # Denormalised from the current version so the list filters on one table.
    type: Mapped[str] = mapped_column(String(16))
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topic.id", ondelete="SET NULL"), default=None, index=True
    )
    difficulty: Mapped[int] = mapped_column(default=3)
    stem_text: Mapped[str] = mapped_column(Text, default="")
    stem_key: Mapped[str] = mapped_column(String(64), index=True, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    bank: Mapped[Bank] = relationship()
    topic: Mapped[Topic | None] = relationship()
    current_version: Mapped[QuestionVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    versions: Mapped[list[QuestionVersion]] = relationship(
        back_populates="question",
        foreign_keys="QuestionVersion.question_id",
        order_by="QuestionVersion.version_no",
    )


class QuestionVersion(db.Model):  # type: ignore[name-defined,misc]
    """One content of a question. Once a paper has used it, it never changes."""

    __tablename__ = "question_version"
    __table_args__ = (UniqueConstraint("question_id", "version_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), index=True)
    version_no: Mapped[int] = mapped_column(default=1)
    type: Mapped[str] = mapped_column(String(16))
    stem: Mapped[str] = mapped_column(Text)
    # [{"key": stable option id, "text": sanitized html}] in authoring order
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    answer: Mapped[list[str]] = mapped_column(JSON, default=list)
    explanation: Mapped[str] = mapped_column(Text, default="")
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topic.id", ondelete="SET NULL"), default=None
    )
    difficulty: Mapped[int] = mapped_column(default=3)
    used_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)

    question: Mapped[Question] = relationship(
        back_populates="versions", foreign_keys=[question_id]
    )
    topic: Mapped[Topic | None] = relationship()

    @property
    def is_used(self) -> bool:
        return self.used_count > 0


class Media(db.Model):  # type: ignore[name-defined,misc]
    """An image uploaded to examserver; the only image source rich text may use."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    mime: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)
