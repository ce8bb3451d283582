"""Fixtures of the blueprint tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from examserver.extensions import db
from examserver.papers.operations import BlueprintData, SectionData

NAV = Path(__file__).resolve().parents[2] / "templates" / "_nav.html"


@pytest.fixture
def nav_endpoints(app: Flask) -> None:
    """Give the menu's links somewhere to point while other areas are still being built."""
    for endpoint in re.findall(r"url_for\('([\w.]+)'", NAV.read_text(encoding="utf-8")):
        if endpoint not in app.view_functions:
            app.add_url_rule(f"/_stub/{endpoint}", endpoint=endpoint, view_func=lambda: "")


def blueprint_data(bank_id: int | None, **fields: Any) -> BlueprintData:
    """A valid blueprint for ``bank_id``: 3 true/false + 2 single choice, 1 point each."""
    values: dict[str, Any] = {
        "code": "BP-1",
        "name": "测试组卷规则",
        "bank_id": bank_id,
        "pass_score": 4.0,
        "duration_min": 60,
        "earliest_submit_min": 10,
        "sections": [
            SectionData(type="judge", count=3, points=1.0),
            SectionData(type="single", count=2, points=1.0),
        ],
    }
    values.update(fields)
    return BlueprintData(**values)


def add_questions(
    app: Flask,
    n: int,
    qtype: str = "judge",
    bank_code: str = "B1",
    topic: str = "",
    difficulty: int = 3,
    tag: str = "",
) -> list[int]:
    """Create ``n`` questions of one kind in ``app``'s database; returns their ids."""
    from examserver.question_bank.operations import (
        create_question,
        ensure_topic,
        get_or_create_bank,
    )
    from examserver.question_bank.types import QuestionContent, get_type

    if qtype == "judge":
        options = get_type("judge").default_options()
        answer = ["T"]
    else:
        options = [{"key": f"o{i}", "text": f"选项{i}"} for i in range(1, 5)]
        answer = ["o1"] if qtype == "single" else ["o1", "o2"]
    ids = []
    with app.app_context():
        bank = get_or_create_bank(db.session, bank_code)
        node = ensure_topic(db.session, bank, topic) if topic else None
        for i in range(n):
            content = QuestionContent(type=qtype, stem=f"{qtype}{tag} 第{i}题", options=options,
                                      answer=answer, difficulty=difficulty)
            ids.append(create_question(db.session, bank, content, topic=node).id)
        db.session.commit()
    return ids


@pytest.fixture
def make_blueprint(app: Flask) -> Callable[..., int]:
    """Store a blueprint (see ``blueprint_data``) in bank ``bank_code``; returns its id."""

    def factory(bank_code: str = "B1", **fields: Any) -> int:
        from examserver.papers.operations import create_blueprint
        from examserver.question_bank.operations import get_or_create_bank

        with app.app_context():
            bank = get_or_create_bank(db.session, bank_code)
            blueprint = create_blueprint(db.session, blueprint_data(bank.id, **fields))
            db.session.commit()
            return blueprint.id

    return factory
