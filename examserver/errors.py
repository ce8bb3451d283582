"""Error pages and JSON errors with stable codes; a server error page is a bug."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("examserver")


class AppError(Exception):
    """An error a user can meet: a stable code, an HTTP status and a translated message."""

    status = 400

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status


_HTTP_CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(code: str, message: str, status: int) -> tuple[Response | str, int]:
    """Answer with JSON {error: {code, message}} for the API, else an HTML page."""
    if _wants_json():
        return jsonify(error={"code": code, "message": message}), status
    return render_template("error.html", code=code, message=message, status=status), status


def init_app(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> tuple[Response | str, int]:
        log.info("refused %s %s: %s (%s)", request.method, request.path, exc.code, exc.message)
        return error_response(exc.code, exc.message, exc.status)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[Response | str, int]:
        log.warning("CSRF refused %s %s: %s", request.method, request.path, exc.description)
        return error_response(
            "csrf_failed", _("The form has expired. Reload the page and try again."), 400
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response | str, int]:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        messages = {
            400: _("The request was not understood."),
            401: _("Please log in."),
            403: _("You are not allowed to do this."),
            404: _("The page you asked for does not exist."),
            405: _("This action is not allowed here."),
            413: _("The upload is too large."),
            429: _("Too many attempts. Wait a moment and try again."),
        }
        if status >= 400 and status != 404:
            log.info("HTTP %s on %s %s", status, request.method, request.path)
        return error_response(code, messages.get(status, exc.name), status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response | str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        from examserver.extensions import db

        db.session.rollback()
        return error_response(
            "internal_error", _("Something went wrong on the server. It has been logged."), 500
        )
