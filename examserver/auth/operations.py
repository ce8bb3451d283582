"""Staff account operations shared by the CLI, the demo seeder and the admin pages."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from examserver.auth.models import Role, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD = 8


class AccountError(ValueError):
    """A refused account change, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def create_user(
    session: Session, username: str, password: str, role: str, display_name: str = ""
) -> User:
    """Add a staff account; flushes, never commits."""
    if not USERNAME_RE.match(username):
        raise AccountError("bad_username", "username: 2-64 letters, digits, _ . -")
    if role not in Role.__members__:
        raise AccountError("bad_role", f"role must be one of {', '.join(Role.__members__)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError("weak_password", f"password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError("username_taken", f"user {username!r} already exists")
    user = User(username=username, role=role, display_name=display_name or username)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user
