"""Flask-Babel set-up: zh_CN by default, English selectable per browser session."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_request_context, session
from flask_babel import gettext as _

from examserver.extensions import babel

LANGUAGES = {"zh_CN": "中文", "en": "English"}


def select_locale() -> str:
    """Choose the UI language: the visitor's choice, else the configured default."""
    chosen = session.get("lang") if has_request_context() else None
    if chosen in LANGUAGES:
        return str(chosen)
    return str(current_app.config["EXAMSERVER"]["LOCALE"])


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {
            "languages": LANGUAGES,
            "current_locale": select_locale(),
            "role_label": role_label,
            "type_label": type_label,
        }


def role_label(role: str) -> str:
    """Return the translated name of a staff role."""
    labels = {
        "admin": _("Administrator"),
        "staff": _("Exam-centre staff"),
        "proctor": _("Proctor"),
        "inspector": _("Patrol inspector"),
        "examiner": _("Examiner"),
        "institution": _("Training institution"),
    }
    return str(labels.get(role, role))


def type_label(question_type: str) -> str:
    """Return the translated name of a question type."""
    labels = {
        "judge": _("True/false"),
        "single": _("Single choice"),
        "multi": _("Multiple response"),
    }
    return str(labels.get(question_type, question_type))
