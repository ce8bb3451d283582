"""Blueprint pages through the test client: roles, CSRF, forms, feasibility and the sample."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from examserver.extensions import db
from examserver.papers import operations as ops
from examserver.papers.models import Blueprint, Paper
from examserver.question_bank.models import QuestionVersion
from examserver.question_bank.operations import ensure_topic, get_or_create_bank
from tests.conftest import csrf_token
from tests.papers.conftest import add_questions

pytestmark = pytest.mark.usefixtures("nav_endpoints")


def form_data(bank_id: int, token: str, **fields: Any) -> dict[str, Any]:
    """A valid form: 3 true/false + 2 single choice, 1 point each, pass at 4."""
    data: dict[str, Any] = {
        "csrf_token": token,
        "code": "HJ-2026",
        "name": "熔化焊接与热切割作业 理论考试",
        "bank_id": str(bank_id),
        "duration_min": "60",
        "pass_score": "4",
        "earliest_submit_min": "10",
        "multi_scoring": "all_or_nothing",
        "shuffle_options": "1",
        "sections-0-type": "judge",
        "sections-0-count": "3",
        "sections-0-points": "1",
        "sections-0-difficulty_min": "1",
        "sections-0-difficulty_max": "5",
        "sections-1-title": "单选题",
        "sections-1-type": "single",
        "sections-1-count": "2",
        "sections-1-points": "1",
        "sections-1-difficulty_min": "1",
        "sections-1-difficulty_max": "5",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def bank(app: Flask) -> dict[str, int]:
    """Bank B1 with 4 true/false and 3 single-choice questions, and a knowledge point."""
    add_questions(app, 4, "judge", topic="法规")
    add_questions(app, 3, "single", topic="法规/安全生产法")
    with app.app_context():
        b1 = get_or_create_bank(db.session, "B1")
        topic = ensure_topic(db.session, b1, "法规/安全生产法")
        db.session.commit()
        return {"id": b1.id, "topic": topic.id}


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def create(client: FlaskClient, bank_id: int, **fields: Any) -> Any:
    token = csrf_token(client, "/admin/blueprints/new")
    return client.post("/admin/blueprints/new", data=form_data(bank_id, token, **fields))


ROUTES = [
    ("get", "/admin/blueprints"),
    ("get", "/admin/blueprints/new"),
    ("post", "/admin/blueprints/new"),
    ("get", "/admin/blueprints/1"),
    ("get", "/admin/blueprints/1/edit"),
    ("post", "/admin/blueprints/1/edit"),
    ("post", "/admin/blueprints/1/sample"),
    ("post", "/admin/blueprints/1/delete"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_visitors_are_sent_to_login(
    client: FlaskClient, make_blueprint: Callable[..., int], method: str, path: str
) -> None:
    make_blueprint()
    client.application.config["WTF_CSRF_ENABLED"] = False
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["proctor", "inspector", "examiner", "institution"])
def test_other_roles_are_refused(
    login: Callable[..., FlaskClient], make_blueprint: Callable[..., int], role: str
) -> None:
    blueprint_id = make_blueprint()
    client = login(role)
    client.application.config["WTF_CSRF_ENABLED"] = False
    for method, path in ROUTES:
        response = getattr(client, method)(path)
        assert response.status_code == 403, (method, path)
    assert count(client.application, Blueprint) == 1
    with client.application.app_context():
        assert db.session.get(Blueprint, blueprint_id) is not None


def test_the_new_form_starts_from_the_domain_defaults(login: Callable[..., FlaskClient]) -> None:
    client = login("staff")
    page = client.get("/admin/blueprints/new").get_data(as_text=True)
    assert 'name="duration_min" id="duration_min" value="120"' in page
    assert 'name="pass_score" id="pass_score" value="80"' in page
    assert 'name="earliest_submit_min" id="earliest_submit_min" value="30"' in page
    assert 'name="sections-0-count" id="sections-0-count" value="70"' in page
    assert 'name="sections-1-count" id="sections-1-count" value="30"' in page
    assert 'value="all_or_nothing" checked' in page
    assert "js/admin/blueprint_form.js" in page
    assert "<script>" not in page


def test_an_admin_creates_a_blueprint(login: Callable[..., FlaskClient], bank: dict[str, int],
                                      app: Flask) -> None:
    client = login("admin")
    response = create(client, bank["id"], **{
        "sections-1-topic_ids": str(bank["topic"]), "multi_scoring": "partial",
        "allow_review": "1",
    })
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        blueprint = db.session.scalar(select(Blueprint))
        assert response.headers["Location"].endswith(f"/admin/blueprints/{blueprint.id}")
        assert (blueprint.code, blueprint.duration_min, blueprint.pass_score) == ("HJ-2026", 60, 4)
        assert (blueprint.multi_scoring, blueprint.allow_review, blueprint.issues_card) == (
            "partial", True, False)
        assert [(s.type, s.count, s.title) for s in blueprint.sections] == [
            ("judge", 3, ""), ("single", 2, "单选题")]
        assert blueprint.sections[1].topic_ids == [bank["topic"]]
    listing = client.get("/admin/blueprints").get_data(as_text=True)
    assert "HJ-2026" in listing
    assert 'data-level="' in listing


def test_invalid_input_shows_errors_beside_the_fields_and_saves_nothing(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask
) -> None:
    client = login("admin")
    response = create(client, bank["id"], **{
        "code": "bad code", "sections-0-count": "0", "sections-1-points": "abc",
        "duration_min": "601", "sections-1-difficulty_min": "4", "sections-1-difficulty_max": "2",
    })
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field, code in [("code", "bad_code"), ("sections-0-count", "bad_count"),
                        ("sections-1-points", "not_a_number"), ("duration_min", "bad_duration"),
                        ("sections-1-difficulty_max", "difficulty_range")]:
        assert re.search(f'id="{field}-errors">\\s*<li data-code="{code}">', page), field
    # What was typed comes back.
    assert 'value="bad code"' in page
    assert count(app, Blueprint) == 0


def test_a_form_without_its_csrf_token_is_refused(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask
) -> None:
    client = login("admin")
    response = client.post("/admin/blueprints/new", data=form_data(bank["id"], "forged"))
    assert response.status_code == 400
    assert "csrf_failed" in response.get_data(as_text=True)
    assert count(app, Blueprint) == 0


def test_an_edit_reorders_and_removes_sections(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask,
    make_blueprint: Callable[..., int],
) -> None:
    blueprint_id = make_blueprint()
    client = login("admin")
    page = client.get(f"/admin/blueprints/{blueprint_id}/edit").get_data(as_text=True)
    assert 'value="BP-1"' in page
    token = csrf_token(client, f"/admin/blueprints/{blueprint_id}/edit")
    # The script renumbers, but the server takes any indices in their order.
    data = form_data(bank["id"], token, code="BP-1", pass_score="2", **{
        "sections-0-type": None, "sections-0-count": None, "sections-0-points": None,
        "sections-0-difficulty_min": None, "sections-0-difficulty_max": None,
        "sections-7-type": "judge", "sections-7-count": "1", "sections-7-points": "1",
        "sections-7-difficulty_min": "1", "sections-7-difficulty_max": "5",
    })
    response = client.post(f"/admin/blueprints/{blueprint_id}/edit", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        blueprint = db.session.get(Blueprint, blueprint_id)
        assert [(s.position, s.type, s.count) for s in blueprint.sections] == [
            (0, "single", 2), (1, "judge", 1)]
        assert blueprint.name == "熔化焊接与热切割作业 理论考试"


def test_an_invalid_edit_changes_nothing(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask,
    make_blueprint: Callable[..., int],
) -> None:
    blueprint_id = make_blueprint()
    client = login("admin")
    token = csrf_token(client, f"/admin/blueprints/{blueprint_id}/edit")
    response = client.post(f"/admin/blueprints/{blueprint_id}/edit", data=form_data(
        bank["id"], token, name="改了", pass_score="999"))
    assert response.status_code == 400
    assert 'data-code="bad_pass_score"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Blueprint, blueprint_id).name == "测试组卷规则"


def test_editing_a_blueprint_with_papers_warns_that_papers_keep_their_questions(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask,
    make_blueprint: Callable[..., int],
) -> None:
    blueprint_id = make_blueprint()
    with app.test_request_context():
        ops.draw_paper_for(db.session, db.session.get(Blueprint, blueprint_id), "seat-1")
        db.session.commit()
    client = login("admin")
    page = client.get(f"/admin/blueprints/{blueprint_id}/edit").get_data(as_text=True)
    assert 'data-code="blueprint_has_papers"' in page
    token = csrf_token(client, f"/admin/blueprints/{blueprint_id}/edit")
    response = client.post(f"/admin/blueprints/{blueprint_id}/edit",
                           data=form_data(bank["id"], token, code="BP-1"), follow_redirects=True)
    assert response.status_code == 200
    assert "flash-warning" in response.get_data(as_text=True)


def test_the_blueprint_page_reports_feasibility_and_distance(
    login: Callable[..., FlaskClient], bank: dict[str, int], make_blueprint: Callable[..., int],
) -> None:
    blueprint_id = make_blueprint()  # 3 of 4 true/false, 2 of 3 single choice
    client = login("staff")
    page = client.get(f"/admin/blueprints/{blueprint_id}").get_data(as_text=True)
    assert 'data-eligible>4<' in page
    assert 'data-eligible>3<' in page
    assert 'data-ok="yes"' in page
    assert 'data-ok="no"' not in page
    # (9/4 + 4/3) / 5 = 72%
    assert "72%" in page
    assert 'data-expected-common>3.6 / 5' in page


def test_a_short_bank_shows_the_missing_questions(
    login: Callable[..., FlaskClient], bank: dict[str, int], make_blueprint: Callable[..., int],
) -> None:
    from examserver.papers.operations import SectionData

    blueprint_id = make_blueprint(sections=[SectionData(type="single", count=5, points=1.0)],
                                  pass_score=1.0)
    client = login("admin")
    page = client.get(f"/admin/blueprints/{blueprint_id}").get_data(as_text=True)
    assert 'data-ok="no"' in page
    assert 'data-code="pool_too_small"' in page
    assert 'data-level="short"' in client.get("/admin/blueprints").get_data(as_text=True)
    token = csrf_token(client, f"/admin/blueprints/{blueprint_id}")
    response = client.post(f"/admin/blueprints/{blueprint_id}/sample",
                           data={"csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    assert "pool_too_small" in response.get_data(as_text=True)


def test_a_sample_paper_is_shown_but_not_stored(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask,
    make_blueprint: Callable[..., int],
) -> None:
    blueprint_id = make_blueprint()
    client = login("admin")
    token = csrf_token(client, f"/admin/blueprints/{blueprint_id}")
    response = client.post(f"/admin/blueprints/{blueprint_id}/sample",
                           data={"csrf_token": token, "seed": "preview-1"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "preview-1" in page
    assert page.count('class="bp-sample-question"') == 5
    assert 'data-number="5"' in page
    assert "judge 第" in page
    assert "single 第" in page
    assert count(app, Paper) == 0
    with app.app_context():
        assert db.session.scalar(select(func.sum(QuestionVersion.used_count))) == 0
        expected = ops.draw_unstored(db.session, db.session.get(Blueprint, blueprint_id),
                                     "preview-1")
    for version_id in expected.version_ids:
        assert f'data-version="{version_id}"' in page
    # The same seed shows the same paper again.
    again = client.post(f"/admin/blueprints/{blueprint_id}/sample",
                        data={"csrf_token": token, "seed": "preview-1"}).get_data(as_text=True)
    assert [line for line in again.splitlines() if "data-version" in line] == [
        line for line in page.splitlines() if "data-version" in line]


def test_a_bad_seed_is_refused(
    login: Callable[..., FlaskClient], bank: dict[str, int], make_blueprint: Callable[..., int],
) -> None:
    blueprint_id = make_blueprint()
    client = login("admin")
    token = csrf_token(client, f"/admin/blueprints/{blueprint_id}")
    response = client.post(f"/admin/blueprints/{blueprint_id}/sample",
                           data={"csrf_token": token, "seed": "x" * 65}, follow_redirects=True)
    assert "bad_seed" in response.get_data(as_text=True)


def test_delete_is_refused_while_papers_exist(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask,
    make_blueprint: Callable[..., int],
) -> None:
    used = make_blueprint()
    spare = make_blueprint(code="SPARE")
    with app.test_request_context():
        ops.draw_paper_for(db.session, db.session.get(Blueprint, used), "seat-1")
        db.session.commit()
    client = login("admin")
    token = csrf_token(client, f"/admin/blueprints/{spare}")
    response = client.post(f"/admin/blueprints/{used}/delete", data={"csrf_token": token},
                           follow_redirects=True)
    assert "blueprint_has_papers" in response.get_data(as_text=True)
    response = client.post(f"/admin/blueprints/{spare}/delete", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/blueprints")
    with app.app_context():
        assert db.session.scalars(select(Blueprint.code)).all() == ["BP-1"]


def test_an_unknown_blueprint_is_404(login: Callable[..., FlaskClient]) -> None:
    client = login("admin")
    assert client.get("/admin/blueprints/999").status_code == 404
    assert client.get("/admin/blueprints/999/edit").status_code == 404


def test_out_of_range_numbers_are_refused_not_crashed_on(
    login: Callable[..., FlaskClient], bank: dict[str, int], app: Flask
) -> None:
    client = login("admin")
    huge = "9" * 30
    token = csrf_token(client, "/admin/blueprints/new")
    data = form_data(bank["id"], token, **{
        "sections-0-topic_ids": huge, "sections-0-count": huge,
        "sections-1-points": "nan", "pass_score": "inf", "duration_min": "1e3",
    })
    data["bank_id"] = huge
    response = client.post("/admin/blueprints/new", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for code in ("unknown_bank", "bad_count", "not_a_number"):
        assert f'data-code="{code}"' in page
    assert count(app, Blueprint) == 0
    assert client.get(f"/admin/blueprints/{huge}").status_code == 404
