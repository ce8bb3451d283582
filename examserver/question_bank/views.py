"""Admin pages of the question bank."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("bank", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
