"""Importing spreadsheets: each row checked and reported with its row and column, all or nothing."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from examserver.extensions import db
from examserver.question_bank import importing, tabular
from examserver.question_bank.importing import ImportRequestError, import_file, parse_file
from tests.question_bank.import_helpers import (
    bank_snapshot,
    csv_bytes,
    issues,
    question_count,
    row,
    xlsx_bytes,
)

# Columns: A 题型, B 题干, C-G 选项A-E, H 答案, I 知识点, J 难度, K 解析, L 备注 (not in the layout)
BROKEN_HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "答案", "知识点",
                 "难度", "解析", "备注"]  # fmt: skip


def broken_row(
    qtype: str, stem: str, options: tuple[str, ...], answer: str, difficulty: Any = ""
) -> list[Any]:
    cells = list(options) + [""] * (5 - len(options))
    return [qtype, stem, *cells, answer, "法律法规/安全生产法", difficulty, "", "x"]


FOUR = ("甲", "乙", "丙", "丁")
BROKEN_ROWS = [
    broken_row("单选", "我国安全生产工作的方针是什么？", FOUR, "A"),  # 2 valid
    broken_row("填空", "题型不认识的题", FOUR, "A"),  # 3 unknown_type
    broken_row("单选", "", FOUR, "A"),  # 4 empty_stem
    broken_row("单选", "答案不是字母的题", FOUR, "Z"),  # 5 bad_answer
    broken_row("单选", "答案选了空选项的题", FOUR, "E"),  # 6 answer_not_option
    broken_row("多选", "选项中间空了一列的题", ("甲", "", "丙"), "AC"),  # 7 option_gap at 选项B
    broken_row("单选", "只有一个选项的题", ("甲",), "A"),  # 8 too_few_options
    broken_row("单选", "单选却给了两个答案的题", FOUR, "AB"),  # 9 too_many_answers
    broken_row("单选", "难度超出范围的题", FOUR, "A", 7),  # 10 bad_difficulty
    broken_row("单选", "我国安全生产工作的方针是什么", FOUR, "B"),  # 11 duplicate_in_file
    broken_row("单选", "库中已有的题干。", FOUR, "A"),  # 12 duplicate_in_bank
    broken_row("判断", "判断题答案写错的题", (), "也许"),  # 13 bad_answer
    broken_row("多选", "多选只给一个答案的题", FOUR, "A"),  # 14 too_few_answers
    [""] * 12,  # 15 empty: skipped
    broken_row("判断", "动火作业必须有人监护。", (), "√"),  # 16 valid
    broken_row("多选", "下列属于个体防护用品的有", FOUR, "A、C"),  # 17 valid
    broken_row("单选", "难度不是整数的题", FOUR, "A", "2.5"),  # 18 bad_difficulty
]
EXPECTED_ERRORS = {
    (3, "题型", "A", "unknown_type"),
    (4, "题干", "B", "empty_stem"),
    (5, "答案", "H", "bad_answer"),
    (6, "答案", "H", "answer_not_option"),
    (7, "选项B", "D", "option_gap"),
    (8, "选项A", "C", "too_few_options"),
    (9, "答案", "H", "too_many_answers"),
    (10, "难度", "J", "bad_difficulty"),
    (11, "题干", "B", "duplicate_in_file"),
    (12, "题干", "B", "duplicate_in_bank"),
    (13, "答案", "H", "bad_answer"),
    (14, "答案", "H", "too_few_answers"),
    (18, "难度", "J", "bad_difficulty"),
}


@pytest.fixture
def existing(make_question: Callable[..., int]) -> int:
    """Bank B1 with one active question whose stem row 12 repeats."""
    return make_question(stem="库中已有的题干", bank_code="B1")


def run(app: Flask, data: bytes, filename: str = "q.xlsx", bank: str = "B1", **kw: Any) -> Any:
    with app.app_context():
        report = import_file(db.session, data, filename, bank, **kw)
        db.session.commit()
        return report


def test_broken_file_reports_every_error_with_row_column_and_code(app: Flask, existing: int):
    report = run(app, xlsx_bytes(BROKEN_ROWS, BROKEN_HEADER), dry_run=True)

    assert issues(report) == EXPECTED_ERRORS
    assert issues(report, "warning") == {(1, "备注", "L", "unknown_column")}
    assert [r.row for r in report.valid_rows] == [2, 16, 17]
    assert [r.row for r in report.rows] == [n for n in range(2, 19) if n != 15]
    by_row = {r.row: r for r in report.rows}
    assert (by_row[2].type, by_row[2].answer_display, by_row[2].topic) == (
        "single", "A", "法律法规/安全生产法",
    )  # fmt: skip
    assert by_row[16].answer_display == "正确"
    assert by_row[17].answer_display == "AC"
    assert by_row[11].issues[0].message  # a message for people, not only a code
    assert not report.acceptable(valid_only=False)
    assert report.acceptable(valid_only=True)


def test_broken_file_writes_nothing_and_leaves_the_bank_as_it_was(app: Flask, existing: int):
    before = bank_snapshot(app, "B1")

    report = run(app, xlsx_bytes(BROKEN_ROWS, BROKEN_HEADER))

    assert report.imported == 0
    assert bank_snapshot(app, "B1") == before
    from examserver.question_bank.models import Topic

    with app.app_context():
        assert db.session.query(Topic).count() == 0


def test_valid_only_imports_the_valid_rows(app: Flask, existing: int):
    report = run(app, xlsx_bytes(BROKEN_ROWS, BROKEN_HEADER), valid_only=True)

    assert report.imported == 3
    assert question_count(app, "B1") == 4
    snapshot = bank_snapshot(app, "B1")
    judge = next(q for q in snapshot if q[0] == "judge")
    assert judge[1:4] == ("动火作业必须有人监护。", ("正确", "错误"), (0,))
    multi = next(q for q in snapshot if q[0] == "multi")
    assert multi[3] == (0, 2)
    assert multi[4] == "法律法规/安全生产法"


def test_dry_run_writes_nothing_not_even_the_bank(app: Flask):
    rows = [row("单选", "题一", FOUR, "A"), row("判断", "题二", answer="错")]

    report = run(app, xlsx_bytes(rows), bank="NEW", dry_run=True)

    assert report.clean
    assert report.imported == 0
    from examserver.question_bank.operations import get_bank

    with app.app_context():
        assert get_bank(db.session, "NEW") is None
    assert question_count(app) == 0


def test_a_clean_file_creates_the_bank_topics_and_questions(app: Flask):
    rows = [
        row("单选", "题一", FOUR, "b", "法律法规/安全生产法", 2, "解析一"),
        row("多选", "题二", FOUR, "A,B, D", "法律法规/消防法", 5),
        row("判断", "题三", answer="×", topic="法律法规"),
    ]

    report = run(app, xlsx_bytes(rows), bank="NEW", bank_name="新题库")

    assert report.imported == 3
    assert report.bank_created
    snapshot = bank_snapshot(app, "NEW", keys=True)
    assert ("single", "题一", (("o1", "甲"), ("o2", "乙"), ("o3", "丙"), ("o4", "丁")), ("o2",),
            "法律法规/安全生产法", 2, "解析一") in snapshot  # fmt: skip
    assert any(q[1] == "题二" and q[3] == ("o1", "o2", "o4") and q[5] == 5 for q in snapshot)
    assert any(q[1] == "题三" and q[3] == ("F",) and q[4] == "法律法规" for q in snapshot)
    from examserver.question_bank.models import Bank, Topic

    with app.app_context():
        bank = db.session.query(Bank).filter_by(code="NEW").one()
        assert bank.name == "新题库"
        names = sorted(t.name for t in db.session.query(Topic).filter_by(bank_id=bank.id))
        assert names == ["安全生产法", "法律法规", "消防法"]


@pytest.mark.parametrize(
    ("cell", "key"),
    [("对", "T"), ("错", "F"), ("正确", "T"), ("错误", "F"), ("√", "T"), ("×", "F"),
     ("T", "T"), ("f", "F"), ("A", "T"), ("b", "F"), ("TRUE", "T"), (" 错误 ", "F")],
)  # fmt: skip
def test_judge_answers_in_every_usual_spelling(cell: str, key: str):
    parsed = parse_file(xlsx_bytes([row("判断题", "判断", answer=cell)]), "j.xlsx")

    assert parsed.rows[0].answer == [key]


@pytest.mark.parametrize("cell", ["ABD", "A,B,D", "A、B、D", "a b d", "A，B；D", "ＡＢＤ"])
def test_choice_answers_with_separators_and_case(cell: str):
    parsed = parse_file(xlsx_bytes([row("多选", "多选", FOUR, cell)]), "m.xlsx")

    assert parsed.rows[0].answer == ["o1", "o2", "o4"]
    assert not parsed.rows[0].issues


def test_headers_are_matched_tolerantly_below_a_title_row():
    header = [" 题 型 ", "STEM", "Option_A", "option b", "选项Ｃ", "Answer", "Topic", "难度",
              "解析"]  # fmt: skip
    rows = [
        ["judge", "英文题型的判断题", "", "", "", "T", "", "", ""],
        ["单选题", "中文题型的单选题", "甲", "乙", "丙", "c", "a/b", "4", ""],
    ]
    table = tabular.Table(
        rows=[(1, ["某某题库导入表"]), (2, header)] + [(3 + i, r) for i, r in enumerate(rows)]
    )

    parsed = importing.parse_table(table, "xlsx")

    assert not parsed.issues
    assert [(r.row, r.type, r.answer, r.topic) for r in parsed.rows] == [
        (3, "judge", ["T"], ""),
        (4, "single", ["o3"], "a/b"),
    ]


def test_missing_required_columns_are_errors_of_the_file(app: Flask):
    data = xlsx_bytes([["单选", "甲", "乙"]], header=["题型", "选项A", "选项B"])

    report = run(app, data, dry_run=True)

    assert {(i.code, i.column) for i in report.file_errors} == {
        ("missing_column", "题干"),
        ("missing_column", "答案"),
    }
    assert report.rows == []
    assert report.rejected


def test_duplicate_columns_are_an_error():
    parsed = parse_file(xlsx_bytes([["单选"]], header=["题型", "题干", "题干", "答案"]), "x.xlsx")

    assert [(i.code, i.letter) for i in parsed.issues] == [("duplicate_column", "C")]


def test_option_keys_follow_the_column_and_judge_ignores_option_columns():
    parsed = parse_file(xlsx_bytes([row("判断", "判断题也填了选项", ("x", "y"), "错")]), "x.xlsx")

    assert parsed.rows[0].options == [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
    assert parsed.rows[0].answer == ["F"]


def test_rich_text_cells_are_sanitized_or_escaped(app: Flask):
    rows = [
        row("单选", "<p>含<strong>加粗</strong><script>alert(1)</script></p>", FOUR, "A"),
        row("单选", "x < 5 且 y > 3\n第二行", ("<img src=x onerror=alert(1)>甲", "乙"), "B"),
    ]

    run(app, xlsx_bytes(rows), bank="RT")

    stems = {q[1]: q for q in bank_snapshot(app, "RT")}
    assert "<p>含<strong>加粗</strong></p>" in stems
    assert "x &lt; 5 且 y &gt; 3<br>第二行" in stems
    assert "onerror" not in json.dumps(list(stems.values()))


def test_gb18030_csv(app: Flask):
    rows = [row("单选", "焊接作业人员应当持证上岗吗？", FOUR, "A", "焊接/资质", 2),
            row("判断", "氧气瓶可以沾染油脂。", answer="错")]  # fmt: skip
    data = csv_bytes(rows, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    report = run(app, data, "题库.csv", bank="GB")

    assert report.format == "csv"
    assert report.imported == 2
    stems = {q[1]: q for q in bank_snapshot(app, "GB")}
    assert stems["焊接作业人员应当持证上岗吗？"][4] == "焊接/资质"
    assert stems["氧气瓶可以沾染油脂。"][3] == (1,)


def test_utf8_bom_csv_and_plain_utf8_csv(app: Flask):
    rows = [row("单选", "带 BOM 的 CSV", FOUR, "D")]
    bom = csv_bytes(rows, encoding="utf-8-sig")
    assert bom.startswith(b"\xef\xbb\xbf")

    report = run(app, bom, "bom.csv", bank="BOM")
    plain = run(app, csv_bytes([row("单选", "无 BOM", FOUR, "C")], encoding="utf-8"), "p.csv",
                bank="BOM")  # fmt: skip

    assert report.imported == 1
    assert not report.issues
    assert plain.imported == 1


def test_csv_cells_with_quotes_commas_and_newlines():
    rows = [row("单选", '他说："停止作业，撤离！"\n然后……', ("甲,乙", '"丙"'), "B")]

    parsed = parse_file(csv_bytes(rows), "q.csv")

    assert parsed.rows[0].stem == '他说："停止作业，撤离！"<br>然后……'
    assert [o["text"] for o in parsed.rows[0].options] == ["甲,乙", '"丙"']


def test_too_many_rows(app: Flask):
    rows = [row("判断", f"第{i}题", answer="对") for i in range(6)]

    report = run(app, xlsx_bytes(rows), dry_run=True, max_rows=5)

    assert [i.code for i in report.file_errors] == ["too_many_rows"]
    assert report.rows == []


def test_a_failure_while_writing_leaves_the_bank_as_it_was(
    app: Flask, existing: int, monkeypatch: pytest.MonkeyPatch
):
    before = bank_snapshot(app, "B1")
    rows = [row("判断", f"批量第{i}题", answer="对", topic=f"主题{i}") for i in range(5)]
    monkeypatch.setattr(importing, "BATCH", 2)
    calls = {"n": 0}
    real = importing._with_media

    def failing(content: Any, media: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:  # in the second batch, after the first was flushed
            raise RuntimeError("disk full")
        return real(content, media)

    monkeypatch.setattr(importing, "_with_media", failing)
    with app.app_context():
        with pytest.raises(RuntimeError):
            import_file(db.session, xlsx_bytes(rows), "x.xlsx", "B1")
        db.session.rollback()

    assert bank_snapshot(app, "B1") == before


def test_a_bad_bank_code_is_refused(app: Flask):
    with app.app_context(), pytest.raises(ImportRequestError) as caught:
        import_file(db.session, b"x", "x.csv", "有 空格")
    assert caught.value.code == "bad_bank_code"


# ------------------------------------------------------------------------------ hostile files
def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "fmt", "code"),
    [
        (bytes(range(256)) * 40, "random.xlsx", "xlsx", "not_a_spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xls", "xlsx", "not_a_spreadsheet"),
        (_zip({"hello.txt": b"hi"}), "fake.xlsx", "xlsx", "not_a_spreadsheet"),
        (b"\x81\x30\xff\xfe\x80" * 50, "bad.csv", "csv", "bad_encoding"),
        (b"\x00\x01\x02binary\x03" * 10, "bin.csv", "csv", "not_a_spreadsheet"),
        (_zip({"xl/workbook.xml": b"<x/>"}), "w.csv", "csv", "not_a_spreadsheet"),
        (b"", "empty.csv", "auto", "empty_file"),
        (b"[" * 100000, "deep.json", "json", "not_json"),
        (b'{"questions": 3}', "q.json", "json", "not_json"),
    ],
)
def test_hostile_and_wrong_files_get_a_clear_file_error(
    data: bytes, filename: str, fmt: str, code: str
):
    parsed = parse_file(data, filename, fmt)

    assert [i.code for i in parsed.issues if i.is_error] == [code]
    assert parsed.issues[0].message
    assert parsed.rows == []


def test_a_workbook_that_would_unpack_huge_is_refused(monkeypatch: pytest.MonkeyPatch):
    data = _zip({"xl/workbook.xml": b"<x/>", "xl/worksheets/sheet1.xml": b"\0" * 2_000_000})
    monkeypatch.setattr(tabular, "MAX_UNPACKED_BYTES", 1_000_000)

    parsed = parse_file(data, "bomb.xlsx")

    assert [i.code for i in parsed.issues] == ["unpacked_too_large"]


def test_a_cell_with_a_formula_is_read_as_its_value():
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["题型", "题干", "选项A", "选项B", "答案", "难度"])
    sheet.append(["单选", "公式题", "甲", "乙", "A", "=1+2"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    parsed = parse_file(buffer.getvalue(), "f.xlsx")

    # openpyxl keeps no cached value for a formula it wrote: the cell reads empty, difficulty 3.
    assert parsed.rows[0].difficulty == 3
    assert not parsed.rows[0].issues
