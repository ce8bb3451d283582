"""Admin pages of paper blueprints."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("papers", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
