"""Export a bank's active questions (current versions) as xlsx, csv or JSON, and the template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from examserver.question_bank.importing import LAYOUT_HEADERS, type_label
from examserver.question_bank.models import Bank, Question, QuestionStatus, QuestionVersion, Topic
from examserver.question_bank.operations import TOPIC_SEPARATOR
from examserver.question_bank.richtext import cell_text, plain_text
from examserver.question_bank.tabular import Sheet, write_csv, write_xlsx
from examserver.question_bank.types import LETTERS, QuestionType

EXPORT_FORMATS = ("xlsx", "csv", "json", "qti")
_WIDTHS = (8, 60, *([24] * len(LETTERS)), 8, 24, 6, 40)


@dataclass
class ExportedQuestion:
    """The current version of an active question, ready to be written in any format."""

    version_id: int
    question_id: int
    version_no: int
    type: str
    stem: str
    options: list[dict[str, str]]
    answer: list[str]
    topic: str
    difficulty: int
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.version_id,
            "question_id": self.question_id,
            "version": self.version_no,
            "type": self.type,
            "stem": self.stem,
            "options": [{"key": o["key"], "text": o["text"]} for o in self.options],
            "answer": list(self.answer),
            "topic": self.topic,
            "difficulty": self.difficulty,
            "explanation": self.explanation,
        }


def topic_paths(session: Session, bank_id: int) -> dict[int, str]:
    """Return every knowledge point of a bank with its full path, read in one query."""
    nodes = {
        tid: (parent_id, name)
        for tid, parent_id, name in session.execute(
            select(Topic.id, Topic.parent_id, Topic.name).where(Topic.bank_id == bank_id)
        )
    }
    paths: dict[int, str] = {}

    def path(tid: int, depth: int = 0) -> str:
        if tid in paths:
            return paths[tid]
        parent_id, name = nodes[tid]
        if parent_id is None or parent_id not in nodes or depth > 100:
            result = name
        else:
            result = path(parent_id, depth + 1) + TOPIC_SEPARATOR + name
        paths[tid] = result
        return result

    for tid in nodes:
        path(tid)
    return paths


def bank_questions(session: Session, bank: Bank) -> list[ExportedQuestion]:
    """Return the current versions of a bank's active questions, oldest question first."""
    paths = topic_paths(session, bank.id)
    rows = session.execute(
        select(QuestionVersion)
        .join(Question, Question.current_version_id == QuestionVersion.id)
        .where(Question.bank_id == bank.id, Question.status == QuestionStatus.active.value)
        .order_by(Question.id)
    ).scalars()
    return [
        ExportedQuestion(
            version_id=v.id,
            question_id=v.question_id,
            version_no=v.version_no,
            type=v.type,
            stem=v.stem,
            options=[dict(o) for o in v.options],
            answer=list(v.answer),
            topic=paths.get(v.topic_id, "") if v.topic_id is not None else "",
            difficulty=v.difficulty,
            explanation=v.explanation or "",
        )
        for v in rows
    ]


def layout_row(question: ExportedQuestion) -> list[Any]:
    """Return a question as a row of the import layout (题型, 题干, 选项A…H, 答案, …)."""
    qtype = QuestionType.registry.get(question.type)
    fixed = bool(qtype is not None and qtype.default_options())
    keys = [o["key"] for o in question.options]
    options = [""] * len(LETTERS)
    if fixed:
        texts = {o["key"]: plain_text(o["text"]) for o in question.options}
        answer = "".join(texts.get(k, k) for k in question.answer)
    else:
        for i, option in enumerate(question.options[: len(LETTERS)]):
            options[i] = cell_text(option["text"])
        answer = "".join(LETTERS[keys.index(k)] for k in question.answer if k in keys)
    return [
        type_label(question.type),
        cell_text(question.stem),
        *options,
        answer,
        question.topic,
        question.difficulty,
        cell_text(question.explanation),
    ]


def _layout_rows(questions: list[ExportedQuestion]) -> Iterator[list[Any]]:
    for question in questions:
        yield layout_row(question)


def export_xlsx(session: Session, bank: Bank) -> bytes:
    """Return the bank as a workbook in the import layout."""
    questions = bank_questions(session, bank)
    title = bank.code[:31]
    return write_xlsx([Sheet(title, LAYOUT_HEADERS, _layout_rows(questions), _WIDTHS)])


