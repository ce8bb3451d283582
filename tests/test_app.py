"""The application factory, settings and the schema migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from examserver import create_app
from examserver.db import alembic_config, upgrade_database
from tests.conftest import PG_URL, require_postgres


def test_settings_come_from_environment_then_overrides(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXAMSERVER_DATABASE_URL", "sqlite:///" + str(tmp_path / "env.db"))
    monkeypatch.setenv("EXAMSERVER_LOCALE", "en")
    app = create_app({"SECRET_KEY": "k", "ASYNC_MODE": "threading"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")
    assert app.config["BABEL_DEFAULT_LOCALE"] == "en"
    app = create_app({"DATABASE_URL": "sqlite:///" + str(tmp_path / "o.db"), "SECRET_KEY": "k",
                      "ASYNC_MODE": "threading"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("o.db")


def test_postgres_urls_use_the_green_thread_driver(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": "postgresql://u@h/db", "SECRET_KEY": "k",
                      "ASYNC_MODE": "threading"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u@h/db"


def test_sqlite_runs_in_wal_with_foreign_keys(app) -> None:
    from examserver.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrations_build_the_models_schema_on_sqlite(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "m.db")
    upgrade_database(url)
    command.check(alembic_config(url))  # raises if the models and migrations differ
    command.downgrade(alembic_config(url), "base")
    upgrade_database(url)


@pytest.mark.postgres
def test_migrations_build_the_models_schema_on_postgres() -> None:
    require_postgres()
    from sqlalchemy import create_engine

    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    engine.dispose()
    upgrade_database(PG_URL)
    command.check(alembic_config(PG_URL))
    command.downgrade(alembic_config(PG_URL), "base")
    upgrade_database(PG_URL)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EXAMSERVER_ASYNC_MODE", "tornado"),
        ("EXAMSERVER_CARD_PREFIX", "px-"),
        ("EXAMSERVER_LOCALE", "fr"),
        ("EXAMSERVER_QUESTIONS_PER_PAGE", "many"),
        ("EXAMSERVER_PROXY_HOPS", "-1"),
    ],
)
def test_bad_settings_are_refused_with_their_name(monkeypatch, tmp_path: Path, name, value) -> None:
    from examserver.config import SettingsError

    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        create_app({"DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db"), "SECRET_KEY": "k"})


def test_proxy_hops_trust_the_forwarded_address(tmp_path: Path) -> None:
    app = create_app(
        {"DATABASE_URL": "sqlite:///" + str(tmp_path / "p.db"), "SECRET_KEY": "k",
         "ASYNC_MODE": "threading", "PROXY_HOPS": 1}
    )
    seen = []

    @app.get("/_probe")
    def _probe() -> str:
        from flask import request

        seen.append(request.remote_addr)
        return "ok"

    _probe.allowed_roles = None
    app.test_client().get("/_probe", headers={"X-Forwarded-For": "10.1.2.3"})
    assert seen == ["10.1.2.3"]


@pytest.mark.parametrize("upgrade", [False, True], ids=["polling", "websocket"])
def test_a_socketio_event_context_matches_a_rule(app, upgrade: bool) -> None:
    """Flask-SocketIO pushes a request context made from the handshake for events it runs; with
    no matching rule werkzeug keeps a NotFound or a WebsocketMismatch and its traceback, a
    reference cycle per event for the garbage collector."""
    headers = {"Upgrade": "websocket", "Connection": "Upgrade"} if upgrade else {}
    with app.test_request_context(
        "/socket.io/?EIO=4&transport=websocket", headers=headers
    ) as context:
        assert context.request.routing_exception is None
        assert context.url_adapter.websocket is upgrade
