"""Pages that belong to no feature: the home page, language choice, uploaded media."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user

from examserver.auth.access import public
from examserver.extensions import db
from examserver.i18n import LANGUAGES

bp = Blueprint("web", __name__)


@bp.get("/")
@public
def home() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect("/login")
    if current_user.role in ("admin", "staff"):
        return redirect("/admin/questions")
    if current_user.role in ("proctor", "inspector"):
        return redirect("/proctor/")
    return render_template("home.html")


@bp.get("/favicon.ico")
@public
def favicon() -> ResponseReturnValue:
    return redirect("/static/favicon.svg", code=301)


@bp.route("/socket.io/", methods=["GET", "POST"])
@public
def socketio_path() -> ResponseReturnValue:
    """Never reached: engine.io's middleware answers /socket.io/ before Flask does.

    The rule is here because Flask-SocketIO pushes a request context for this path on every
    Socket.IO event: without a matching rule each one stores a NotFound with its traceback, a
    reference cycle per event that the garbage collector then has to find (measured as the
    main source of collection pauses under load, bench/README.md).
    """
    abort(404)


# The same for the WebSocket handshake: a rule without ``websocket=True`` does not match an
# upgrade request, and werkzeug keeps a WebsocketMismatch (with its traceback) instead.
bp.add_url_rule(
    "/socket.io/", endpoint="socketio_websocket", view_func=socketio_path, websocket=True
)


@bp.post("/lang/<code>")
@public
def set_language(code: str) -> ResponseReturnValue:
    if code not in LANGUAGES:
        abort(404)
    session["lang"] = code
    target = request.referrer or "/"
    if not target.startswith(request.host_url):
        target = "/"
    return redirect(target)


@bp.get("/media/<int:media_id>")
@public
def media(media_id: int) -> ResponseReturnValue:
    from examserver.question_bank.models import Media

    item = db.session.get(Media, media_id)
    if item is None:
        abort(404)
    response = Response(item.data, mimetype=item.mime)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
        )
        return response
