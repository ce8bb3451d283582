"""Fixtures of the question-bank tests: a logged-in bank editor and database-agnostic factories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examserver.extensions import db

# Admin areas other engineers build in parallel: until their endpoints exist, the nav links to
# them as "#" so that the bank pages can be tested on their own.
NAV_ENDPOINTS = ("transfer.import_page", "papers.blueprints")


def tolerate_missing_nav(app: Flask) -> None:
    """Let the shared nav render while some of the areas it links to are not registered yet."""

    def handler(error: Exception, endpoint: str, values: dict[str, Any]) -> str | None:
        return "#" if endpoint in NAV_ENDPOINTS else None

    app.url_build_error_handlers.append(handler)


def in_english(client: FlaskClient) -> FlaskClient:
    """Switch the client's pages to English, so assertions do not depend on the translation."""
    from tests.conftest import csrf_token

    client.post("/lang/en", data={"csrf_token": csrf_token(client)})
    return client


@pytest.fixture
def editor(app: Flask, login: Callable[..., FlaskClient]) -> FlaskClient:
    """A test client logged in as an administrator, reading English pages."""
    tolerate_missing_nav(app)
    return in_english(login("admin"))


def add_question(
    app: Flask,
    stem: str = "安全生产法规定的方针是什么？",
    qtype: str = "single",
    bank_code: str = "B1",
    topic: str = "",
    difficulty: int = 3,
    options: list[str] | None = None,
    answer: list[str] | None = None,
    status: str = "active",
) -> int:
    """Create a question on any database; returns its id."""
    from examserver.question_bank.operations import (
        create_question,
        ensure_topic,
        get_or_create_bank,
        retire_questions,
    )
    from examserver.question_bank.types import QuestionContent

    with app.app_context():
        bank = get_or_create_bank(db.session, bank_code, bank_code)
        if qtype == "judge":
            opts = [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
            ans = answer or ["T"]
        else:
            texts = options or ["安全第一、预防为主、综合治理", "效益优先", "速度优先"]
            opts = [{"key": f"o{i + 1}", "text": t} for i, t in enumerate(texts)]
            ans = answer or (["o1"] if qtype == "single" else ["o1", "o2"])
        question = create_question(
            db.session,
            bank,
            QuestionContent(type=qtype, stem=stem, options=opts, answer=ans, difficulty=difficulty),
            topic=ensure_topic(db.session, bank, topic) if topic else None,
        )
        if status == "retired":
            retire_questions(db.session, [question.id])
        db.session.commit()
        return question.id


def use_in_paper(app: Flask, question_id: int) -> int:
    """Put the question's current version on a new paper and mark it used; returns the paper id."""
    from examserver.papers.models import Blueprint, Paper, PaperItem
    from examserver.question_bank.models import Question
    from examserver.question_bank.operations import mark_versions_used

    with app.app_context():
        question = db.session.get(Question, question_id)
        assert question is not None
        assert question.current_version_id is not None
        blueprint = db.session.query(Blueprint).filter_by(bank_id=question.bank_id).first()
        if blueprint is None:
            blueprint = Blueprint(
                code=f"BP{question.bank_id}", name="test", bank_id=question.bank_id
            )
            db.session.add(blueprint)
            db.session.flush()
        paper = Paper(blueprint_id=blueprint.id, seed="s")
        db.session.add(paper)
        db.session.flush()
        version = question.current_version
        db.session.add(
            PaperItem(
                paper_id=paper.id,
                position=1,
                section_index=0,
                question_version_id=version.id,
                option_order=[o["key"] for o in reversed(version.options)],
                points=1,
            )
        )
        mark_versions_used(db.session, [version.id])
        db.session.commit()
        return paper.id


def login_as(app: Flask, role: str = "admin", username: str | None = None) -> FlaskClient:
    """Create a user of ``role`` on any database and return a client logged in as them."""
    from examserver.auth.operations import create_user
    from tests.conftest import csrf_token

    name = username or f"{role}1"
    with app.app_context():
        create_user(db.session, name, "secret-pass", role)
        db.session.commit()
    tolerate_missing_nav(app)
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": name, "password": "secret-pass", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return in_english(client)
