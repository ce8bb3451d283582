"""Admin pages to import and export question banks: upload, dry-run report, confirm, download."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from examserver.auth.access import BANK_EDITORS, roles_required
from examserver.db import utcnow
from examserver.errors import AppError
from examserver.extensions import db
from examserver.question_bank.exporting import (
    EXPORT_FORMATS,
    EXPORT_MIMETYPES,
    EXPORT_SUFFIXES,
    export_bank,
    template_csv,
    template_xlsx,
)
from examserver.question_bank.importing import (
    FORMATS,
    ImportReport,
    ImportRequestError,
    check_bank_code,
    import_file,
)
from examserver.question_bank.models import Bank
from examserver.question_bank.operations import get_bank

bp = Blueprint("transfer", __name__, url_prefix="/admin")
log = logging.getLogger("examserver.import")

PENDING_TTL = dt.timedelta(hours=2)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt", ".json", ".zip", ".xml")


@dataclass
class PendingUpload:
    """An uploaded file kept between the dry run and the confirmation, under a random token."""

    token: str
    data: bytes
    filename: str
    format: str
    bank_code: str
    bank_name: str
    user_id: int


def _pending_dir() -> Path:
    configured = current_app.config.get("IMPORT_UPLOAD_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def save_pending(upload: PendingUpload) -> None:
    """Keep an upload under its token; drop expired ones on the way."""
    folder = _pending_dir()
    limit = (utcnow() - PENDING_TTL).timestamp()
    for old in folder.glob("*"):
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except OSError:  # another worker removed it first
            pass
    meta = {
        "filename": upload.filename,
        "format": upload.format,
        "bank_code": upload.bank_code,
        "bank_name": upload.bank_name,
        "user_id": upload.user_id,
    }
    _write_private(folder / f"{upload.token}.upload", upload.data)
    _write_private(folder / f"{upload.token}.json", json.dumps(meta).encode("utf-8"))


def load_pending(token: str, user_id: int) -> PendingUpload:
    """Return the upload kept under ``token`` for this user, or refuse (unknown, expired)."""
    refused = AppError(
        "import_expired",
        _("This import is unknown or has expired. Upload the file again."),
        400,
    )
    if not _TOKEN.match(token or ""):
        raise refused
    folder = _pending_dir()
    data_path, meta_path = folder / f"{token}.upload", folder / f"{token}.json"
    try:
        if meta_path.stat().st_mtime < (utcnow() - PENDING_TTL).timestamp():
            drop_pending(token)
            raise refused
        meta = json.loads(meta_path.read_text("utf-8"))
        data = data_path.read_bytes()
    except (OSError, ValueError):
        raise refused from None
    if meta.get("user_id") != user_id:
        raise refused
    return PendingUpload(
        token=token,
        data=data,
        filename=str(meta["filename"]),
        format=str(meta["format"]),
        bank_code=str(meta["bank_code"]),
        bank_name=str(meta["bank_name"]),
        user_id=user_id,
    )


def drop_pending(token: str) -> None:
    folder = _pending_dir()
    for suffix in (".upload", ".json"):
        (folder / f"{token}{suffix}").unlink(missing_ok=True)


def _max_rows() -> int:
    return int(current_app.config["EXAMSERVER"]["IMPORT_MAX_ROWS"])


def _media_max_bytes() -> int:
    return int(current_app.config["EXAMSERVER"]["MEDIA_MAX_KB"]) * 1024


def _banks() -> list[Bank]:
    return list(db.session.scalars(select(Bank).order_by(Bank.code)))


def _form_page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "bank/import.html",
        banks=_banks(),
        formats=FORMATS,
        export_formats=EXPORT_FORMATS,
        form=request.form,
        error=error,
    ), status


def _report_page(
    report: ImportReport, token: str, bank_name: str, status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "bank/import_report.html",
        report=report,
        token=token,
        bank=get_bank(db.session(), report.bank_code),
        bank_name=bank_name,
    ), status


# ------------------------------------------------------------------------------ import
@bp.get("/import")
@roles_required(*BANK_EDITORS)
def import_page() -> ResponseReturnValue:
    return _form_page()


@bp.post("/import")
@roles_required(*BANK_EDITORS)
def import_check() -> ResponseReturnValue:
    """Dry-run an uploaded file and show the report, keeping the file for confirmation."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form_page(_("Choose a file to import."), 400)
    filename = os.path.basename(upload.filename.replace("\\", "/"))[:200]
    fmt = request.form.get("format", "auto")
    if fmt not in FORMATS:
        return _form_page(_("Unknown file format."), 400)
    if fmt == "auto" and not filename.lower().endswith(_SUFFIXES):
        return _form_page(_("Upload an .xlsx, .csv, .json, or a QTI .zip or .xml file."), 400)
    choice = request.form.get("bank", "").strip()
    new_code = request.form.get("new_code", "").strip()
    bank_name = request.form.get("new_name", "").strip()[:200]
    try:
        if choice and choice != "__new__":
            bank_code = check_bank_code(choice)
            if get_bank(db.session(), bank_code) is None:
                return _form_page(_("That bank does not exist."), 400)
            bank_name = ""
        else:
            bank_code = check_bank_code(new_code)
            if get_bank(db.session(), bank_code) is not None:
                return _form_page(
                    _(
                        "A bank with code %(code)s exists already: choose it in the list.",
                        code=bank_code,
                    ),
                    400,
                )
    except ImportRequestError as exc:
        return _form_page(exc.message, 400)
    data = upload.read()
    report = import_file(
        db.session(),
        data,
        filename,
        bank_code,
        bank_name=bank_name,
        fmt=fmt,
        dry_run=True,
        valid_only=request.form.get("valid_only") == "1",
        max_rows=_max_rows(),
        media_max_bytes=_media_max_bytes(),
    )
    db.session.rollback()
    token = ""
    if not report.file_errors and report.valid_rows:
        token = secrets.token_urlsafe(32)
        save_pending(
            PendingUpload(token, data, filename, fmt, bank_code, bank_name, current_user.id)
        )
    log.info(
        "import dry run by %s: %s into %s, %d rows, %d valid",
        current_user.username,
        filename,
        bank_code,
        len(report.rows),
        len(report.valid_rows),
    )
    return _report_page(report, token, bank_name, 200 if token else 422)


