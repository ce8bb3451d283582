"""The admin import and export pages: roles, CSRF, dry run then confirm, downloads."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.conftest import csrf_token
from tests.question_bank.conftest import in_english, tolerate_missing_nav
from tests.question_bank.import_helpers import bank_snapshot, question_count, row, xlsx_bytes

FOUR = ("甲", "乙", "丙", "丁")
GOOD = [row("单选", "好题一", FOUR, "A", "法规/安全生产法"), row("判断", "好题二", answer="对"),
        row("多选", "好题三", FOUR, "ABD")]  # fmt: skip
MIXED = [*GOOD, row("单选", "坏题", FOUR, "Z")]
ROUTES = [
    ("get", "/admin/import"),
    ("post", "/admin/import"),
    ("post", "/admin/import/confirm"),
    ("get", "/admin/import/template.xlsx"),
    ("get", "/admin/import/template.csv"),
    ("get", "/admin/export?bank=B1&format=json"),
]


@pytest.fixture
def uploads(app: Flask, tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    app.config["IMPORT_UPLOAD_DIR"] = str(folder)
    return folder


def upload(
    client: FlaskClient, data: bytes, filename: str = "q.xlsx", **form: str
) -> tuple[int, str]:
    fields = {"csrf_token": csrf_token(client, "/admin/import"), "format": "auto", **form}
    fields.setdefault("bank", "__new__")
    response = client.post(
        "/admin/import",
        data={**fields, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True)


def confirm_form(page: str) -> dict[str, str]:
    """The hidden fields of the report's confirmation form."""
    token = re.search(r'name="token" value="([^"]+)"', page)
    valid_only = re.search(r'name="valid_only" value="([01])"', page)
    assert token, "no confirmation form"
    assert valid_only
    return {"token": token.group(1), "valid_only": valid_only.group(1)}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_is_sent_to_login(client: FlaskClient, method: str, path: str):
    response = getattr(client, method)(path, data={"csrf_token": csrf_token(client, "/login")})

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_proctor_is_forbidden(
    app: Flask, login: Callable[..., FlaskClient], method: str, path: str
):
    tolerate_missing_nav(app)
    client = login("proctor")

    response = getattr(client, method)(path, data={"csrf_token": csrf_token(client, "/login")})

    assert response.status_code == 403


def test_staff_may_use_the_page(app: Flask, login: Callable[..., FlaskClient], uploads: Path):
    tolerate_missing_nav(app)
    client = in_english(login("staff"))

    assert client.get("/admin/import").status_code == 200


