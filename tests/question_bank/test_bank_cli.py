"""``examserver bank import|export|template``: reports, exit codes, files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from openpyxl import load_workbook

from tests.question_bank.import_helpers import (
    bank_snapshot,
    csv_bytes,
    question_count,
    row,
    xlsx_bytes,
)

FOUR = ("甲", "乙", "丙", "丁")
GOOD = [row("单选", "好题一", FOUR, "A", "法规/安全生产法"), row("判断", "好题二", answer="对")]
MIXED = [*GOOD, row("单选", "坏题", FOUR, "Z"), row("多选", "", FOUR, "AB")]


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_import_creates_the_bank_and_exits_0(app: Flask, runner: FlaskCliRunner, tmp_path: Path):
    path = write(tmp_path, "good.xlsx", xlsx_bytes(GOOD))

    result = runner.invoke(args=["bank", "import", path, "--bank", "WELD", "--name", "焊接"])

    assert result.exit_code == 0, result.output
    assert "imported 2 questions into bank WELD (new bank)" in result.output
    assert question_count(app, "WELD") == 2


def test_rejected_rows_exit_1_and_are_listed_with_row_and_column(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
):
    path = write(tmp_path, "mixed.xlsx", xlsx_bytes(MIXED))

    result = runner.invoke(args=["bank", "import", path, "--bank", "WELD"])

    assert result.exit_code == 1
    assert "row 4, column 答案 (K): bad_answer" in result.output
    assert "row 5, column 题干 (B): empty_stem" in result.output
    assert "nothing was imported" in result.output
    assert question_count(app) == 0


def test_valid_only_imports_the_rest_and_still_exits_1(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
):
    path = write(tmp_path, "mixed.csv", csv_bytes(MIXED, encoding="gb18030"))

    result = runner.invoke(args=["bank", "import", path, "--bank", "WELD", "--valid-only"])

    assert result.exit_code == 1
    assert "imported 2 questions" in result.output
    assert question_count(app, "WELD") == 2


def test_dry_run_prints_every_row_and_writes_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
):
    path = write(tmp_path, "good.xlsx", xlsx_bytes(GOOD))

    result = runner.invoke(args=["bank", "import", path, "--bank", "WELD", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "ok  row 2: single | 好题一 | A | 法规/安全生产法" in result.output
    assert "ok  row 3: judge | 好题二 | 正确 |" in result.output
    assert "dry run: nothing was written" in result.output
    assert question_count(app) == 0


def test_json_report(runner: FlaskCliRunner, tmp_path: Path):
    path = write(tmp_path, "mixed.xlsx", xlsx_bytes(MIXED))

    result = runner.invoke(args=["bank", "import", path, "--bank", "W", "--dry-run", "--json"])

    report = json.loads(result.output)
    assert result.exit_code == 1
    assert (report["rows"], report["valid"], report["rejected"]) == (4, 2, 2)
    assert report["row_reports"][2]["issues"][0]["code"] == "bad_answer"


def test_a_file_that_is_not_a_spreadsheet_exits_1(runner: FlaskCliRunner, tmp_path: Path):
    path = write(tmp_path, "photo.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(200))

    result = runner.invoke(args=["bank", "import", path, "--bank", "W"])

    assert result.exit_code == 1
    assert "not_a_spreadsheet" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["bank", "import", "{file}"],  # no --bank
        ["bank", "import", "{missing}", "--bank", "W"],
        ["bank", "import", "{file}", "--bank", "W", "--format", "docx"],
        ["bank", "import", "{file}", "--bank", "bad code"],
        ["bank", "export", "--bank", "W", "--format", "pdf", "-o", "{out}"],
        ["bank", "export", "--bank", "W", "--format", "json"],  # no -o
    ],
)
def test_usage_errors_exit_2(runner: FlaskCliRunner, tmp_path: Path, args: list[str]):
    path = write(tmp_path, "good.xlsx", xlsx_bytes(GOOD))
    values = {"file": path, "missing": str(tmp_path / "nope.xlsx"), "out": str(tmp_path / "o")}

    result = runner.invoke(args=[a.format(**values) for a in args])

    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "qti"])
def test_export_then_import_round_trips(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, fmt: str
):
    path = write(tmp_path, "good.xlsx", xlsx_bytes(GOOD))
    assert runner.invoke(args=["bank", "import", path, "--bank", "SRC"]).exit_code == 0
    out = tmp_path / f"export.{fmt}"

    exported = runner.invoke(args=["bank", "export", "--bank", "SRC", "--format", fmt,
                                   "-o", str(out)])  # fmt: skip
    again = runner.invoke(args=["bank", "import", str(out), "--bank", "DST"])

    assert exported.exit_code == 0, exported.output
    assert again.exit_code == 0, again.output
    assert bank_snapshot(app, "DST") == bank_snapshot(app, "SRC")


def test_export_csv_in_gb18030(runner: FlaskCliRunner, tmp_path: Path):
    path = write(tmp_path, "good.xlsx", xlsx_bytes(GOOD))
    runner.invoke(args=["bank", "import", path, "--bank", "SRC"])
    out = tmp_path / "gb.csv"

    result = runner.invoke(
        args=["bank", "export", "--bank", "SRC", "--format", "csv", "-o", str(out),
              "--encoding", "gb18030"]
    )  # fmt: skip

    assert result.exit_code == 0
    assert "好题一" in out.read_bytes().decode("gb18030")


def test_export_of_an_unknown_bank_fails(runner: FlaskCliRunner, tmp_path: Path):
    result = runner.invoke(
        args=["bank", "export", "--bank", "NOPE", "--format", "json", "-o", str(tmp_path / "x")]
    )

    assert result.exit_code == 1
    assert "bank_not_found" in result.output
    assert not (tmp_path / "x").exists()


def test_template(runner: FlaskCliRunner, tmp_path: Path):
    xlsx, csv = tmp_path / "t.xlsx", tmp_path / "t.csv"

    assert runner.invoke(args=["bank", "template", "-o", str(xlsx)]).exit_code == 0
    assert runner.invoke(args=["bank", "template", "-o", str(csv)]).exit_code == 0

    assert len(load_workbook(io.BytesIO(xlsx.read_bytes())).worksheets) == 2
    assert csv.read_bytes().decode("utf-8-sig").startswith("题型,题干,选项A")