@bp.post("/import/confirm")
@roles_required(*BANK_EDITORS)
def import_confirm() -> ResponseReturnValue:
    """Import a file kept by a dry run; all or nothing unless the valid rows only are asked."""
    pending = load_pending(request.form.get("token", ""), current_user.id)
    valid_only = request.form.get("valid_only") == "1"
    report = import_file(
        db.session(),
        pending.data,
        pending.filename,
        pending.bank_code,
        bank_name=pending.bank_name,
        fmt=pending.format,
        valid_only=valid_only,
        user_id=current_user.id,
        max_rows=_max_rows(),
        media_max_bytes=_media_max_bytes(),
    )
    if not report.imported:
        db.session.rollback()
        flash(_("Nothing was imported: the file has errors (see below)."), "error")
        return _report_page(report, pending.token, pending.bank_name, 422)
    db.session.commit()
    drop_pending(pending.token)
    log.info(
        "import by %s: %d questions from %s into %s",
        current_user.username,
        report.imported,
        pending.filename,
        pending.bank_code,
    )
    skipped = len(report.rejected_rows)
    message = _(
        "Imported %(count)d questions into bank %(code)s.",
        count=report.imported,
        code=pending.bank_code,
    )
    if skipped:
        message += " " + _("%(count)d rows with errors were skipped.", count=skipped)
    flash(message, "success")
    bank = get_bank(db.session(), pending.bank_code)
    return redirect(url_for("bank.questions", bank=bank.id if bank else None))


@bp.get("/import/template.<any(xlsx, csv):fmt>")
@roles_required(*BANK_EDITORS)
def import_template(fmt: str) -> ResponseReturnValue:
    """Download the import template (xlsx with a help sheet, or csv)."""
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in ("utf-8", "gb18030"):
        raise AppError("bad_encoding", _("Unknown encoding."), 400)
    data = template_xlsx() if fmt == "xlsx" else template_csv(encoding)
    return _download(data, fmt, "题库导入模板" + EXPORT_SUFFIXES[fmt], encoding)


# ------------------------------------------------------------------------------ export
@bp.get("/export")
@roles_required(*BANK_EDITORS)
def export() -> ResponseReturnValue:
    """Download a bank's active questions as xlsx, csv, json or a QTI 2.1 package."""
    code = request.args.get("bank", "").strip()
    fmt = request.args.get("format", "xlsx")
    encoding = request.args.get("encoding", "utf-8")
    if fmt not in EXPORT_FORMATS:
        raise AppError("bad_format", _("Unknown export format."), 400)
    if encoding not in ("utf-8", "gb18030"):
        raise AppError("bad_encoding", _("Unknown encoding."), 400)
    bank = get_bank(db.session(), code) if code else None
    if bank is None:
        raise AppError("bank_not_found", _("There is no such bank."), 404)
    data = export_bank(db.session(), bank, fmt, encoding)
    stamp = utcnow().strftime("%Y%m%d")
    log.info("export by %s: bank %s as %s", current_user.username, bank.code, fmt)
    return _download(data, fmt, f"{bank.code}-{stamp}{EXPORT_SUFFIXES[fmt]}", encoding)


def _download(data: bytes, fmt: str, filename: str, encoding: str = "utf-8") -> Response:
    from urllib.parse import quote

    mimetype = EXPORT_MIMETYPES[fmt]
    if fmt == "csv":
        mimetype += "; charset=" + ("gb18030" if encoding == "gb18030" else "utf-8")
    response = Response(data, mimetype=mimetype)
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
