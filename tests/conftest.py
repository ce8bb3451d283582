"""Shared fixtures: an app on a fresh database (SQLite, and PostgreSQL where asked), clients,
and factories that return callables."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from examserver import create_app
from examserver.extensions import db

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_BASE_URL = os.environ.get(
    "EXAMSERVER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Each test run works in a database of its own, so that parallel runs never collide.
PG_DATABASE = f"examserver_test_{os.getpid()}"
PG_URL = PG_BASE_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE
REDIS_URL = os.environ.get("EXAMSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SHARED = Path(
    os.environ.get("EXAMSERVER_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)


def _postgres_reason() -> str | None:
    try:
        import psycopg2

        conn = psycopg2.connect(PG_BASE_URL, connect_timeout=3)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
            cur.execute(f"CREATE DATABASE {PG_DATABASE}")
        conn.close()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {PG_BASE_URL} is not usable: {exc}"
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's PostgreSQL database if one was made."""
    if _pg_reason is not None:
        return
    import psycopg2

    try:
        conn = psycopg2.connect(PG_BASE_URL, connect_timeout=3)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.close()
    except psycopg2.Error:
        pass


_pg_reason: str | None | bool = False


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not there."""
    global _pg_reason
    if _pg_reason is False:
        _pg_reason = _postgres_reason()
    if _pg_reason:
        if CI:
            pytest.fail(f"CI needs PostgreSQL: {_pg_reason}")
        pytest.skip(str(_pg_reason))


def _fresh_schema(app: Flask) -> None:
    # The process-level caches of immutable paper data are keyed by database URL and paper id;
    # a schema dropped and made again under the same URL restarts the ids.
    from examserver.delivery import service as delivery_service
    from examserver.proctor import service as proctor_service

    delivery_service._PAPER_VIEWS.clear()
    proctor_service._ITEM_TOTALS.clear()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        db.create_all()


def make_app(database_url: str, **overrides: Any) -> Flask:
    import examserver.models  # noqa: F401  (every table, for create_all)

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "ASYNC_MODE": "threading",
            "SQLITE_SYNCHRONOUS": "NORMAL",
            "TESTING": True,
            **overrides,
        }
    )
    _fresh_schema(app)
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a fresh SQLite database."""
    application = make_app("sqlite:///" + str(tmp_path / "test.db"))
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a fresh database: once on SQLite, once on PostgreSQL."""
    if request.param == "postgres":
        require_postgres()
        url = PG_URL
    else:
        url = "sqlite:///" + str(tmp_path / "test.db")
    application = make_app(url)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """Run the test inside the app's context."""
    with app.app_context():
        yield


# ------------------------------------------------------------------ factories
@pytest.fixture
def create_user(app: Flask) -> Callable[..., Any]:
    def factory(username: str = "admin1", role: str = "admin", password: str = "secret-pass") -> Any:
        from examserver.auth.operations import create_user as create

        with app.app_context():
            user = create(db.session, username, password, role)
            db.session.commit()
            return user.id

    return factory


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Fetch a page and return the CSRF token of its first form."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login(client: FlaskClient, create_user: Callable[..., Any]) -> Callable[..., FlaskClient]:
    """Create a user of ``role`` and log the test client in as them."""

    def factory(role: str = "admin", username: str | None = None) -> FlaskClient:
        name = username or f"{role}1"
        create_user(name, role, "secret-pass")
        token = csrf_token(client)
        response = client.post(
            "/login", data={"username": name, "password": "secret-pass", "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return factory


@pytest.fixture
def make_bank(app: Flask) -> Callable[..., Any]:
    def factory(code: str = "B1", name: str = "测试题库") -> int:
        from examserver.question_bank.operations import get_or_create_bank

        with app.app_context():
            bank = get_or_create_bank(db.session, code, name)
            db.session.commit()
            return bank.id

    return factory


@pytest.fixture
def make_question(app: Flask, make_bank: Callable[..., Any]) -> Callable[..., Any]:
    """Create a question; returns its id. Defaults to a single-choice question."""

    def factory(
        stem: str = "安全生产法规定的方针是什么？",
        qtype: str = "single",
        options: list[str] | None = None,
        answer: list[str] | None = None,
        bank_code: str = "B1",
        topic: str = "",
        difficulty: int = 3,
    ) -> int:
        from examserver.question_bank.models import Bank
        from examserver.question_bank.operations import (
            create_question,
            ensure_topic,
            get_or_create_bank,
        )
        from examserver.question_bank.types import QuestionContent

        with app.app_context():
            bank: Bank = get_or_create_bank(db.session, bank_code, bank_code)
            if qtype == "judge":
                opts = [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
                ans = answer or ["T"]
            else:
                texts = options or ["安全第一、预防为主、综合治理", "效益优先", "速度优先", "以上都不对"]
                opts = [{"key": f"o{i + 1}", "text": t} for i, t in enumerate(texts)]
                ans = answer or (["o1"] if qtype == "single" else ["o1", "o2"])
            question = create_question(
                db.session,
                bank,
                QuestionContent(
                    type=qtype, stem=stem, options=opts, answer=ans, difficulty=difficulty
                ),
                topic=ensure_topic(db.session, bank, topic) if topic else None,
            )
            db.session.commit()
            return question.id

    return factory
