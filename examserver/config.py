"""Settings: defaults, then EXAMSERVER_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

ENV_PREFIX = "EXAMSERVER_"

# Every setting the application reads, with its default. An environment variable named
# EXAMSERVER_<KEY> (for example EXAMSERVER_DATABASE_URL) replaces the default.
DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: SQLite file instance/examserver.db
    "SECRET_KEY": None,  # None: generated once and kept in instance/secret_key
    "MESSAGE_QUEUE": None,  # e.g. redis://127.0.0.1:6379/0 for several workers
    "ASYNC_MODE": "eventlet",  # eventlet | gevent | threading
    "LOCALE": "zh_CN",
    "TIMEZONE": "Asia/Shanghai",
    "SQLITE_SYNCHRONOUS": "FULL",  # FULL survives power loss; NORMAL only a killed process
    "MAX_UPLOAD_MB": 20,
    "MEDIA_MAX_KB": 2048,
    "QUESTIONS_PER_PAGE": 50,
    "IMPORT_MAX_ROWS": 20000,
    # Training-record cards
    "ISSUER_NAME": "常州市安全生产培训考核中心",
    "CARD_PREFIX": "PX",
    "CARD_TRAINING_HOURS": 16,
    # Public card verification: wrong tries allowed per client per window
    "VERIFY_MAX_FAILURES": 10,
    "VERIFY_WINDOW_MIN": 15,
    # Reverse proxies in front of examserver (nginx): their X-Forwarded-For is trusted this deep
    "PROXY_HOPS": 0,
}

_INT_KEYS = {
    "MAX_UPLOAD_MB",
    "MEDIA_MAX_KB",
    "QUESTIONS_PER_PAGE",
    "IMPORT_MAX_ROWS",
    "CARD_TRAINING_HOURS",
    "VERIFY_MAX_FAILURES",
    "VERIFY_WINDOW_MIN",
    "PROXY_HOPS",
}


def load_settings(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the merged settings as Flask config keys."""
    settings = dict(DEFAULTS)
    for key in DEFAULTS:
        value = os.environ.get(ENV_PREFIX + key)
        if value is not None and value != "":
            if key in _INT_KEYS:
                try:
                    settings[key] = int(value)
                except ValueError:
                    raise SettingsError(f"{ENV_PREFIX}{key} must be a whole number") from None
            else:
                settings[key] = value
    overrides = dict(overrides or {})
    for key in list(overrides):
        if key in DEFAULTS:
            settings[key] = overrides.pop(key)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = "sqlite:///" + str(instance_path / "examserver.db")
    settings["DATABASE_URL"] = normalise_database_url(settings["DATABASE_URL"])
    check_settings(settings)
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret(instance_path)
    config = {
        "SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(settings["DATABASE_URL"]),
        "SECRET_KEY": settings["SECRET_KEY"],
        "BABEL_DEFAULT_LOCALE": settings["LOCALE"],
        "BABEL_DEFAULT_TIMEZONE": settings["TIMEZONE"],
        "MAX_CONTENT_LENGTH": int(settings["MAX_UPLOAD_MB"]) * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "EXAMSERVER": settings,
    }
    config.update(overrides)  # raw Flask keys such as TESTING
    return config


class SettingsError(ValueError):
    """A setting with a value examserver cannot run with."""


def check_settings(settings: dict[str, Any]) -> None:
    """Refuse settings that would break the system later, with the setting's name."""
    if settings["ASYNC_MODE"] not in ("eventlet", "gevent", "threading"):
        raise SettingsError("EXAMSERVER_ASYNC_MODE must be eventlet, gevent or threading")
    if not re.fullmatch(r"[A-Z0-9]{0,12}", str(settings["CARD_PREFIX"])):
        raise SettingsError("EXAMSERVER_CARD_PREFIX: up to 12 upper-case letters and digits")
    if settings["LOCALE"] not in ("zh_CN", "en"):
        raise SettingsError("EXAMSERVER_LOCALE must be zh_CN or en")
    for key in _INT_KEYS:
        if int(settings[key]) < 0:
            raise SettingsError(f"EXAMSERVER_{key} must not be negative")


def normalise_database_url(url: str) -> str:
    """Use psycopg2 for PostgreSQL: it is the driver with green-thread support (psycogreen)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    """Return SQLAlchemy engine options suited to the database behind ``url``."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _instance_secret(instance_path: Path) -> str:
    """Read the instance's secret key, creating it on first use."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
