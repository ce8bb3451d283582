"""Role checks for views: every route states who may use it, checked on the server."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, redirect, request, url_for
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])

BANK_EDITORS = ("admin", "staff")


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let through only logged-in users holding one of ``roles``; others get 401/403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path))
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view as open to everyone, so the route audit knows it was meant."""
    view.allowed_roles = None  # type: ignore[attr-defined]
    return view