def export_csv(session: Session, bank: Bank, encoding: str = "utf-8") -> bytes:
    """Return the bank as CSV in the import layout, UTF-8 with a BOM or GB18030."""
    return write_csv(LAYOUT_HEADERS, _layout_rows(bank_questions(session, bank)), encoding)


def export_json(session: Session, bank: Bank) -> bytes:
    """Return the bank and every active question's current version as JSON."""
    document = {
        "bank": {
            "code": bank.code,
            "name": bank.name,
            "industry": bank.industry,
            "category": bank.category,
            "job_type": bank.job_type,
        },
        "questions": [q.as_dict() for q in bank_questions(session, bank)],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def export_bank(session: Session, bank: Bank, fmt: str, encoding: str = "utf-8") -> bytes:
    """Return the bank exported in ``fmt`` (xlsx, csv, json or qti)."""
    if fmt == "xlsx":
        return export_xlsx(session, bank)
    if fmt == "csv":
        return export_csv(session, bank, encoding)
    if fmt == "json":
        return export_json(session, bank)
    if fmt == "qti":
        from examserver.question_bank.qti import export_qti

        return export_qti(session, bank)
    raise ValueError(f"unknown export format {fmt!r}")


EXPORT_MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "json": "application/json",
    "qti": "application/zip",
}
EXPORT_SUFFIXES = {"xlsx": ".xlsx", "csv": ".csv", "json": ".json", "qti": ".zip"}


# ------------------------------------------------------------------------------ template
TEMPLATE_ROWS: tuple[tuple[Any, ...], ...] = (
    ("判断", "生产经营单位的主要负责人对本单位的安全生产工作全面负责。", *[""] * 8,
     "对", "法律法规/安全生产法", 1, "《安全生产法》规定主要负责人是本单位安全生产第一责任人。"),
    ("单选", "我国安全生产工作的方针是（　）。", "安全第一、预防为主、综合治理",
     "安全为了生产，生产必须安全", "管生产必须管安全", "以人为本、安全发展", *[""] * 4,
     "A", "法律法规/安全生产法", 2, ""),
    ("多选", "动火作业前，现场应做到（　）。", "清除周围可燃物", "配备灭火器材",
     "办理动火作业许可", "一人作业无需监护", *[""] * 4,
     "ABC", "焊接与热切割/动火作业", 3, "动火作业必须有专人监护。"),
)  # fmt: skip

# The layout explained, in Chinese: the layout itself is the one Chinese exam centres use.
TEMPLATE_HELP: tuple[tuple[str, str, str], ...] = (
    ("题型", "必填", "判断、单选或多选（也可写判断题/单选题/多选题，或 judge/single/multi）。"),
    ("题干", "必填", "题目内容。纯文本原样导入；也可写简单 HTML（加粗、表格等）。"),
    ("选项A … 选项H", "单选、多选必填",
     "从选项A起依次填写，中间不能空列；单选至少 2 个，多选至少 3 个。判断题不填选项。"),
    ("答案", "必填",
     "单选写一个字母，如 A；多选写多个字母，如 ABD（也可写 A,B,D 或 A、B、D）。"
     "判断题写 对/错、正确/错误、√/×、T/F 或 A/B（A=正确，B=错误）。"),
    ("知识点", "选填", "用“/”分隔的层级路径，如 法律法规/安全生产法；不存在的知识点会自动创建。"),
    ("难度", "选填", "1 到 5 的整数，空白按 3 处理。"),
    ("解析", "选填", "答案解析，考后复习时显示。"),
    ("说明", "",
     "只读取第一个工作表；第一行为表头；空行会被跳过。"
     "同一题库中已有相同题干（忽略标点、空格）的在用试题会被判为重复。"),
)  # fmt: skip


def template_xlsx() -> bytes:
    """Return the import template workbook: the layout with examples, and a help sheet."""
    return write_xlsx(
        [
            Sheet("试题", LAYOUT_HEADERS, TEMPLATE_ROWS, _WIDTHS),
            Sheet("填写说明", ("列", "是否必填", "说明"), TEMPLATE_HELP, (16, 16, 90)),
        ]
    )


def template_csv(encoding: str = "utf-8") -> bytes:
    """Return the import template as CSV: the header and one example row per type."""
    return write_csv(LAYOUT_HEADERS, TEMPLATE_ROWS, encoding)
