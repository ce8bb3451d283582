"""Blueprints with ordered sections, and drawn papers pointing at exact question versions."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examserver.db import utcnow
from examserver.extensions import db


class MultiScoring(enum.StrEnum):
    """How a multiple-response question is scored."""

    all_or_nothing = "all_or_nothing"
    partial = "partial"  # any wrong option: 0; otherwise 0.5 per correct option chosen


class Blueprint(db.Model):  # type: ignore[name-defined,misc]
    """A paper blueprint (组卷规则): sections, timing, pass mark and scoring rules."""

    __tablename__ = "blueprint"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"))
    duration_min: Mapped[int] = mapped_column(default=120)
    pass_score: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False), default=80)
    earliest_submit_min: Mapped[int] = mapped_column(default=30)
    shuffle_options: Mapped[bool] = mapped_column(default=True)
    multi_scoring: Mapped[str] = mapped_column(
        String(32), default=MultiScoring.all_or_nothing.value
    )
    allow_review: Mapped[bool] = mapped_column(default=False)
    issues_card: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    bank: Mapped[Any] = relationship("Bank")
    sections: Mapped[list[BlueprintSection]] = relationship(
        back_populates="blueprint",
        order_by="BlueprintSection.position",
        cascade="all, delete-orphan",
    )

    @property
    def max_score(self) -> float:
        return float(sum(s.count * s.points for s in self.sections))


class BlueprintSection(db.Model):  # type: ignore[name-defined,misc]
    """One section of a blueprint: how many questions of one type, and from where."""

    __tablename__ = "blueprint_section"
    __table_args__ = (UniqueConstraint("blueprint_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    blueprint_id: Mapped[int] = mapped_column(ForeignKey("blueprint.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column()
    points: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False))
    # Knowledge points (with their descendants) the questions are drawn from; empty: any.
    topic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    difficulty_min: Mapped[int] = mapped_column(default=1)
    difficulty_max: Mapped[int] = mapped_column(default=5)

    blueprint: Mapped[Blueprint] = relationship(back_populates="sections")


class Paper(db.Model):  # type: ignore[name-defined,misc]
    """A drawn paper (试卷): the seed and the exact question versions it shows, in order."""

    __tablename__ = "paper"

    id: Mapped[int] = mapped_column(primary_key=True)
    blueprint_id: Mapped[int] = mapped_column(ForeignKey("blueprint.id"), index=True)
    seed: Mapped[str] = mapped_column(String(64))
    # The paper as its terminal shows it (no key), rendered once when it is drawn, so that a
    # room starting in the same second costs no assembly: see delivery.service.paper_view.
    view: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    blueprint: Mapped[Blueprint] = relationship()
    items: Mapped[list[PaperItem]] = relationship(
        back_populates="paper", order_by="PaperItem.position", cascade="all, delete-orphan"
    )


class PaperItem(db.Model):  # type: ignore[name-defined,misc]
    """One question on a paper, pinned to a question version, with its option order."""

    __tablename__ = "paper_item"
    __table_args__ = (UniqueConstraint("paper_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("paper.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    section_index: Mapped[int] = mapped_column()
    question_version_id: Mapped[int] = mapped_column(
        ForeignKey("question_version.id"), index=True
    )
    option_order: Mapped[list[str]] = mapped_column(JSON, default=list)
    points: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False))

    paper: Mapped[Paper] = relationship(back_populates="items")
    question_version: Mapped[Any] = relationship("QuestionVersion")
