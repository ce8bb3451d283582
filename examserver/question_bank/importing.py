"""Import questions into a bank: parse a file into rows, check every row, then write them all.

Three steps, each usable alone: ``parse_file`` turns a spreadsheet, JSON or QTI file into
``ImportRow``s (with what was wrong while reading), ``check_rows`` validates each row through the
question-type registry and against the bank, and ``write_rows`` adds the accepted rows in bulk.
``import_file`` runs the three. Nothing here commits: the caller owns the transaction, so a
failure leaves the bank as it was.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from examserver.db import utcnow
from examserver.question_bank.models import (
    Bank,
    Media,
    Question,
    QuestionStatus,
    QuestionVersion,
    Topic,
)
from examserver.question_bank.operations import (
    TOPIC_SEPARATOR,
    check_content,
    existing_stem_keys,
    get_bank,
    get_or_create_bank,
)
from examserver.question_bank.richtext import (
    normalized_stem_key,
    plain_text,
    rich_text_from_cell,
)
from examserver.question_bank.tabular import (
    HEADER_SEARCH_ROWS,
    Table,
    TableError,
    column_letter,
    read_csv,
    read_xlsx,
    sniff_format,
)
from examserver.question_bank.types import (
    LETTERS,
    InvalidQuestion,
    Problem,
    QuestionContent,
    QuestionType,
    get_type,
    type_names,
)

FORMATS = ("auto", "xlsx", "csv", "json", "qti")
DEFAULT_DIFFICULTY = 3
DEFAULT_MAX_ROWS = 20000
DEFAULT_MEDIA_MAX_BYTES = 2048 * 1024
BATCH = 1000
TOPIC_NAME_MAX = 200
BANK_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # as the bank form has it
TOPIC_MAX_DEPTH = 12


# ------------------------------------------------------------------------------ the layout
@dataclass(frozen=True)
class Column:
    """A column of the import layout: the field it fills, its header and accepted aliases."""

    field: str
    header: str
    aliases: tuple[str, ...]
    required: bool = False


def _option_column(i: int) -> Column:
    letter = LETTERS[i]
    return Column(
        f"option {letter}",
        f"选项{letter}",
        (f"选项{letter}", f"option{letter}", f"options{letter}", letter, f"{letter}选项"),
    )


COLUMNS: tuple[Column, ...] = (
    Column("type", "题型", ("题型", "题目类型", "试题类型", "类型", "type", "questiontype"), True),
    Column(
        "stem", "题干", ("题干", "题目", "试题", "题目内容", "试题内容", "stem", "question"), True
    ),
    *(_option_column(i) for i in range(len(LETTERS))),
    Column(
        "answer",
        "答案",
        ("答案", "正确答案", "标准答案", "参考答案", "answer", "correctanswer"),
        True,
    ),
    Column("topic", "知识点", ("知识点", "知识点路径", "章节", "topic", "knowledgepoint")),
    Column("difficulty", "难度", ("难度", "难易度", "难易程度", "difficulty")),
    Column("explanation", "解析", ("解析", "答案解析", "试题解析", "explanation", "analysis")),
)
LAYOUT_HEADERS: tuple[str, ...] = tuple(c.header for c in COLUMNS)
OPTION_FIELDS: tuple[str, ...] = tuple(f"option {letter}" for letter in LETTERS)

# Chinese names of the built-in types; a new type may add its own with an ``aliases`` attribute.
TYPE_LABELS = {"judge": "判断", "single": "单选", "multi": "多选"}
_TYPE_ALIASES = {
    "judge": ("判断", "判断题", "是非", "是非题", "judge", "truefalse", "tf"),
    "single": ("单选", "单选题", "单项选择", "单项选择题", "single", "singlechoice"),
    "multi": (
        "多选", "多选题", "多项选择", "多项选择题", "multi", "multiple", "multiplechoice",
        "multipleresponse",
    ),
}  # fmt: skip
# How a true/false answer is written: first word list means the first option (正确), the other
# the second (错误); "A"/"B" follow the same positions.
_TRUE_WORDS = {"对", "正确", "√", "✓", "✔", "t", "true", "a", "是", "y", "yes", "1"}
_FALSE_WORDS = {"错", "错误", "×", "✗", "✘", "x", "f", "false", "b", "否", "n", "no", "0"}
_ANSWER_SEPARATORS = re.compile(r"[\s,，、;；/|]+")


def _key(text: str) -> str:
    """Fold a header or type name for tolerant matching."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = re.sub(r"[(（\[【].*?[)）\]】]\s*$", "", text.strip())
    return re.sub(r"[\s_\-*:：]", "", text)


