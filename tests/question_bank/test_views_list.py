"""The question list page: filters, paging, and the bulk actions."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from examserver.extensions import db
from examserver.question_bank.models import Bank, Question, QuestionVersion, Topic
from examserver.question_bank.operations import find_topic
from tests.conftest import csrf_token
from tests.question_bank.conftest import add_question, use_in_paper


def _row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', page)]


def _flash(page: str) -> str:
    found = re.findall(r'class="flash flash-\w+"[^>]*>\s*([^<]+)', page)
    return " ".join(found)


def test_list_shows_the_columns(app: Flask, editor: FlaskClient) -> None:
    qid = add_question(
        app, "<p>动火作业<strong>前</strong>应检查什么？</p>", "multi", "WELD", "动火/审批", 4
    )
    use_in_paper(app, qid)
    page = editor.get("/admin/questions").get_data(as_text=True)
    assert _row_ids(page) == [qid]
    assert "Multiple response" in page
    assert "动火作业前应检查什么？" in page  # plain-text preview, tags gone
    assert "<strong>前</strong>" not in page
    assert "动火/审批" in page
    assert "v1" in page
    assert "1 paper(s)" in page


def test_list_filters_and_search(app: Flask, editor: FlaskClient) -> None:
    a = add_question(app, "焊接作业前应检查什么？", "single", "WELD", "动火")
    b = add_question(app, "危险化学品仓库的要求", "single", "CHEM")
    c = add_question(app, "焊工可以不戴面罩。", "judge", "WELD", status="retired")
    with app.app_context():
        weld = db.session.query(Bank).filter_by(code="WELD").one().id
    assert _row_ids(editor.get(f"/admin/questions?bank={weld}").get_data(as_text=True)) == [a]
    assert _row_ids(editor.get("/admin/questions?q=仓库").get_data(as_text=True)) == [b]
    assert _row_ids(editor.get("/admin/questions?status=retired").get_data(as_text=True)) == [c]
    assert _row_ids(editor.get("/admin/questions?status=all").get_data(as_text=True)) == [c, b, a]
    assert _row_ids(
        editor.get("/admin/questions?type=judge&status=all").get_data(as_text=True)
    ) == [c]


def test_list_pages(app: Flask, editor: FlaskClient) -> None:
    app.config["EXAMSERVER"]["QUESTIONS_PER_PAGE"] = 2
    ids = [add_question(app, f"第{i}题") for i in range(5)]
    first = editor.get("/admin/questions").get_data(as_text=True)
    assert _row_ids(first) == [ids[4], ids[3]]
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    last = editor.get("/admin/questions?page=3").get_data(as_text=True)
    assert _row_ids(last) == [ids[0]]
    assert 'rel="next"' not in last


def test_bad_filters_show_a_message_not_a_server_error(app: Flask, editor: FlaskClient) -> None:
    for query in (
        "page=-1",
        "difficulty=9",
        "type=xyz",
        "bank=nonexistent",
        "bank=424242",
        "status=gone",
        "topic=abc",
        "topic=99999",
        "page=1e9",
    ):
        response = editor.get(f"/admin/questions?{query}")
        assert response.status_code == 400, query
        page = response.get_data(as_text=True)
        assert 'data-code="bad_filter"' in page, query
        assert 'name="ids"' not in page


def _bulk(client: FlaskClient, **data: object) -> str:
    data.setdefault("csrf_token", csrf_token(client, "/admin/questions?status=all"))
    response = client.post("/admin/questions/bulk", data=data, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _status(app: Flask, qid: int) -> str | None:
    with app.app_context():
        question = db.session.get(Question, qid)
        return question.status if question else None


def test_bulk_retire_and_restore(app: Flask, editor: FlaskClient) -> None:
    a, b, c = (add_question(app, f"题{i}") for i in range(3))
    page = _bulk(editor, action="retire", ids=[str(a), str(b)])
    assert "2" in _flash(page)
    assert (_status(app, a), _status(app, b), _status(app, c)) == ("retired", "retired", "active")
    _bulk(editor, action="restore", ids=[str(a)])
    assert (_status(app, a), _status(app, b)) == ("active", "retired")


def test_bulk_move_to_another_bank_and_knowledge_point(app: Flask, editor: FlaskClient) -> None:
    a = add_question(app, "题一", bank_code="WELD", topic="动火")
    b = add_question(app, "题二", bank_code="WELD")
    add_question(app, "别的", bank_code="CHEM", topic="储存/仓库")
    with app.app_context():
        chem = db.session.query(Bank).filter_by(code="CHEM").one()
        target = find_topic(db.session, chem, "储存/仓库")
        assert target is not None
        chem_id, target_id = chem.id, target.id
    _bulk(
        editor,
        action="move",
        ids=[str(a), str(b)],
        target_bank=str(chem_id),
        target_topic=str(target_id),
    )
    with app.app_context():
        for qid in (a, b):
            question = db.session.get(Question, qid)
            assert question.bank_id == chem_id
            assert question.topic_id == target_id


def test_bulk_move_refuses_a_knowledge_point_of_another_bank(
    app: Flask, editor: FlaskClient
) -> None:
    a = add_question(app, "题一", bank_code="WELD", topic="动火")
    add_question(app, "别的", bank_code="CHEM")
    with app.app_context():
        chem = db.session.query(Bank).filter_by(code="CHEM").one().id
        weld_topic = db.session.query(Topic).filter_by(name="动火").one().id
    page = _bulk(
        editor, action="move", ids=[str(a)], target_bank=str(chem), target_topic=str(weld_topic)
    )
    assert "flash-error" in page
    with app.app_context():
        assert db.session.get(Question, a).bank.code == "WELD"
    page = _bulk(editor, action="move", ids=[str(a)], target_bank="")
    assert "flash-error" in page


def test_bulk_reports_unknown_ids_and_changes_nothing(app: Flask, editor: FlaskClient) -> None:
    a = add_question(app, "题一")
    page = _bulk(editor, action="retire", ids=[str(a), "999998", "999999"])
    assert "999998" in _flash(page)
    assert "999999" in _flash(page)
    assert _status(app, a) == "active"
    page = _bulk(editor, action="retire", ids=[str(a), "x1"])
    assert "x1" in _flash(page)
    assert _status(app, a) == "active"
    assert "flash-error" in _bulk(editor, action="retire")
    assert "flash-error" in _bulk(editor, action="explode", ids=[str(a)])
    assert _status(app, a) == "active"


def test_bulk_delete_removes_unused_and_refuses_used(app: Flask, editor: FlaskClient) -> None:
    unused = add_question(app, "没用过的题")
    used = add_question(app, "用过的题")
    use_in_paper(app, used)
    page = _bulk(editor, action="delete", ids=[str(unused), str(used)])
    message = _flash(page)
    assert str(used) in message
    assert "retire them instead" in message
    assert _status(app, unused) == "active"  # nothing deleted when any is used
    assert _status(app, used) == "active"
    _bulk(editor, action="delete", ids=[str(unused)])
    assert _status(app, unused) is None
    with app.app_context():
        assert db.session.query(QuestionVersion).filter_by(question_id=unused).count() == 0


def test_bulk_needs_the_csrf_token(app: Flask, editor: FlaskClient) -> None:
    a = add_question(app, "题一")
    response = editor.post("/admin/questions/bulk", data={"action": "retire", "ids": [str(a)]})
    assert response.status_code == 400
    assert _status(app, a) == "active"


def test_bulk_returns_to_the_filtered_list_but_never_elsewhere(
    app: Flask, editor: FlaskClient
) -> None:
    a = add_question(app, "题一")
    token = csrf_token(editor, "/admin/questions")
    response = editor.post(
        "/admin/questions/bulk",
        data={
            "csrf_token": token,
            "action": "retire",
            "ids": [str(a)],
            "next": "/admin/questions?status=retired&q=%E9%A2%98",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/questions?status=retired&q=%E9%A2%98")
    response = editor.post(
        "/admin/questions/bulk",
        data={
            "csrf_token": token,
            "action": "restore",
            "ids": [str(a)],
            "next": "https://evil.example/admin/questions",
        },
    )
    assert response.headers["Location"] == "/admin/questions"
