"""The question editor, its candidate preview, image upload and duplicate handling."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examserver.extensions import db
from examserver.question_bank.models import Bank, Media, Question, QuestionVersion
from examserver.question_bank.operations import topic_path
from tests.conftest import csrf_token
from tests.question_bank.conftest import add_question, login_as, use_in_paper

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\x81\x1c\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def _bank_id(app: Flask, code: str = "B1") -> int:
    with app.app_context():
        bank = db.session.query(Bank).filter_by(code=code).one_or_none()
        if bank is None:
            bank = Bank(code=code, name=code)
            db.session.add(bank)
            db.session.commit()
        return bank.id


def editor_form(client: FlaskClient, bank_id: int, **fields: Any) -> dict[str, Any]:
    """The fields the editor posts for a valid single-choice question, with ``fields`` changed."""
    data: dict[str, Any] = {
        "csrf_token": csrf_token(client, "/admin/questions/new"),
        "bank_id": str(bank_id),
        "type": "single",
        "stem": "<p>动火作业前应当办理什么？</p>",
        "option_key": ["", "", ""],
        "option_text": ["动火作业许可证", "出入证", "工作证"],
        "correct": ["0"],
        "topic_id": "",
        "topic_path": "",
        "difficulty": "3",
        "explanation": "<p>见《化学品生产单位特殊作业安全规范》。</p>",
    }
    data.update(fields)
    return data


def _version(app: Flask, qid: int) -> QuestionVersion:
    with app.app_context():
        question = db.session.get(Question, qid)
        assert question is not None
        version = question.current_version
        assert version is not None
        db.session.expunge(version)
        return version


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.query(Question).count()


def _created_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    match = re.search(r"/admin/questions/(\d+)/edit$", response.headers["Location"])
    assert match
    return int(match.group(1))


def _field_errors(page: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r'data-field-errors="([^"]+)">(.*?)</ul>', page, re.S)
    }


def test_new_question_is_saved_sanitized_with_fresh_keys(app: Flask, editor: FlaskClient) -> None:
    bank = _bank_id(app)
    response = editor.post(
        "/admin/questions/new",
        data=editor_form(
            editor,
            bank,
            stem='<p onclick="x()">动火<script>alert(1)</script>作业前</p>',
            topic_path="特殊作业/动火",
            difficulty="4",
            correct=["1"],
        ),
    )
    qid = _created_id(response)
    version = _version(app, qid)
    assert version.stem == "<p>动火作业前</p>"
    assert [o["key"] for o in version.options] == ["o1", "o2", "o3"]
    assert version.answer == ["o2"]
    assert version.difficulty == 4
    with app.app_context():
        question = db.session.get(Question, qid)
        assert topic_path(question.topic) == "特殊作业/动火"
        assert question.bank_id == bank
    page = editor.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Question {qid} created." in page


def test_the_editor_page_offers_the_fields(app: Flask, editor: FlaskClient) -> None:
    _bank_id(app)
    page = editor.get("/admin/questions/new?type=multi").get_data(as_text=True)
    for name in (
        "bank_id",
        "type",
        "stem",
        "option_key",
        "option_text",
        "correct",
        "topic_id",
        "topic_path",
        "difficulty",
        "explanation",
        "csrf_token",
    ):
        assert f'name="{name}"' in page, name
    assert 'id="rich-toolbar"' in page
    assert "js/admin/editor.js" in page
    assert "<script>" not in page.replace('<script type="module"', "")


def test_problems_are_shown_beside_their_fields_and_nothing_is_saved(
    app: Flask, editor: FlaskClient
) -> None:
    bank = _bank_id(app)
    response = editor.post(
        "/admin/questions/new",
        data=editor_form(editor, bank, stem="   ", option_text=["甲", "  ", "丙"], correct=[]),
    )
    assert response.status_code == 422
    errors = _field_errors(response.get_data(as_text=True))
    assert "stem" in errors
    assert "option 1" in errors  # the second row, the empty one
    assert _count(app) == 0
    response = editor.post("/admin/questions/new", data=editor_form(editor, bank, correct=[]))
    assert "answer" in _field_errors(response.get_data(as_text=True))
    response = editor.post("/admin/questions/new", data=editor_form(editor, bank, difficulty="9"))
    assert "difficulty" in _field_errors(response.get_data(as_text=True))
    response = editor.post("/admin/questions/new", data=editor_form(editor, 424242))
    assert "bank" in _field_errors(response.get_data(as_text=True))
    response = editor.post("/admin/questions/new", data=editor_form(editor, bank, type="essay"))
    assert "type" in _field_errors(response.get_data(as_text=True))
    response = editor.post(
        "/admin/questions/new", data=editor_form(editor, bank, type="multi", correct=["0"])
    )
    assert response.status_code == 422
    assert "answer" in _field_errors(response.get_data(as_text=True))
    response = editor.post(
        "/admin/questions/new",
        data=editor_form(
            editor, bank, option_key=[""] * 9, option_text=[f"选项{i}" for i in range(9)]
        ),
    )
    assert "options" in _field_errors(response.get_data(as_text=True))
    response = editor.post("/admin/questions/new", data=editor_form(editor, bank, correct=["7"]))
    assert "answer" in _field_errors(response.get_data(as_text=True))
    assert _count(app) == 0
    # what was typed comes back in the form
    response = editor.post(
        "/admin/questions/new", data=editor_form(editor, bank, difficulty="0", stem="保留我的题干")
    )
    assert "保留我的题干" in response.get_data(as_text=True)


def test_a_knowledge_point_of_another_bank_is_refused(app: Flask, editor: FlaskClient) -> None:
    add_question(app, "别的题", bank_code="CHEM", topic="储存")
    bank = _bank_id(app, "WELD")
    with app.app_context():
        from examserver.question_bank.models import Topic

        foreign = db.session.query(Topic).filter_by(name="储存").one().id
    response = editor.post(
        "/admin/questions/new", data=editor_form(editor, bank, topic_id=str(foreign))
    )
    assert response.status_code == 422
    assert "topic" in _field_errors(response.get_data(as_text=True))
    response = editor.post(
        "/admin/questions/new", data=editor_form(editor, bank, topic_path="a/" + "x" * 300)
    )
    assert "topic" in _field_errors(response.get_data(as_text=True))
    assert _count(app) == 1


def test_editing_keeps_option_keys_stable(app: Flask, editor: FlaskClient) -> None:
    qid = add_question(app, "原题", options=["甲", "乙", "丙", "丁"], answer=["o3"])
    # remove 乙 (o2), keep the others in a new order, add a row, and tamper one key
    response = editor.post(
        f"/admin/questions/{qid}/edit",
        data=editor_form(
            editor,
            _bank_id(app),
            stem="原题（修订）",
            option_key=["o3", "o1", "o4", "", "o99"],
            option_text=["丙", "甲", "丁", "戊", "己"],
            correct=["0"],
        ),
    )
    assert response.status_code == 303
    version = _version(app, qid)
    keys = [o["key"] for o in version.options]
    assert keys[:3] == ["o3", "o1", "o4"]
    assert "o2" not in keys  # a removed key is not handed to a different option
    assert len(set(keys)) == 5
    assert all(re.fullmatch(r"o\d+", k) for k in keys)
    assert "o99" not in keys
    assert version.answer == ["o3"]
    assert version.version_no == 1  # unused: edited in place


def test_true_false_questions_have_fixed_rows(app: Flask, editor: FlaskClient) -> None:
    bank = _bank_id(app)
    qid = _created_id(
        editor.post(
            "/admin/questions/new",
            data=editor_form(
                editor,
                bank,
                type="judge",
                stem="焊工可以不戴防护面罩。",
                option_key=["o1", "o2", "o3"],
                option_text=["x", "y", "z"],
                correct=["1"],
            ),
        )
    )
    version = _version(app, qid)
    assert [o["key"] for o in version.options] == ["T", "F"]
    assert version.answer == ["F"]


def test_editing_a_used_question_makes_a_new_version(app: Flask, editor: FlaskClient) -> None:
    qid = add_question(app, "旧题干", options=["甲", "乙", "丙"], answer=["o1"])
    use_in_paper(app, qid)
    old = _version(app, qid)
    page = editor.get(f"/admin/questions/{qid}/edit").get_data(as_text=True)
    assert "data-used-notice" in page
    assert "used by 1 paper(s): saving creates version 2; papers keep the old one" in page
    response = editor.post(
        f"/admin/questions/{qid}/edit",
        data=editor_form(
            editor,
            _bank_id(app),
            stem="新题干",
            option_key=["o1", "o2", "o3"],
            option_text=["甲", "乙", "丙"],
            correct=["2"],
        ),
    )
    assert response.status_code == 303
    new = _version(app, qid)
    assert new.id != old.id
    assert new.version_no == 2
    assert new.answer == ["o3"]
    page = editor.get(f"/admin/questions/{qid}/edit").get_data(as_text=True)
    assert "Version history" in page
    assert f"/admin/questions/{qid}/preview?version=1" in page
    assert f"/admin/questions/{qid}/preview?version=2" in page
    old_page = editor.get(f"/admin/questions/{qid}/preview?version=1").get_data(as_text=True)
    assert "旧题干" in old_page
    assert "earlier version, read-only" in old_page
    assert editor.get(f"/admin/questions/{qid}/preview?version=7").status_code == 404
    assert editor.get(f"/admin/questions/{qid}/preview?version=x").status_code == 404


def test_saving_a_used_question_unchanged_makes_no_version(app: Flask, editor: FlaskClient) -> None:
    qid = add_question(app, "不变的题", options=["甲", "乙", "丙"], answer=["o1"])
    use_in_paper(app, qid)
    old = _version(app, qid)
    response = editor.post(
        f"/admin/questions/{qid}/edit",
        data=editor_form(
            editor,
            _bank_id(app),
            stem="不变的题",
            option_key=["o1", "o2", "o3"],
            option_text=["甲", "乙", "丙"],
            correct=["0"],
            explanation="",
            difficulty="3",
        ),
    )
    assert response.status_code == 303
    assert _version(app, qid).id == old.id


def test_a_used_question_keeps_its_type(app: Flask, editor: FlaskClient) -> None:
    qid = add_question(app, "单选题", options=["甲", "乙", "丙"], answer=["o1"])
    use_in_paper(app, qid)
    response = editor.post(
        f"/admin/questions/{qid}/edit",
        data=editor_form(
            editor,
            _bank_id(app),
            type="multi",
            option_key=["o1", "o2", "o3"],
            option_text=["甲", "乙", "丙"],
            correct=["0", "1"],
        ),
    )
    assert response.status_code == 422
    assert "type" in _field_errors(response.get_data(as_text=True))
    assert _version(app, qid).type == "single"


def test_unknown_question_is_a_404(editor: FlaskClient) -> None:
    assert editor.get("/admin/questions/999999/edit").status_code == 404
    assert editor.get("/admin/questions/999999/preview").status_code == 404


def test_duplicate_stem_warns_and_saves_only_when_confirmed(
    app: Flask, editor: FlaskClient
) -> None:
    first = add_question(app, "动火作业前应当办理什么？")
    bank = _bank_id(app)
    response = editor.post(
        "/admin/questions/new", data=editor_form(editor, bank, stem="动火作业前，应当办理什么")
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "data-duplicate-warning" in page
    assert f"/admin/questions/{first}/edit" in page
    assert 'name="confirm_duplicate"' in page
    assert _count(app) == 1
    response = editor.post(
        "/admin/questions/new",
        data=editor_form(editor, bank, stem="动火作业前，应当办理什么", confirm_duplicate="1"),
    )
    assert response.status_code == 303
    assert _count(app) == 2
    # editing a question does not count itself as its duplicate
    other = add_question(app, "独一无二的题")
    response = editor.post(
        f"/admin/questions/{other}/edit",
        data=editor_form(editor, bank, stem="独一无二的题", explanation="新的解析"),
    )
    assert response.status_code == 303


def _preview(client: FlaskClient, **fields: Any):
    data = editor_form(client, 0, **fields)
    return client.post("/admin/questions/preview", data=data)


def test_preview_renders_the_candidate_view_without_the_answer(
    app: Flask, editor: FlaskClient
) -> None:
    response = _preview(
        editor,
        stem="<p>H<sub>2</sub>S 是<strong>有毒</strong>气体吗？</p>",
        type="multi",
        option_text=["有毒", "易燃", "无味"],
        correct=["0", "1"],
        explanation="秘密解析",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="exam-question exam-type-multi"' in html
    stem = "<p>H<sub>2</sub>S 是<strong>有毒</strong>气体吗？</p>"
    assert f'<div class="exam-stem rich">{stem}</div>' in html
    assert re.findall(r'class="exam-letter"[^>]*>(\w)<', html) == ["A", "B", "C"]
    assert "秘密解析" not in html
    assert "checked" not in html
    assert 'type="checkbox"' in html
    single = _preview(editor).get_data(as_text=True)
    assert 'type="radio"' in single


def test_preview_of_incomplete_content_lists_the_problems(editor: FlaskClient) -> None:
    response = _preview(editor, stem="", correct=[])
    assert response.status_code == 422
    assert "data-preview-problems" in response.get_data(as_text=True)


def test_preview_needs_csrf(editor: FlaskClient) -> None:
    response = editor.post("/admin/questions/preview", data={"type": "single", "stem": "x"})
    assert response.status_code == 400


def test_saved_question_preview_page(app: Flask, editor: FlaskClient) -> None:
    qid = add_question(app, "预览题", options=["甲", "乙", "丙"], answer=["o2"], status="retired")
    page = editor.get(f"/admin/questions/{qid}/preview").get_data(as_text=True)
    assert '<div class="exam-stem rich">预览题</div>' in page
    assert re.search(r"data-answer>\s*B\s*<", page)
    assert "Retired" in page


# ------------------------------------------------------------------ media
def _upload(client: FlaskClient, data: bytes, name: str = "a.png", token: str | None = None):
    return client.post(
        "/admin/media",
        data={
            "file": (io.BytesIO(data), name),
            "csrf_token": token or csrf_token(client, "/admin/questions/new"),
        },
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20, "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
        (b"RIFF\x1a\x00\x00\x00WEBPVP8L" + b"\x00" * 14, "image/webp"),
    ],
)
def test_media_upload_accepts_images_by_their_bytes(
    app: Flask, editor: FlaskClient, data, mime
) -> None:
    response = _upload(editor, data, "whatever.bin")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["url"] == f"/media/{body['id']}"
    served = editor.get(body["url"])
    assert served.status_code == 200
    assert served.mimetype == mime
    assert served.data == data


def test_media_upload_deduplicates_by_content(app: Flask, editor: FlaskClient) -> None:
    first = _upload(editor, PNG, "a.png").get_json()
    second = _upload(editor, PNG, "b.png").get_json()
    assert first == second
    with app.app_context():
        assert db.session.query(Media).count() == 1


def test_media_upload_refuses_what_is_not_an_allowed_image(app: Flask, editor: FlaskClient) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
    for data, name in (
        (b"<html><script>alert(1)</script>", "x.png"),
        (svg, "x.svg"),
        (b"BM" + b"\x00" * 50, "x.bmp"),
        (b"%PDF-1.4", "x.jpg"),
    ):
        response = _upload(editor, data, name)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "bad_image_type"
    response = _upload(editor, b"", "empty.png")
    assert response.get_json()["error"]["code"] in ("empty_file", "no_file")
    response = editor.post(
        "/admin/media",
        data={"csrf_token": csrf_token(editor, "/admin/banks")},
        headers={"Accept": "application/json"},
    )
    assert response.get_json()["error"]["code"] == "no_file"
    with app.app_context():
        assert db.session.query(Media).count() == 0


def test_media_upload_enforces_the_size_limit(app: Flask, editor: FlaskClient) -> None:
    app.config["EXAMSERVER"]["MEDIA_MAX_KB"] = 1
    response = _upload(editor, PNG + b"\x00" * 2000)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "image_too_large"


def test_media_upload_is_for_bank_editors_only(app: Flask) -> None:
    proctor = login_as(app, "proctor")
    response = _upload(proctor, PNG, token=csrf_token(proctor))
    assert response.status_code == 403
    staff = login_as(app, "staff")
    assert _upload(staff, PNG, token=csrf_token(staff)).status_code == 200


# ------------------------------------------------------------------ duplicates page
def test_duplicates_page_and_retire_the_others(app: Flask, editor: FlaskClient) -> None:
    a = add_question(app, "动火作业前应当办理什么？")
    b = add_question(app, "动火作业前，应当办理什么")
    c = add_question(app, "动火作业前 应当办理什么!")
    lone = add_question(app, "另一道题")
    page = editor.get("/admin/questions/duplicates").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'name="ids" value="(\d+)"', page)]
    assert sorted(ids) == [a, b, c]
    assert str(lone) not in re.findall(r'name="ids" value="(\d+)"', page)
    token = csrf_token(editor, "/admin/questions/duplicates")
    response = editor.post(
        "/admin/questions/duplicates/retire",
        data={"csrf_token": token, "keep": str(b), "ids": [str(a), str(b), str(c)]},
    )
    assert response.status_code == 303
    with app.app_context():
        status = {q.id: q.status for q in db.session.query(Question)}
    assert status == {a: "retired", b: "active", c: "retired", lone: "active"}
    assert 'name="ids"' not in editor.get("/admin/questions/duplicates").get_data(as_text=True)


def test_duplicates_retire_refuses_a_bad_group(app: Flask, editor: FlaskClient) -> None:
    a = add_question(app, "动火作业前应当办理什么？")
    b = add_question(app, "完全不同的题")
    token = csrf_token(editor, "/admin/questions/duplicates")
    for data in (
        {"keep": str(a), "ids": [str(a), str(b)]},  # not duplicates
        {"keep": "999", "ids": [str(a), str(b)]},  # keep is not in the group
        {"keep": str(a), "ids": [str(a), "999999"]},
    ):  # unknown question
        editor.post("/admin/questions/duplicates/retire", data={"csrf_token": token, **data})
    with app.app_context():
        assert {q.status for q in db.session.query(Question)} == {"active"}
    assert editor.get("/admin/questions/duplicates?bank=xyz").status_code == 400
    assert editor.get("/admin/questions/duplicates?bank=99999").status_code == 400