_HEADER_LOOKUP = {_key(alias): c for c in COLUMNS for alias in (c.header, *c.aliases)}


def type_lookup() -> dict[str, str]:
    """Return folded type names (Chinese, English, registry names) -> registry name."""
    lookup: dict[str, str] = {}
    for name in type_names():
        qtype = get_type(name)
        for alias in (name, *_TYPE_ALIASES.get(name, ()), *getattr(qtype, "aliases", ())):
            lookup[_key(alias)] = name
    return lookup


def type_label(name: str) -> str:
    """Return how a type is written in the spreadsheet layout: 判断, 单选, 多选."""
    qtype = QuestionType.registry.get(name)
    labels = getattr(qtype, "aliases", ()) if qtype is not None else ()
    return TYPE_LABELS.get(name) or (labels[0] if labels else name)


# ------------------------------------------------------------------------------ the report
@dataclass
class Issue:
    """An error or warning: where (row, column name and letter) and a stable code."""

    code: str
    message: str
    row: int | None = None
    column: str = ""
    letter: str = ""
    severity: str = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "letter": self.letter,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass
class MediaFile:
    """An image that came with an imported question (a QTI package), not yet stored."""

    data: bytes
    mime: str
    filename: str


@dataclass
class ImportRow:
    """One question as read from a file, then as checked."""

    row: int
    type: str  # registry name, "" when unknown
    stem: str
    options: list[dict[str, str]] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    topic: str = ""
    difficulty: int = DEFAULT_DIFFICULTY
    explanation: str = ""
    where: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (column, letter)
    issues: list[Issue] = field(default_factory=list)
    media: dict[str, MediaFile] = field(default_factory=dict)  # placeholder src -> image
    content: QuestionContent | None = None  # set when the row is valid
    stem_key: str = ""

    @property
    def ok(self) -> bool:
        return self.content is not None and not any(i.is_error for i in self.issues)

    def add(self, field_name: str, code: str, message: str, severity: str = "error") -> None:
        column, letter = self.where.get(field_name, ("", ""))
        self.issues.append(Issue(code, message, self.row, column, letter, severity))

    def has_error_on(self, field_name: str) -> bool:
        column = self.where.get(field_name, ("", ""))[0]
        return any(i.is_error and i.column == column for i in self.issues if column)

    @property
    def stem_preview(self) -> str:
        text = plain_text(self.content.stem if self.content else self.stem)
        return text if len(text) <= 60 else text[:59] + "…"

    @property
    def answer_display(self) -> str:
        options = self.content.options if self.content else self.options
        answer = self.content.answer if self.content else self.answer
        keys = [o["key"] for o in options]
        qtype = QuestionType.registry.get(self.type)
        if qtype is not None and qtype.default_options():
            texts = {o["key"]: plain_text(o["text"]) for o in options}
            return "、".join(texts.get(k, k) for k in answer)
        return "".join(LETTERS[keys.index(k)] if k in keys else "?" for k in answer)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "ok": self.ok,
            "type": self.type,
            "stem": self.stem_preview,
            "answer": self.answer_display,
            "topic": self.topic,
            "difficulty": self.difficulty,
            "issues": [i.as_dict() for i in self.issues],
        }