def test_upload_without_csrf_token_is_refused(editor: FlaskClient, uploads: Path, app: Flask):
    response = editor.post(
        "/admin/import",
        data={"bank": "__new__", "new_code": "X", "file": (io.BytesIO(xlsx_bytes(GOOD)), "q.xlsx")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 400
    assert "csrf_failed" in response.get_data(as_text=True)
    assert not uploads.exists() or not list(uploads.iterdir())


def test_form_lists_banks_templates_and_exports(
    editor: FlaskClient, make_bank: Callable[..., int], uploads: Path
):
    make_bank("WELD", "焊接")

    page = editor.get("/admin/import").get_data(as_text=True)

    assert '<option value="WELD"' in page
    assert "/admin/import/template.xlsx" in page
    assert "/admin/import/template.csv" in page
    assert "/admin/export?bank=WELD&amp;format=qti" in page
    assert 'enctype="multipart/form-data"' in page


def test_dry_run_then_confirm_imports_into_a_new_bank(
    app: Flask, editor: FlaskClient, uploads: Path
):
    status, page = upload(editor, xlsx_bytes(GOOD), new_code="WELD", new_name="焊接作业")

    assert status == 200
    assert "Import 3 questions" in page
    assert page.count('data-row="') == 3
    assert "好题一" in page
    assert question_count(app) == 0  # a dry run
    stored = list(uploads.iterdir())
    assert len(stored) == 2
    assert all(p.stat().st_mode & 0o077 == 0 for p in stored)

    form = confirm_form(page)
    response = editor.post(
        "/admin/import/confirm", data={"csrf_token": csrf_token(editor, "/admin/import"), **form}
    )

    assert response.status_code == 302
    assert "/admin/questions" in response.headers["Location"]
    assert question_count(app, "WELD") == 3
    assert not list(uploads.iterdir())  # the kept file is gone
    from examserver.extensions import db
    from examserver.question_bank.models import Bank

    with app.app_context():
        assert db.session.query(Bank).filter_by(code="WELD").one().name == "焊接作业"
    followed = editor.get(response.headers["Location"]).get_data(as_text=True)
    assert "Imported 3 questions into bank WELD." in followed

    again = editor.post(
        "/admin/import/confirm", data={"csrf_token": csrf_token(editor, "/admin/import"), **form}
    )
    assert again.status_code == 400  # a token works once
    assert question_count(app, "WELD") == 3


def test_a_file_with_errors_shows_them_and_offers_the_valid_rows_only(
    app: Flask, editor: FlaskClient, uploads: Path, make_bank: Callable[..., int]
):
    make_bank("WELD")

    status, page = upload(editor, xlsx_bytes(MIXED), bank="WELD")

    assert status == 200
    assert 'data-issue="bad_answer" data-column="答案" data-letter="K"' in page
    assert "Import only the 3 valid questions" in page
    assert "data-confirm-import" not in page
    form = confirm_form(page)
    assert form["valid_only"] == "1"

    response = editor.post(
        "/admin/import/confirm", data={"csrf_token": csrf_token(editor, "/admin/import"), **form}
    )

    assert response.status_code == 302
    assert question_count(app, "WELD") == 3


def test_confirm_all_or_nothing_refuses_a_file_with_errors(
    app: Flask, editor: FlaskClient, uploads: Path, make_bank: Callable[..., int]
):
    make_bank("WELD")
    _, page = upload(editor, xlsx_bytes(MIXED), bank="WELD")
    form = {**confirm_form(page), "valid_only": "0"}

    response = editor.post(
        "/admin/import/confirm", data={"csrf_token": csrf_token(editor, "/admin/import"), **form}
    )

    assert response.status_code == 422
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert question_count(app) == 0


def test_a_file_that_is_not_a_spreadsheet_gets_a_clear_error(
    app: Flask, editor: FlaskClient, uploads: Path
):
    status, page = upload(editor, os.urandom(4096), "q.xlsx", new_code="X")

    assert status == 422
    assert "not_a_spreadsheet" in page
    assert "data-confirm-import" not in page
    assert not uploads.exists() or not list(uploads.iterdir())


@pytest.mark.parametrize(
    ("form", "filename", "message"),
    [
        ({"new_code": "has space"}, "q.xlsx", "A bank code is"),
        ({"bank": "NOPE"}, "q.xlsx", "That bank does not exist."),
        ({"new_code": "B1"}, "q.xlsx", "exists already"),
        ({"new_code": "X", "format": "pdf"}, "q.xlsx", "Unknown file format."),
        ({"new_code": "X"}, "q.exe", "Upload an .xlsx"),
    ],
)
def test_bad_form_input_is_refused_with_a_message(
    editor: FlaskClient,
    uploads: Path,
    make_bank: Callable[..., int],
    form: dict[str, str],
    filename: str,
    message: str,
):
    make_bank("B1")

    status, page = upload(editor, xlsx_bytes(GOOD), filename, **form)

    assert status == 400
    assert message in page


def test_no_file_is_refused(editor: FlaskClient, uploads: Path):
    response = editor.post(
        "/admin/import",
        data={"csrf_token": csrf_token(editor, "/admin/import"), "new_code": "X"},
    )

    assert response.status_code == 400
    assert "Choose a file to import." in response.get_data(as_text=True)


def test_an_upload_over_the_size_limit_is_refused(app: Flask, editor: FlaskClient, uploads: Path):
    app.config["MAX_CONTENT_LENGTH"] = 50_000

    status, page = upload(editor, os.urandom(60_000), "big.csv", new_code="X")

    assert status == 413
    assert "too_large" in page


@pytest.mark.parametrize("token", ["", "x", "../../etc/passwd", "A" * 43])
def test_unknown_tokens_are_refused(editor: FlaskClient, uploads: Path, token: str):
    response = editor.post(
        "/admin/import/confirm",
        data={"csrf_token": csrf_token(editor, "/admin/import"), "token": token},
    )

    assert response.status_code == 400
    assert "import_expired" in response.get_data(as_text=True)


def test_an_expired_token_is_refused(app: Flask, editor: FlaskClient, uploads: Path):
    _, page = upload(editor, xlsx_bytes(GOOD), new_code="X")
    form = confirm_form(page)
    for path in uploads.iterdir():
        os.utime(path, (0, 0))

    response = editor.post(
        "/admin/import/confirm", data={"csrf_token": csrf_token(editor, "/admin/import"), **form}
    )

    assert response.status_code == 400
    assert question_count(app) == 0


def test_another_users_token_is_refused(
    app: Flask, editor: FlaskClient, uploads: Path, create_user: Callable[..., int]
):
    _, page = upload(editor, xlsx_bytes(GOOD), new_code="X")
    form = confirm_form(page)
    create_user("staff2", "staff", "secret-pass")
    other = app.test_client()
    other.post(
        "/login",
        data={"username": "staff2", "password": "secret-pass", "csrf_token": csrf_token(other)},
    )

    response = other.post(
        "/admin/import/confirm", data={"csrf_token": csrf_token(other, "/admin/import"), **form}
    )

    assert response.status_code == 400
    assert question_count(app) == 0


def test_template_downloads(editor: FlaskClient):
    xlsx = editor.get("/admin/import/template.xlsx")
    csv = editor.get("/admin/import/template.csv")
    gb = editor.get("/admin/import/template.csv?encoding=gb18030")

    assert xlsx.status_code == 200
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in xlsx.headers["Content-Disposition"]
    assert len(load_workbook(io.BytesIO(xlsx.data)).worksheets) == 2
    assert csv.data.decode("utf-8-sig").startswith("题型,题干")
    assert gb.data.decode("gb18030").startswith("题型,题干")
    assert editor.get("/admin/import/template.csv?encoding=latin1").status_code == 400


def test_export_downloads(app: Flask, editor: FlaskClient, make_question: Callable[..., int]):
    make_question(stem="导出的题", bank_code="B1")

    json_response = editor.get("/admin/export?bank=B1&format=json")
    qti = editor.get("/admin/export?bank=B1&format=qti")
    gb = editor.get("/admin/export?bank=B1&format=csv&encoding=gb18030")

    document = json.loads(json_response.data)
    assert [q["stem"] for q in document["questions"]] == ["导出的题"]
    assert "B1-" in json_response.headers["Content-Disposition"]
    assert "imsmanifest.xml" in zipfile.ZipFile(io.BytesIO(qti.data)).namelist()
    assert "导出的题" in gb.data.decode("gb18030")
    assert editor.get("/admin/export?bank=NOPE&format=json").status_code == 404
    assert editor.get("/admin/export?bank=B1&format=pdf").status_code == 400
    assert editor.get("/admin/export?format=json").status_code == 404


def test_export_then_import_through_the_pages(
    app: Flask, editor: FlaskClient, uploads: Path, make_question: Callable[..., int]
):
    make_question(stem="经页面往返的题", bank_code="B1", topic="甲/乙", difficulty=4)
    exported = editor.get("/admin/export?bank=B1&format=xlsx").data

    _, page = upload(editor, exported, "B1.xlsx", new_code="B2")
    editor.post(
        "/admin/import/confirm",
        data={"csrf_token": csrf_token(editor, "/admin/import"), **confirm_form(page)},
    )

    assert bank_snapshot(app, "B2") == bank_snapshot(app, "B1")
