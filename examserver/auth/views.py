"""Staff login and logout, as an HTML form and as JSON for the consoles."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from examserver.auth.access import public, roles_required
from examserver.auth.models import Role, User
from examserver.db import utcnow
from examserver.errors import AppError
from examserver.extensions import csrf, db, login_manager

bp = Blueprint("auth", __name__)
ALL_ROLES = tuple(Role.__members__)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not user.check_password(password):
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@roles_required(*ALL_ROLES)
def logout() -> ResponseReturnValue:
    _end_staff_session()
    return redirect(url_for("auth.login"))


@bp.post("/api/login")
@public
@csrf.exempt
def api_login() -> ResponseReturnValue:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise AppError("bad_payload", _("Expected a JSON object."))
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise AppError("bad_payload", _("Username and password are required."))
    if len(username) > 64 or len(password) > 256:
        raise AppError("bad_payload", _("Username or password too long."))
    user = authenticate(username, password)
    if user is None:
        raise AppError("bad_credentials", _("Wrong username or password."), 401)
    login_user(user)
    return jsonify(ok=True, user={"id": user.id, "username": user.username, "role": user.role})


@bp.post("/api/logout")
@roles_required(*ALL_ROLES)
def api_logout() -> ResponseReturnValue:
    _end_staff_session()
    return jsonify(ok=True)


def _end_staff_session() -> None:
    """Log out, and close this user's live consoles: their sockets do not outlive the login."""
    from flask_login import current_user

    from examserver.proctor.views import disconnect_staff

    user_id = current_user.id
    logout_user()
    disconnect_staff(user_id)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in.")
    app.register_blueprint(bp)