@dataclass
class ParsedFile:
    """What reading a file gave: its format, rows, file-level issues, bank details if any."""

    format: str
    rows: list[ImportRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    bank: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportReport:
    """The outcome of an import or a dry run, row by row."""

    filename: str
    format: str
    bank_code: str
    issues: list[Issue] = field(default_factory=list)  # about the whole file
    rows: list[ImportRow] = field(default_factory=list)
    bank_details: dict[str, str] = field(default_factory=dict)
    dry_run: bool = True
    valid_only: bool = False
    imported: int = 0
    bank_created: bool = False

    @property
    def file_errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def valid_rows(self) -> list[ImportRow]:
        return [r for r in self.rows if r.ok]

    @property
    def rejected_rows(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def all_issues(self) -> list[Issue]:
        return list(self.issues) + [i for r in self.rows for i in r.issues]

    @property
    def error_count(self) -> int:
        return sum(1 for i in self.all_issues if i.is_error)

    @property
    def warning_count(self) -> int:
        return sum(1 for i in self.all_issues if not i.is_error)

    @property
    def clean(self) -> bool:
        """Every row is valid and the file has no error."""
        return not self.file_errors and bool(self.rows) and not self.rejected_rows

    def acceptable(self, valid_only: bool) -> bool:
        """Whether an import would write: all valid, or valid rows only and there are some."""
        if self.file_errors or not self.valid_rows:
            return False
        return valid_only or not self.rejected_rows

    @property
    def rejected(self) -> bool:
        """Some row or the file was refused (the CLI's exit status 1)."""
        return bool(self.file_errors) or bool(self.rejected_rows) or not self.rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "format": self.format,
            "bank": self.bank_code,
            "dry_run": self.dry_run,
            "valid_only": self.valid_only,
            "rows": len(self.rows),
            "valid": len(self.valid_rows),
            "rejected": len(self.rejected_rows),
            "imported": self.imported,
            "bank_created": self.bank_created,
            "issues": [i.as_dict() for i in self.issues],
            "row_reports": [r.as_dict() for r in self.rows],
        }


class ImportRequestError(ValueError):
    """A refused import request (not a bad row): bad bank code, unknown format."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------------------ reading
def parse_file(
    data: bytes,
    filename: str,
    fmt: str = "auto",
    max_rows: int = DEFAULT_MAX_ROWS,
    media_max_bytes: int = DEFAULT_MEDIA_MAX_BYTES,
) -> ParsedFile:
    """Read an upload of any supported format into rows; never raises on a bad file."""
    if fmt not in FORMATS:
        raise ImportRequestError(
            "bad_format",
            _(
                "Unknown format %(format)s; use one of %(formats)s.",
                format=fmt,
                formats=", ".join(FORMATS),
            ),
        )
    if fmt == "auto":
        fmt = sniff_format(data, filename)
    if not data:
        return ParsedFile(fmt, issues=[Issue("empty_file", _("The file is empty."))])
    try:
        if fmt in ("xlsx", "csv"):
            reader = read_xlsx if fmt == "xlsx" else read_csv
            return parse_table(reader(data, max_rows + HEADER_SEARCH_ROWS + 1), fmt, max_rows)
        if fmt == "json":
            return parse_json(data, max_rows)
        from examserver.question_bank.qti import parse_qti

        return parse_qti(data, filename, max_rows, media_max_bytes)
    except TableError as exc:
        return ParsedFile(fmt, issues=[Issue(exc.code, exc.message)])


def _find_header(table: Table) -> int:
    """Return the index in ``table.rows`` of the header: the first row naming two columns."""
    for index, (_number, cells) in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        if sum(1 for c in cells if _key(c) in _HEADER_LOOKUP) >= 2:
            return index
    return 0


def parse_table(table: Table, fmt: str, max_rows: int = DEFAULT_MAX_ROWS) -> ParsedFile:
    """Turn the rows of a sheet in the exam-centre layout into import rows."""
    parsed = ParsedFile(fmt)
    if not table.rows:
        parsed.issues.append(Issue("empty_file", _("The file has no rows.")))
        return parsed
    header_at = _find_header(table)
    header_row, header = table.rows[header_at]
    columns: dict[str, int] = {}
    where: dict[str, tuple[str, str]] = {}
    for index, title in enumerate(header):
        if not title.strip():
            continue
        letter = column_letter(index)
        column = _HEADER_LOOKUP.get(_key(title))
        if column is None:
            parsed.issues.append(
                Issue(
                    "unknown_column",
                    _("Column %(name)s is not part of the layout and is ignored.",
                      name=title.strip()),
                    header_row, title.strip(), letter, "warning",
                )
            )  # fmt: skip
            continue
        if column.field in columns:
            parsed.issues.append(
                Issue(
                    "duplicate_column",
                    _("Column %(name)s appears twice.", name=title.strip()),
                    header_row, title.strip(), letter,
                )
            )  # fmt: skip
            continue
        columns[column.field] = index
        where[column.field] = (title.strip(), letter)
    if "option A" in where:
        where["options"] = where["option A"]
    for column in COLUMNS:
        if column.required and column.field not in columns:
            parsed.issues.append(
                Issue(
                    "missing_column",
                    _("The required column %(name)s is missing.", name=column.header),
                    header_row, column.header,
                )
            )  # fmt: skip
    data_rows = table.rows[header_at + 1 :]
    if table.truncated or len(data_rows) > max_rows:
        parsed.issues.append(
            Issue(
                "too_many_rows",
                _(
                    "The file has more than %(max)d questions; split it into smaller files.",
                    max=max_rows,
                ),
            )
        )
    if any(i.is_error for i in parsed.issues):
        return parsed
    types = type_lookup()
    for number, cells in data_rows:
        parsed.rows.append(_parse_sheet_row(number, cells, columns, where, types))
    return parsed


def _cell(cells: Sequence[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _parse_sheet_row(
    number: int,
    cells: Sequence[str],
    columns: dict[str, int],
    where: dict[str, tuple[str, str]],
    types: dict[str, str],
) -> ImportRow:
    row = ImportRow(row=number, type="", stem="", where=dict(where))
    type_cell = _cell(cells, columns, "type")
    row.type = types.get(_key(type_cell), "")
    if not type_cell:
        row.add("type", "unknown_type", _("The question type is empty (判断, 单选 or 多选)."))
    elif not row.type:
        row.add(
            "type",
            "unknown_type",
            _("Unknown question type %(type)s; use 判断, 单选 or 多选.", type=type_cell),
        )
    stem_cell = _cell(cells, columns, "stem")
    row.stem = rich_text_from_cell(stem_cell)
    if not stem_cell:
        row.add("stem", "empty_stem", _("The stem is empty."))
    row.topic = _parse_topic(row, _cell(cells, columns, "topic"))
    row.difficulty = _parse_difficulty(row, _cell(cells, columns, "difficulty"))
    row.explanation = rich_text_from_cell(_cell(cells, columns, "explanation"))
    qtype = QuestionType.registry.get(row.type)
    defaults = qtype.default_options() if qtype is not None else []
    answer_cell = _cell(cells, columns, "answer")
    if defaults:
        row.options = defaults
        row.answer = _parse_fixed_answer(row, answer_cell, defaults)
        return row
    texts = [_cell(cells, columns, name) for name in OPTION_FIELDS]
    last = max((i for i, t in enumerate(texts) if t), default=-1)
    for i in range(last):
        if not texts[i]:
            row.add(
                OPTION_FIELDS[i],
                "option_gap",
                _("Option %(letter)s is empty but a later option is filled.", letter=LETTERS[i]),
            )
    # Keys follow the column: 选项A -> o1 ... so a gap never shifts an answer letter.
    row.options = [
        {"key": f"o{i + 1}", "text": rich_text_from_cell(t)} for i, t in enumerate(texts) if t
    ]
    row.answer = _parse_letters(row, answer_cell, [bool(t) for t in texts])
    return row


def _parse_topic(row: ImportRow, cell: str) -> str:
    parts = [p.strip() for p in cell.replace("／", TOPIC_SEPARATOR).split(TOPIC_SEPARATOR)]
    parts = [p for p in parts if p]
    if len(parts) > TOPIC_MAX_DEPTH:
        row.add(
            "topic",
            "bad_topic",
            _("A knowledge point path has at most %(max)d levels.", max=TOPIC_MAX_DEPTH),
        )
        return ""
    for part in parts:
        if len(part) > TOPIC_NAME_MAX:
            row.add(
                "topic",
                "bad_topic",
                _("A knowledge point name is longer than %(max)d characters.", max=TOPIC_NAME_MAX),
            )
            return ""
    return TOPIC_SEPARATOR.join(parts)


def _parse_difficulty(row: ImportRow, cell: str) -> int:
    if not cell:
        return DEFAULT_DIFFICULTY
    text = unicodedata.normalize("NFKC", cell).strip()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or not value.is_integer() or not 1 <= value <= 5:
        row.add(
            "difficulty",
            "bad_difficulty",
            _("Difficulty must be 1 to 5, not %(value)s.", value=cell),
        )
        return DEFAULT_DIFFICULTY
    return int(value)


def _parse_letters(row: ImportRow, cell: str, filled: Sequence[bool]) -> list[str]:
    """Read an answer such as A, ABD, "A,B,D", "A、B、D" into option keys."""
    text = _ANSWER_SEPARATORS.sub("", unicodedata.normalize("NFKC", cell).upper())
    if not text:
        row.add("answer", "bad_answer", _("The answer is empty."))
        return []
    bad = [ch for ch in text if ch not in LETTERS]
    if bad:
        row.add(
            "answer",
            "bad_answer",
            _("The answer %(value)s is not option letters A to H (like A or ABD).", value=cell),
        )
        return []
    keys: list[str] = []
    for ch in dict.fromkeys(text):
        index = LETTERS.index(ch)
        if index >= len(filled) or not filled[index]:
            row.add(
                "answer",
                "answer_not_option",
                _("The answer names option %(letter)s, which is empty.", letter=ch),
            )
            continue
        keys.append(f"o{index + 1}")
    return keys


def _parse_fixed_answer(row: ImportRow, cell: str, options: Sequence[dict[str, str]]) -> list[str]:
    """Read the answer of a type whose options are fixed (判断): 对/错, √/×, T/F, A/B…"""
    token = unicodedata.normalize("NFKC", cell).strip().casefold()
    if not token:
        row.add("answer", "bad_answer", _("The answer is empty."))
        return []
    keys = [o["key"] for o in options]
    by_text = {plain_text(o["text"]).casefold(): o["key"] for o in options}
    by_key = {k.casefold(): k for k in keys}
    if token in by_text:
        return [by_text[token]]
    if len(keys) == 2 and token in _TRUE_WORDS:
        return [keys[0]]
    if len(keys) == 2 and token in _FALSE_WORDS:
        return [keys[1]]
    if token in by_key:
        return [by_key[token]]
    letters = _ANSWER_SEPARATORS.sub("", token.upper())
    if letters and all(ch in LETTERS[: len(keys)] for ch in letters):
        return [keys[LETTERS.index(ch)] for ch in dict.fromkeys(letters)]
    row.add(
        "answer",
        "bad_answer",
        _("The answer %(value)s is not 对/错, 正确/错误, √/×, T/F or A/B.", value=cell),
    )
    return []


# ------------------------------------------------------------------------------ JSON
_JSON_FIELDS = ("type", "stem", "options", "answer", "topic", "difficulty", "explanation")


def parse_json(data: bytes, max_rows: int = DEFAULT_MAX_ROWS) -> ParsedFile:
    """Read the JSON export format: {"bank": {...}, "questions": [...]} or a bare list."""
    parsed = ParsedFile("json")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        parsed.issues.append(Issue("not_json", _("The file is not valid UTF-8 JSON.")))
        return parsed
    if isinstance(document, dict):
        questions = document.get("questions")
        bank = document.get("bank")
        if isinstance(bank, dict):
            parsed.bank = {
                k: str(bank[k])[:200]
                for k in ("name", "industry", "category", "job_type")
                if isinstance(bank.get(k), str | int)
            }
    else:
        questions = document
    if not isinstance(questions, list):
        parsed.issues.append(
            Issue("not_json", _('The JSON holds no "questions" list of question objects.'))
        )
        return parsed
    if len(questions) > max_rows:
        parsed.issues.append(
            Issue(
                "too_many_rows",
                _(
                    "The file has more than %(max)d questions; split it into smaller files.",
                    max=max_rows,
                ),
            )
        )
        return parsed
    types = type_lookup()
    for number, item in enumerate(questions, start=1):
        parsed.rows.append(_parse_json_question(number, item, types))
    return parsed


def _parse_json_question(number: int, item: Any, types: dict[str, str]) -> ImportRow:
    row = ImportRow(row=number, type="", stem="", where={f: (f, "") for f in _JSON_FIELDS})
    for name in OPTION_FIELDS:
        row.where[name] = ("options", "")
    if not isinstance(item, dict):
        row.add("type", "bad_question", _("A question must be a JSON object."))
        return row
    raw_type = item.get("type")
    row.type = types.get(_key(raw_type), "") if isinstance(raw_type, str) else ""
    if not row.type:
        row.add("type", "unknown_type", _("Unknown question type %(type)s.", type=raw_type))
    stem = item.get("stem")
    if not isinstance(stem, str) or not stem.strip():
        row.add("stem", "empty_stem", _("The stem is empty."))
        stem = ""
    row.stem = stem
    explanation = item.get("explanation", "")
    row.explanation = explanation if isinstance(explanation, str) else ""
    topic = item.get("topic", "")
    row.topic = _parse_topic(row, topic if isinstance(topic, str) else "")
    difficulty = item.get("difficulty", DEFAULT_DIFFICULTY)
    if difficulty is None or difficulty == "":
        difficulty = DEFAULT_DIFFICULTY
    row.difficulty = _parse_difficulty(row, str(difficulty))
    qtype = QuestionType.registry.get(row.type)
    if qtype is None:
        return row
    defaults = qtype.default_options()
    answer = item.get("answer")
    if isinstance(answer, str):
        answer = [answer]
    if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
        row.add("answer", "bad_answer", _("The answer must be a list of option keys."))
        answer = []
    if defaults:
        row.options = defaults
        row.answer = [
            k for a in answer for k in _parse_fixed_answer(row, a, defaults)
        ] if answer else []  # fmt: skip
        if not answer and not row.has_error_on("answer"):
            row.add("answer", "bad_answer", _("The answer is empty."))
        return row
    options = item.get("options")
    if not isinstance(options, list) or not all(
        isinstance(o, dict) and isinstance(o.get("text"), str) for o in options
    ):
        row.add("options", "bad_options", _('Options must be a list of {"key", "text"} objects.'))
        return row
    keys = [o.get("key") for o in options]
    row.options, row.answer = rekey_options(
        [str(k or "") for k in keys], [o["text"] for o in options], [str(a) for a in answer]
    )
    return row


def rekey_options(
    keys: Sequence[str], texts: Sequence[str], answer: Sequence[str]
) -> tuple[list[dict[str, str]], list[str]]:
    """Keep examserver keys (o1, o2…); renumber anything else by position, answer alike."""
    keep = all(re.fullmatch(r"o[1-9][0-9]{0,2}", k) for k in keys) and len(set(keys)) == len(keys)
    if keep:
        return [{"key": k, "text": t} for k, t in zip(keys, texts, strict=True)], list(answer)
    new_keys = [f"o{i + 1}" for i in range(len(keys))]
    mapping = dict(zip(keys, new_keys, strict=True))
    options = [{"key": k, "text": t} for k, t in zip(new_keys, texts, strict=True)]
    return options, [mapping.get(a, a) for a in answer]


# ------------------------------------------------------------------------------ checking
_PROBLEM_CODES = {"unknown_option": "answer_not_option"}


def check_rows(session: Session | None, bank: Bank | None, parsed: ParsedFile) -> list[ImportRow]:
    """Validate every row with its type, then against the file and the bank; returns the rows."""
    taken = existing_stem_keys(session, bank.id) if session is not None and bank else set()
    seen: dict[str, int] = {}
    for row in parsed.rows:
        _check_row(row)
        if row.content is None or not row.ok:
            continue
        row.stem_key = normalized_stem_key(row.content.stem)
        if row.stem_key in seen:
            row.add(
                "stem",
                "duplicate_in_file",
                _("The same stem is already in row %(row)d of this file.", row=seen[row.stem_key]),
            )
        elif row.stem_key in taken:
            row.add(
                "stem",
                "duplicate_in_bank",
                _("An active question of the bank already has the same stem."),
            )
        else:
            seen[row.stem_key] = row.row
    for row in parsed.rows:
        row.issues.sort(key=lambda i: (len(i.letter) or 9, i.letter))
    return parsed.rows


def _check_row(row: ImportRow) -> None:
    if not row.type or any(i.code == "option_gap" for i in row.issues):
        return
    content = QuestionContent(
        type=row.type,
        stem=row.stem,
        options=row.options,
        answer=row.answer,
        explanation=row.explanation,
        difficulty=row.difficulty,
    )
    try:
        checked = check_content(content)
    except InvalidQuestion as exc:
        for problem in exc.problems:
            if row.has_error_on(problem.field) or (
                problem.field == "answer" and row.has_error_on("answer")
            ):
                continue
            code = _PROBLEM_CODES.get(problem.code, problem.code)
            row.add(problem.field, code, _problem_message(problem))
        return
    if any(i.is_error for i in row.issues):
        return
    row.content = checked


def _problem_message(problem: Problem) -> str:
    """Translate a type's problem; a type this module does not know keeps its own words."""
    messages = {
        "empty_stem": _("The stem is empty."),
        "unknown_option": _("The answer names an option that does not exist."),
        "too_few_answers": _("Too few correct options for this type."),
        "too_many_answers": _("Too many correct options for this type (单选 has exactly one)."),
        "bad_difficulty": _("Difficulty must be 1 to 5."),
        "bad_key": _("The option key is not valid."),
        "duplicate_key": _("The option key is repeated."),
        "empty_option": _("The option is empty."),
        "too_few_options": _("Too few options for this type (单选 needs 2, 多选 3)."),
        "too_many_options": _("Too many options for this type (at most 8)."),
        "unknown_type": _("Unknown question type."),
    }
    return str(messages.get(problem.code, problem.message))


# ------------------------------------------------------------------------------ writing
def write_rows(
    session: Session, bank: Bank, rows: Sequence[ImportRow], user_id: int | None = None
) -> int:
    """Add the valid ``rows`` to ``bank`` in bulk; flushes, never commits. Returns the count."""
    rows = [r for r in rows if r.ok and r.content is not None]
    topics = _TopicCache(session, bank)
    media_ids = _store_media(session, rows, user_id)
    now = utcnow()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        contents = [_with_media(r.content, media_ids) for r in batch]  # type: ignore[arg-type]
        topic_ids = [topics.ensure(r.topic) for r in batch]
        question_ids = list(
            session.scalars(
                insert(Question).returning(Question.id, sort_by_parameter_order=True),
                [
                    {
                        "bank_id": bank.id,
                        "status": QuestionStatus.active.value,
                        "type": c.type,
                        "topic_id": t,
                        "difficulty": c.difficulty,
                        "stem_text": plain_text(c.stem),
                        "stem_key": normalized_stem_key(c.stem),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c, t in zip(contents, topic_ids, strict=True)
                ],
            )
        )
        version_ids = list(
            session.scalars(
                insert(QuestionVersion).returning(QuestionVersion.id, sort_by_parameter_order=True),
                [
                    {
                        "question_id": q,
                        "version_no": 1,
                        "type": c.type,
                        "stem": c.stem,
                        "options": [dict(o) for o in c.options],
                        "answer": list(c.answer),
                        "explanation": c.explanation,
                        "topic_id": t,
                        "difficulty": c.difficulty,
                        "created_at": now,
                        "created_by_id": user_id,
                    }
                    for q, c, t in zip(question_ids, contents, topic_ids, strict=True)
                ],
            )
        )
        session.execute(
            update(Question),
            [
                {"id": q, "current_version_id": v}
                for q, v in zip(question_ids, version_ids, strict=True)
            ],
        )
    session.flush()
    return len(rows)


class _TopicCache:
    """The bank's knowledge points loaded once; missing nodes of a path are created."""

    def __init__(self, session: Session, bank: Bank) -> None:
        self.session = session
        self.bank = bank
        self.nodes: dict[tuple[int | None, str], int] = {
            (parent_id, name): tid
            for tid, parent_id, name in session.execute(
                select(Topic.id, Topic.parent_id, Topic.name).where(Topic.bank_id == bank.id)
            )
        }
        self.paths: dict[str, int | None] = {"": None}

    def ensure(self, path: str) -> int | None:
        if path in self.paths:
            return self.paths[path]
        parent: int | None = None
        for name in path.split(TOPIC_SEPARATOR):
            node = self.nodes.get((parent, name))
            if node is None:
                topic = Topic(bank_id=self.bank.id, parent_id=parent, name=name)
                self.session.add(topic)
                self.session.flush()
                node = self.nodes[(parent, name)] = topic.id
            parent = node
        self.paths[path] = parent
        return parent


def _store_media(
    session: Session, rows: Sequence[ImportRow], user_id: int | None
) -> dict[str, int]:
    """Store the images that came with the rows (once per content); placeholder -> media id."""
    import hashlib

    wanted = {p: m for r in rows for p, m in r.media.items()}
    if not wanted:
        return {}
    by_hash = {hashlib.sha256(m.data).hexdigest(): m for m in wanted.values()}
    query = select(Media.sha256, Media.id).where(Media.sha256.in_(list(by_hash)))
    known: dict[str, int] = dict(session.execute(query).all())  # a list of (sha256, id) rows
    for digest, media in by_hash.items():
        if digest not in known:
            item = Media(
                sha256=digest,
                mime=media.mime,
                filename=media.filename[:200],
                size=len(media.data),
                data=media.data,
                created_by_id=user_id,
            )
            session.add(item)
            session.flush()
            known[digest] = item.id
    return {p: known[hashlib.sha256(m.data).hexdigest()] for p, m in wanted.items()}


def _with_media(content: QuestionContent, media_ids: dict[str, int]) -> QuestionContent:
    if not media_ids:
        return content

    def swap(text: str) -> str:
        for placeholder, media_id in media_ids.items():
            text = text.replace(f'src="{placeholder}"', f'src="/media/{media_id}"')
        return text

    return QuestionContent(
        type=content.type,
        stem=swap(content.stem),
        options=[{"key": o["key"], "text": swap(o["text"])} for o in content.options],
        answer=list(content.answer),
        explanation=swap(content.explanation),
        difficulty=content.difficulty,
    )


# ------------------------------------------------------------------------------ the whole
def check_bank_code(code: str) -> str:
    """Return a bank code stripped, or raise ImportRequestError if it is not a usable code."""
    code = (code or "").strip()
    if not BANK_CODE.match(code):
        raise ImportRequestError(
            "bad_bank_code",
            _("A bank code is 1 to 64 letters, digits, _ or -."),
        )
    return code


def import_file(
    session: Session,
    data: bytes,
    filename: str,
    bank_code: str,
    *,
    bank_name: str | None = None,
    fmt: str = "auto",
    dry_run: bool = False,
    valid_only: bool = False,
    user_id: int | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    media_max_bytes: int = DEFAULT_MEDIA_MAX_BYTES,
) -> ImportReport:
    """Parse, check and (unless a dry run, and only if acceptable) write; flushes only."""
    bank_code = check_bank_code(bank_code)
    parsed = parse_file(data, filename, fmt, max_rows, media_max_bytes)
    bank = get_bank(session, bank_code)
    check_rows(session, bank, parsed)
    report = ImportReport(
        filename=filename,
        format=parsed.format,
        bank_code=bank_code,
        issues=parsed.issues,
        rows=parsed.rows,
        bank_details=parsed.bank,
        dry_run=dry_run,
        valid_only=valid_only,
    )
    if dry_run or not report.acceptable(valid_only):
        return report
    if bank is None:
        details = dict(parsed.bank)
        name = (bank_name or "").strip() or details.pop("name", "") or bank_code
        details.pop("name", None)
        bank = get_or_create_bank(session, bank_code, name[:200], **details)
        report.bank_created = True
    report.imported = write_rows(session, bank, report.valid_rows, user_id)
    return report
