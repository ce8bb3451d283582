"""Bank pages and the knowledge-point tree."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from examserver.extensions import db
from examserver.question_bank.models import Bank, Topic
from examserver.question_bank.operations import find_topic
from tests.conftest import csrf_token
from tests.question_bank.conftest import add_question


def _bank_form(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    data = {
        "csrf_token": csrf_token(client, "/admin/banks/new"),
        "code": "HOT_WORK-1",
        "name": "熔化焊接与热切割作业",
        "industry": "特种作业",
        "category": "特种作业人员",
        "job_type": "焊接与热切割作业",
        "description": "初训、复审题库",
    }
    data.update(fields)
    return data


def test_create_and_edit_a_bank(app: Flask, editor: FlaskClient) -> None:
    response = editor.post("/admin/banks/new", data=_bank_form(editor))
    assert response.status_code == 303
    with app.app_context():
        bank = db.session.query(Bank).filter_by(code="HOT_WORK-1").one()
        assert (bank.name, bank.industry, bank.category, bank.job_type) == (
            "熔化焊接与热切割作业",
            "特种作业",
            "特种作业人员",
            "焊接与热切割作业",
        )
        bank_id = bank.id
    page = editor.get(f"/admin/banks/{bank_id}/edit").get_data(as_text=True)
    assert 'value="熔化焊接与热切割作业"' in page
    response = editor.post(
        f"/admin/banks/{bank_id}/edit",
        data=_bank_form(editor, name="焊接（新版）", code="HOT_WORK-1"),
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Bank, bank_id).name == "焊接（新版）"


def test_bank_code_is_unique_and_well_formed(app: Flask, editor: FlaskClient) -> None:
    editor.post("/admin/banks/new", data=_bank_form(editor, code="WELD"))
    other = editor.post("/admin/banks/new", data=_bank_form(editor, code="CHEM"))
    assert other.status_code == 303
    for code in ("WELD", "has space", "斜杠/", "", "x" * 65, "a.b"):
        response = editor.post("/admin/banks/new", data=_bank_form(editor, code=code))
        assert response.status_code == 422, code
        assert 'class="errors"' in response.get_data(as_text=True)
    with app.app_context():
        chem = db.session.query(Bank).filter_by(code="CHEM").one().id
    response = editor.post(f"/admin/banks/{chem}/edit", data=_bank_form(editor, code="WELD"))
    assert response.status_code == 422
    response = editor.post("/admin/banks/new", data=_bank_form(editor, code="NEW", name=""))
    assert response.status_code == 422
    with app.app_context():
        assert sorted(b.code for b in db.session.query(Bank)) == ["CHEM", "WELD"]
    assert editor.get("/admin/banks/99999/edit").status_code == 404


def test_bank_list_counts_per_type_and_status(app: Flask, editor: FlaskClient) -> None:
    add_question(app, "单选一", "single", "WELD")
    add_question(app, "单选二", "single", "WELD")
    add_question(app, "判断一", "judge", "WELD")
    add_question(app, "多选一", "multi", "WELD", status="retired")
    page = editor.get("/admin/banks").get_data(as_text=True)
    row = re.search(r'<tr data-bank="WELD">(.*?)</tr>', page, re.S)
    assert row
    cells = dict(re.findall(r'data-type-count="(\w+)">(\d+)<', row.group(1)))
    assert cells == {"judge": "1", "single": "2", "multi": "0"}
    assert re.search(r"data-active>3<", row.group(1))
    assert re.search(r"data-retired>1<", row.group(1))


def _topics(app: Flask, bank_code: str = "WELD") -> dict[str, int]:
    with app.app_context():
        bank = db.session.query(Bank).filter_by(code=bank_code).one()
        rows = db.session.query(Topic).filter_by(bank_id=bank.id).all()
        from examserver.question_bank.operations import topic_path

        return {topic_path(t): t.id for t in rows}


def _post(client: FlaskClient, url: str, **data: str) -> str:
    data.setdefault("csrf_token", csrf_token(client, "/admin/banks"))
    response = client.post(url, data=data, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_knowledge_point_tree_add_rename_delete(app: Flask, editor: FlaskClient) -> None:
    add_question(app, "题", bank_code="WELD", topic="法律法规")
    with app.app_context():
        bank = db.session.query(Bank).filter_by(code="WELD").one().id
    base = f"/admin/banks/{bank}/topics"
    _post(editor, base, name="安全技术", parent_id="")
    parent = _topics(app)["安全技术"]
    _post(editor, base, name="气割", parent_id=str(parent))
    _post(editor, base, name="气焊", parent_id=str(parent))
    assert set(_topics(app)) == {"法律法规", "安全技术", "安全技术/气割", "安全技术/气焊"}
    page = editor.get(base).get_data(as_text=True)
    assert page.index("安全技术") < page.index("气割")
    _post(editor, f"{base}/{_topics(app)['安全技术/气割']}/rename", name="热切割")
    assert "安全技术/热切割" in _topics(app)
    # refused: empty, separator, sibling clash, parent elsewhere
    for data in (
        {"name": "  "},
        {"name": "a/b"},
        {"name": "气焊", "parent_id": str(parent)},
        {"name": "x", "parent_id": "999999"},
    ):
        page = _post(editor, base, **data)
        assert "flash-error" in page, data
    assert len(_topics(app)) == 4
    # deleting takes the children along
    _post(editor, f"{base}/{parent}/delete")
    assert set(_topics(app)) == {"法律法规"}


def test_a_used_knowledge_point_cannot_be_deleted(app: Flask, editor: FlaskClient) -> None:
    add_question(app, "题", bank_code="WELD", topic="法律法规/安全生产法")
    with app.app_context():
        bank = db.session.query(Bank).filter_by(code="WELD").one()
        root = find_topic(db.session, bank, "法律法规")
        assert root is not None
        bank_id, root_id = bank.id, root.id
    page = _post(editor, f"/admin/banks/{bank_id}/topics/{root_id}/delete")
    assert "flash-error" in page
    assert set(_topics(app)) == {"法律法规", "法律法规/安全生产法"}


def test_a_knowledge_point_a_blueprint_draws_from_cannot_be_deleted(
    app: Flask, editor: FlaskClient
) -> None:
    from examserver.papers.models import Blueprint, BlueprintSection

    add_question(app, "题", bank_code="WELD")
    with app.app_context():
        bank = db.session.query(Bank).filter_by(code="WELD").one()
        topic = Topic(bank_id=bank.id, name="应急处置")
        db.session.add(topic)
        db.session.flush()
        blueprint = Blueprint(code="BP", name="理论", bank_id=bank.id)
        blueprint.sections.append(
            BlueprintSection(position=0, type="single", count=1, points=1, topic_ids=[topic.id])
        )
        db.session.add(blueprint)
        db.session.commit()
        bank_id, topic_id = bank.id, topic.id
    page = _post(editor, f"/admin/banks/{bank_id}/topics/{topic_id}/delete")
    assert "BP" in page
    assert "应急处置" in _topics(app)


def test_topic_of_another_bank_is_a_404(app: Flask, editor: FlaskClient) -> None:
    add_question(app, "题", bank_code="WELD", topic="甲")
    add_question(app, "题", bank_code="CHEM", topic="乙")
    with app.app_context():
        weld = db.session.query(Bank).filter_by(code="WELD").one().id
    chem_topic = _topics(app, "CHEM")["乙"]
    token = csrf_token(editor, "/admin/banks")
    response = editor.post(
        f"/admin/banks/{weld}/topics/{chem_topic}/rename", data={"csrf_token": token, "name": "丙"}
    )
    assert response.status_code == 404
    response = editor.post(
        f"/admin/banks/{weld}/topics/{chem_topic}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 404
    assert _topics(app, "CHEM") == {"乙": chem_topic}
    assert editor.get("/admin/banks/99999/topics").status_code == 404
