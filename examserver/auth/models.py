"""Staff accounts."""

from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from examserver.db import utcnow
from examserver.extensions import db


class Role(enum.StrEnum):
    """What a staff account may do; checked on the server for every route."""

    admin = "admin"
    staff = "staff"
    proctor = "proctor"
    inspector = "inspector"
    examiner = "examiner"
    institution = "institution"


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    # The exam point (考试点) a patrol inspector watches; empty for other roles.
    exam_point: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def has_role(self, *roles: str) -> bool:
        return self.role in roles
