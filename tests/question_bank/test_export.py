"""Exporting banks (xlsx, csv, JSON) and importing the export back: the same questions."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from flask import Flask
from openpyxl import load_workbook

from examserver.extensions import db
from examserver.question_bank.exporting import export_bank, template_csv, template_xlsx
from examserver.question_bank.importing import LAYOUT_HEADERS, import_file, parse_file
from examserver.question_bank.operations import get_bank
from tests.question_bank.import_helpers import bank_snapshot, question_count


def fill_bank(app: Flask, code: str = "SRC") -> None:
    """A bank with every type, rich text, a topic tree, explanations, a retired question and an
    edited question whose old version a paper used."""
    from examserver.question_bank.operations import (
        create_question,
        ensure_topic,
        get_or_create_bank,
        mark_versions_used,
        retire_questions,
        update_question,
    )
    from examserver.question_bank.types import QuestionContent

    def opts(*texts: str, keys: tuple[str, ...] = ()) -> list[dict[str, str]]:
        keys = keys or tuple(f"o{i + 1}" for i in range(len(texts)))
        return [{"key": k, "text": t} for k, t in zip(keys, texts, strict=True)]

    with app.app_context():
        bank = get_or_create_bank(db.session, code, "源题库", industry="危险化学品")
        law = ensure_topic(db.session, bank, "法律法规/安全生产法")
        weld = ensure_topic(db.session, bank, "焊接与热切割/动火作业")
        contents = [
            (QuestionContent("judge", "生产经营单位必须遵守安全生产法。", [], ["T"],
                             "主要负责人是第一责任人。", 1), law),
            (QuestionContent("judge", "氧气瓶可以与乙炔瓶混放。", [], ["F"], "", 2), None),
            (QuestionContent("single", "我国安全生产工作的方针是（　）。",
                             opts("安全第一、预防为主、综合治理", "效益优先", "速度优先"),
                             ["o1"], "", 3), law),
            (QuestionContent("multi", "<p>动火作业前<strong>必须</strong>做到：</p>"
                             "<ul><li>看现场</li></ul><table><tr><td>1</td><td>2</td></tr></table>",
                             opts("清除可燃物", "配备灭火器", "一人作业", "<u>专人</u>监护"),
                             ["o1", "o2", "o4"], "<p>见<em>动火</em>规定。</p>", 5), weld),
            (QuestionContent("single", "=1+1 这样开头的题干也要原样保留", opts("-5℃", "+3", "@x"),
                             ["o2"], "", 4), None),
            (QuestionContent("single", "选项键不连续的题", opts("甲", "乙", keys=("o1", "o3")),
                             ["o3"], "", 3), weld),
            (QuestionContent("single", "a &lt; b 时，多行<br>第二行", opts("是", "否"), ["o1"],
                             "", 3), None),
        ]  # fmt: skip
        questions = [create_question(db.session, bank, c, t) for c, t in contents]
        retired = create_question(
            db.session, bank, QuestionContent("judge", "已停用的题。", [], ["T"]), None
        )
        retire_questions(db.session, [retired.id])
        edited = questions[1]
        mark_versions_used(db.session, [edited.current_version_id])
        update_question(
            db.session,
            edited,
            QuestionContent("judge", "氧气瓶与乙炔瓶不得混放。", [], ["T"], "新版本", 2),
        )
        db.session.commit()


def reimport(app: Flask, fmt: str, target: str, **kw: str) -> None:
    with app.app_context():
        data = export_bank(db.session, get_bank(db.session, "SRC"), fmt, **kw)
        report = import_file(db.session, data, f"export.{fmt}", target)
        assert report.clean, [i.as_dict() for i in report.all_issues]
        db.session.commit()


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_round_trip_gives_back_the_same_questions(app: Flask, fmt: str):
    fill_bank(app)

    reimport(app, fmt, "DST")

    source = bank_snapshot(app, "SRC")
    assert len(source) == 7  # active only, current versions
    assert bank_snapshot(app, "DST") == source
    stems = [q[1] for q in source]
    assert "氧气瓶与乙炔瓶不得混放。" in stems
    assert "已停用的题。" not in stems


def test_round_trip_on_every_database(any_db_app: Flask):
    fill_bank(any_db_app)

    reimport(any_db_app, "xlsx", "DST")
    reimport(any_db_app, "json", "DSJ")

    assert bank_snapshot(any_db_app, "DST") == bank_snapshot(any_db_app, "SRC")
    assert bank_snapshot(any_db_app, "DSJ", keys=True) == bank_snapshot(
        any_db_app, "SRC", keys=True
    )


def test_gb18030_csv_round_trip(app: Flask):
    fill_bank(app)
    with app.app_context():
        data = export_bank(db.session, get_bank(db.session, "SRC"), "csv", "gb18030")
    assert not data.startswith(b"\xef\xbb\xbf")
    data.decode("gb18030")

    reimport(app, "csv", "DST", encoding="gb18030")

    assert bank_snapshot(app, "DST") == bank_snapshot(app, "SRC")


def test_csv_export_is_utf8_with_bom_and_guards_formulas(app: Flask):
    fill_bank(app)
    with app.app_context():
        data = export_bank(db.session, get_bank(db.session, "SRC"), "csv")

    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(LAYOUT_HEADERS)
    assert "'=1+1 这样开头" in text
    assert "'-5℃" in text
    assert "'@x" in text


def test_xlsx_export_keeps_text_as_text(app: Flask):
    fill_bank(app)
    with app.app_context():
        data = export_bank(db.session, get_bank(db.session, "SRC"), "xlsx")

    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    cells = [c for r in sheet.iter_rows() for c in r if c.value]
    formula = next(c for c in cells if str(c.value).startswith("=1+1"))
    assert formula.data_type == "s"
    assert [c.value for c in next(sheet.iter_rows())] == list(LAYOUT_HEADERS)


def test_json_export_lists_current_versions_with_ids_a_paper_uses(app: Flask):
    fill_bank(app)
    from examserver.question_bank.models import Question

    with app.app_context():
        document = json.loads(export_bank(db.session, get_bank(db.session, "SRC"), "json"))
        current = {
            q.id: q.current_version_id
            for q in db.session.query(Question).filter_by(status="active")
        }

    assert document["bank"] == {
        "code": "SRC", "name": "源题库", "industry": "危险化学品", "category": "", "job_type": "",
    }  # fmt: skip
    questions = document["questions"]
    assert {q["question_id"]: q["id"] for q in questions} == current
    edited = next(q for q in questions if q["stem"] == "氧气瓶与乙炔瓶不得混放。")
    assert edited["version"] == 2
    assert edited["options"] == [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
    gap = next(q for q in questions if q["stem"] == "选项键不连续的题")
    assert gap["answer"] == ["o3"]
    assert set(questions[0]) == {
        "id", "question_id", "version", "type", "stem", "options", "answer", "topic",
        "difficulty", "explanation",
    }  # fmt: skip


def test_json_import_reports_bad_questions_by_number(app: Flask):
    document = {
        "questions": [
            {"type": "single", "stem": "好题", "options": [{"key": "o1", "text": "甲"},
             {"key": "o2", "text": "乙"}], "answer": ["o2"]},
            {"type": "essay", "stem": "论述题"},
            {"type": "single", "stem": "", "options": "甲乙", "answer": "o1"},
            {"type": "multi", "stem": "键不认识", "options": [{"key": "A", "text": "甲"},
             {"key": "B", "text": "乙"}, {"key": "C", "text": "丙"}], "answer": ["A", "Z"]},
            {"type": "judge", "stem": "判断", "answer": ["正确"], "difficulty": 9},
            "not an object",
        ]
    }  # fmt: skip

    parsed = parse_file(json.dumps(document).encode(), "q.json")
    from examserver.question_bank.importing import check_rows

    check_rows(None, None, parsed)
    found = {(i.row, i.column, i.code) for r in parsed.rows for i in r.issues}

    assert parsed.rows[0].ok
    assert found == {
        (2, "type", "unknown_type"),
        (3, "stem", "empty_stem"),
        (3, "options", "bad_options"),
        (4, "answer", "answer_not_option"),
        (5, "difficulty", "bad_difficulty"),
        (6, "type", "bad_question"),
    }
    assert parsed.rows[4].answer == ["T"]


def test_template_workbook_has_the_layout_examples_and_a_help_sheet(app: Flask):
    workbook = load_workbook(io.BytesIO(template_xlsx()))

    assert len(workbook.worksheets) == 2
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == list(LAYOUT_HEADERS)
    assert {r[0] for r in rows[1:]} == {"判断", "单选", "多选"}
    help_text = " ".join(str(c) for r in workbook.worksheets[1].iter_rows(values_only=True)
                         for c in r if c)  # fmt: skip
    assert "答案" in help_text
    assert "知识点" in help_text

    for data, name in ((template_xlsx(), "t.xlsx"), (template_csv(), "t.csv"),
                       (template_csv("gb18030"), "g.csv")):  # fmt: skip
        with app.app_context():
            report = import_file(db.session, data, name, "TPL", dry_run=True)
        assert report.clean
        assert len(report.rows) == 3


def test_export_of_an_empty_bank_reimports_to_nothing(app: Flask, make_bank: Callable[..., int]):
    make_bank("EMPTY")
    with app.app_context():
        data = export_bank(db.session, get_bank(db.session, "EMPTY"), "xlsx")
        report = import_file(db.session, data, "e.xlsx", "E2")

    assert report.rows == []
    assert report.imported == 0
    assert question_count(app, "E2") == 0
