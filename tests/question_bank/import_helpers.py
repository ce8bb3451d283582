"""Helpers of the import/export tests: files made on the fly, and banks read back for comparing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from examserver.extensions import db
from examserver.question_bank.importing import LAYOUT_HEADERS, ImportReport
from examserver.question_bank.tabular import Sheet, write_xlsx
from tests.conftest import CI, SHARED

QTI_DIR = SHARED / "qti"


def xlsx_bytes(rows: Sequence[Sequence[Any]], header: Sequence[str] = LAYOUT_HEADERS) -> bytes:
    return write_xlsx([Sheet("试题", header, rows)])


def csv_bytes(
    rows: Sequence[Sequence[Any]],
    header: Sequence[str] = LAYOUT_HEADERS,
    encoding: str = "utf-8-sig",
) -> bytes:
    lines = [",".join(_quote(c) for c in header)]
    lines += [",".join(_quote(c) for c in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _quote(cell: Any) -> str:
    text = "" if cell is None else str(cell)
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def row(
    qtype: str,
    stem: str,
    options: Sequence[str] = (),
    answer: str = "A",
    topic: str = "",
    difficulty: Any = "",
    explanation: str = "",
) -> list[Any]:
    """A row of the standard layout (题型 题干 选项A-H 答案 知识点 难度 解析)."""
    cells = list(options) + [""] * (8 - len(options))
    return [qtype, stem, *cells, answer, topic, difficulty, explanation]


def issues(report: ImportReport, severity: str = "error") -> set[tuple[Any, ...]]:
    """The issues of a report as (row, column, letter, code)."""
    return {
        (i.row, i.column, i.letter, i.code) for i in report.all_issues if i.severity == severity
    }


def bank_snapshot(app: Flask, code: str, keys: bool = False) -> list[tuple[Any, ...]]:
    """A bank's active questions as comparable tuples: type, stem, options, answer, topic…

    Without ``keys`` options and answers are compared by position (spreadsheets renumber keys).
    """
    from examserver.question_bank.exporting import bank_questions
    from examserver.question_bank.models import Bank

    with app.app_context():
        bank = db.session.scalar(select(Bank).where(Bank.code == code))
        assert bank is not None, f"no bank {code}"
        result = []
        for q in bank_questions(db.session, bank):
            order = [o["key"] for o in q.options]
            options = tuple((o["key"], o["text"]) if keys else o["text"] for o in q.options)
            answer = tuple(q.answer) if keys else tuple(order.index(k) for k in q.answer)
            result.append((q.type, q.stem, options, answer, q.topic, q.difficulty, q.explanation))
        return sorted(result)


def question_count(app: Flask, code: str | None = None) -> int:
    from sqlalchemy import func

    from examserver.question_bank.models import Bank, Question

    with app.app_context():
        query = select(func.count()).select_from(Question)
        if code is not None:
            query = query.join(Bank, Bank.id == Question.bank_id).where(Bank.code == code)
        return int(db.session.scalar(query) or 0)


def shared_file(*parts: str) -> Path:
    """A file of the shared QTI data: skipped when missing here, a failure in CI."""
    path = QTI_DIR.joinpath(*parts)
    if not path.exists():
        if CI:
            pytest.fail(f"CI needs the shared QTI data at {path}")
        pytest.skip(f"the shared QTI data is not at {path}")
    return path


# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
