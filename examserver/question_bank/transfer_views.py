"""Admin pages to import and export question banks."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("transfer", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
