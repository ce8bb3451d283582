"""Versioning: an edited question never changes a paper that already showed it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from examserver.extensions import db
from examserver.papers.models import Paper, PaperItem
from examserver.question_bank import operations as ops
from examserver.question_bank.models import Question, QuestionVersion
from examserver.question_bank.types import QuestionContent
from tests.conftest import csrf_token
from tests.question_bank.conftest import add_question, login_as, use_in_paper

OLD_OPTIONS = ["动火作业许可证", "出入证", "工作证"]


def _paper_item(app: Flask, paper_id: int) -> dict[str, Any]:
    """What the paper shows: the exact version its item points at."""
    with app.app_context():
        paper = db.session.get(Paper, paper_id)
        assert paper is not None
        (item,) = paper.items
        version = item.question_version
        return {
            "version_id": version.id,
            "stem": version.stem,
            "options": [dict(o) for o in version.options],
            "answer": list(version.answer),
            "option_order": list(item.option_order),
            "type": version.type,
        }


def _question(app: Flask, qid: int) -> dict[str, Any]:
    with app.app_context():
        question = db.session.get(Question, qid)
        assert question is not None
        return {
            "current": question.current_version_id,
            "versions": [(v.id, v.version_no) for v in question.versions],
            "stem_text": question.stem_text,
            "status": question.status,
        }


def _edit_through_operations(app: Flask, qid: int, stem: str, answer: list[str]) -> int:
    with app.app_context():
        question = db.session.get(Question, qid)
        assert question is not None
        version = ops.update_question(
            db.session,
            question,
            QuestionContent(
                type="single",
                stem=stem,
                options=[
                    {"key": "o1", "text": "动火证"},
                    {"key": "o2", "text": "出入证"},
                    {"key": "o4", "text": "作业票"},
                ],
                answer=answer,
            ),
        )
        db.session.commit()
        return version.id


def test_editing_a_used_question_leaves_the_paper_as_it_was(any_db_app: Flask) -> None:
    app = any_db_app
    qid = add_question(app, "<p>动火作业前应当办理什么？</p>", options=OLD_OPTIONS, answer=["o1"])
    paper_id = use_in_paper(app, qid)
    before = _paper_item(app, paper_id)

    new_id = _edit_through_operations(app, qid, "<p>动火作业前必须办理哪种证件？</p>", ["o4"])
    after_ops = _question(app, qid)
    assert new_id != before["version_id"]
    assert after_ops["current"] == new_id
    assert [no for _id, no in after_ops["versions"]] == [1, 2]
    assert after_ops["stem_text"] == "动火作业前必须办理哪种证件？"
    assert _paper_item(app, paper_id) == before

    # and once more through the editor page, while version 2 is on a second paper
    second_paper = use_in_paper(app, qid)
    second_before = _paper_item(app, second_paper)
    client = login_as(app, "staff")
    response = client.post(
        f"/admin/questions/{qid}/edit",
        data={
            "csrf_token": csrf_token(client, f"/admin/questions/{qid}/edit"),
            "type": "single",
            "stem": "<p>第三版题干</p>",
            "option_key": ["o1", "o2", "o4"],
            "option_text": ["动火证", "出入证", "作业票（新）"],
            "correct": ["2"],
            "difficulty": "4",
            "explanation": "",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    after_page = _question(app, qid)
    assert [no for _id, no in after_page["versions"]] == [1, 2, 3]
    assert after_page["current"] not in (before["version_id"], new_id)
    assert _paper_item(app, paper_id) == before
    assert _paper_item(app, second_paper) == second_before
    assert before["stem"] == "<p>动火作业前应当办理什么？</p>"
    assert before["options"] == [{"key": f"o{i + 1}", "text": t} for i, t in enumerate(OLD_OPTIONS)]
    assert before["answer"] == ["o1"]
    with app.app_context():
        v3 = db.session.get(QuestionVersion, after_page["current"])
        assert v3.stem == "<p>第三版题干</p>"
        assert v3.options[2] == {"key": "o4", "text": "作业票（新）"}
        assert v3.used_count == 0


def test_editing_an_unused_question_edits_it_in_place(any_db_app: Flask) -> None:
    app = any_db_app
    qid = add_question(app, "未用过的题", options=OLD_OPTIONS, answer=["o1"])
    first = _question(app, qid)
    version_id = _edit_through_operations(app, qid, "改过的题", ["o2"])
    after = _question(app, qid)
    assert version_id == first["current"]
    assert after["versions"] == first["versions"]
    with app.app_context():
        version = db.session.get(QuestionVersion, version_id)
        assert version.stem == "改过的题"
        assert version.answer == ["o2"]
        assert version.version_no == 1


def test_a_used_question_is_retired_not_deleted(any_db_app: Flask) -> None:
    app = any_db_app
    qid = add_question(app, "用过的题", options=OLD_OPTIONS, answer=["o1"])
    paper_id = use_in_paper(app, qid)
    before = _paper_item(app, paper_id)
    with app.app_context():
        question = db.session.get(Question, qid)
        with pytest.raises(ops.BankError) as refused:
            ops.delete_question(db.session, question)
        assert refused.value.code == "question_used"
        db.session.rollback()

    client = login_as(app, "admin")
    token = csrf_token(client, "/admin/questions")
    page = client.post(
        "/admin/questions/bulk",
        data={"csrf_token": token, "action": "delete", "ids": [str(qid)]},
        follow_redirects=True,
    )
    assert "retire them instead" in page.get_data(as_text=True)
    assert _question(app, qid)["status"] == "active"

    client.post(
        "/admin/questions/bulk", data={"csrf_token": token, "action": "retire", "ids": [str(qid)]}
    )
    assert _question(app, qid)["status"] == "retired"
    assert _paper_item(app, paper_id) == before
    # retired questions stay readable: in the list, the editor and the preview
    listing = client.get("/admin/questions?status=retired").get_data(as_text=True)
    assert f'name="ids" value="{qid}"' in listing
    assert client.get(f"/admin/questions/{qid}/edit").status_code == 200
    preview = client.get(f"/admin/questions/{qid}/preview")
    assert preview.status_code == 200
    assert "用过的题" in preview.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(PaperItem).count() == 1


def test_an_unused_question_can_be_deleted(any_db_app: Flask) -> None:
    app = any_db_app
    qid = add_question(app, "新题")
    with app.app_context():
        ops.delete_question(db.session, db.session.get(Question, qid))
        db.session.commit()
        assert db.session.get(Question, qid) is None
        assert db.session.query(QuestionVersion).filter_by(question_id=qid).count() == 0
