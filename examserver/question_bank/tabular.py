"""Rows of spreadsheets: read .xlsx (first sheet) and .csv (UTF-8, BOM, GB18030), write both.

Plain Python with no Flask: the importer and exporter build on it. Every failure on a file from
outside is a ``TableError`` with a stable code, never a parser's own exception.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

log = logging.getLogger("examserver.import")

# A zip (xlsx or QTI package) may unpack to at most this much: more is a zip bomb, not a bank.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_ZIP_MEMBERS = 50_000
# Rows above the header (a title line, say) that are tolerated before it.
HEADER_SEARCH_ROWS = 10
# Cells a spreadsheet program would run as a formula; CSV export guards them with a quote.
FORMULA_START = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


class TableError(ValueError):
    """A file that cannot be read as a table, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Table:
    """The non-empty rows of a sheet as text, each with its spreadsheet row number (from 1)."""

    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    truncated: bool = False  # more non-empty rows than were asked for


def column_letter(index: int) -> str:
    """Return the spreadsheet letter of the 0-based column ``index``: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def sniff_format(data: bytes, filename: str = "") -> str:
    """Guess the format of an upload: xlsx, csv, json or qti (a package or an item)."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return _format_from_name(filename) or "xlsx"
        if "xl/workbook.xml" in names or "[Content_Types].xml" in names:
            return "xlsx"
        return "qti"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:1] == b"<":
        return "qti"
    return _format_from_name(filename) or "csv"


def _format_from_name(filename: str) -> str | None:
    name = filename.lower()
    for suffix, fmt in (
        (".xlsx", "xlsx"), (".xlsm", "xlsx"), (".csv", "csv"), (".txt", "csv"),
        (".json", "json"), (".zip", "qti"), (".xml", "qti"),
    ):  # fmt: skip
        if name.endswith(suffix):
            return fmt
    return None


def open_zip(data: bytes) -> zipfile.ZipFile:
    """Open a zip from bytes after checking it would not unpack to something huge."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TableError("not_a_zip", _("The file is not a valid zip archive.")) from exc
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        archive.close()
        raise TableError(
            "unpacked_too_large",
            _("The archive holds too many files (%(count)d).", count=len(infos)),
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_UNPACKED_BYTES:
        archive.close()
        raise TableError(
            "unpacked_too_large",
            _(
                "The archive would unpack to %(size)d MiB, more than the %(limit)d MiB allowed.",
                size=total // (1024 * 1024),
                limit=MAX_UNPACKED_BYTES // (1024 * 1024),
            ),
        )
    return archive


def read_zip_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_UNPACKED_BYTES) -> bytes:
    """Read one member, refusing one that unpacks past ``limit`` whatever its header says."""
    try:
        with archive.open(name) as member:
            content = member.read(limit + 1)
    # zipfile raises NotImplementedError for a compression method it does not support.
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise TableError("not_a_zip", _("%(name)s cannot be unpacked.", name=name)) from exc
    if len(content) > limit:
        raise TableError(
            "unpacked_too_large",
            _("%(name)s unpacks to more than %(limit)d bytes.", name=name, limit=limit),
        )
    return content


def cell_to_text(value: Any) -> str:
    """Return a cell's value as the text a person sees in it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


# ------------------------------------------------------------------------------ reading
def read_xlsx(data: bytes, max_rows: int) -> Table:
    """Read the first sheet of a workbook; stop after ``max_rows`` non-empty rows."""
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise TableError(
            "not_a_spreadsheet",
            _("This is an old Excel 97-2003 (.xls) file: save it as an Excel workbook (.xlsx)."),
        )
    try:
        open_zip(data).close()
    except TableError as exc:
        if exc.code == "not_a_zip":
            raise TableError(
                "not_a_spreadsheet", _("The file is not an Excel workbook (.xlsx).")
            ) from exc
        raise
    import openpyxl

    table = Table()
    try:
        workbook = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
    except Exception as exc:  # noqa: BLE001 - any parser failure on a foreign file is one answer
        log.info("unreadable workbook: %r", exc)
        raise TableError(
            "not_a_spreadsheet", _("The file is not a readable Excel workbook (.xlsx).")
        ) from exc
    try:
        if not workbook.worksheets:
            raise TableError("not_a_spreadsheet", _("The workbook has no sheet."))
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some programs write a wrong size; read what is there
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = [cell_to_text(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            if len(table.rows) >= max_rows:
                table.truncated = True
                break
            table.rows.append((number, cells))
    except TableError:
        raise
    except Exception as exc:  # noqa: BLE001
        log.info("unreadable sheet: %r", exc)
        raise TableError(
            "not_a_spreadsheet", _("The first sheet of the workbook cannot be read.")
        ) from exc
    finally:
        workbook.close()
    return table


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-16 with a BOM, else UTF-8 (BOM or not), else GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise TableError("bad_encoding", _("The file claims to be UTF-16 but is not.")) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise TableError(
            "bad_encoding",
            _("The file is neither UTF-8 nor GB18030 text: save it as CSV (UTF-8) or GB18030."),
        ) from exc


def read_csv(data: bytes, max_rows: int) -> Table:
    """Read a CSV (or tab-separated) file; stop after ``max_rows`` non-empty records."""
    if data.startswith(b"PK\x03\x04") or data[:4] == b"\xd0\xcf\x11\xe0":
        raise TableError(
            "not_a_spreadsheet", _("This is an Excel file, not CSV: choose the xlsx format.")
        )
    text = decode_text(data)
    if _CONTROL.search(text):
        raise TableError("not_a_spreadsheet", _("The file holds binary data, not CSV text."))
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    table = Table()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, record in enumerate(reader, start=1):
            cells = [_unguard(c) for c in record]
            if not any(c.strip() for c in cells):
                continue
            if len(table.rows) >= max_rows:
                table.truncated = True
                break
            table.rows.append((number, cells))
    except csv.Error as exc:
        raise TableError(
            "not_a_spreadsheet",
            _(
                "The CSV cannot be read near line %(line)d: %(error)s",
                line=reader.line_num,
                error=exc,
            ),
        ) from exc
    return table


def _unguard(cell: str) -> str:
    """Undo the quote that CSV export puts before a cell a spreadsheet would run as formula."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def _guard(cell: str) -> str:
    if cell.startswith(FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


# ------------------------------------------------------------------------------ writing
@dataclass
class Sheet:
    """A sheet to write: a title, a header row, data rows and column widths."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] = ()


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """Write sheets to an .xlsx workbook; text is always text, never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for spec in sheets:
        sheet = workbook.create_sheet(spec.title)
        for i, width in enumerate(spec.widths):
            sheet.column_dimensions[get_column_letter(i + 1)].width = width
        header = []
        for title in spec.header:
            cell = WriteOnlyCell(sheet, value=title)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in spec.rows:
            cells = []
            for value in row:
                if isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                    cell.data_type = "s"
                    if "\n" in value:
                        cell.alignment = wrap
                else:
                    cell = WriteOnlyCell(sheet, value=value)
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


CSV_ENCODINGS = {"utf-8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030"}


def write_csv(
    header: Sequence[str], rows: Iterable[Sequence[Any]], encoding: str = "utf-8"
) -> bytes:
    """Write a CSV file: UTF-8 with a BOM (Excel opens it right) or GB18030."""
    try:
        codec = CSV_ENCODINGS[encoding.lower()]
    except KeyError:
        raise TableError(
            "bad_encoding", _("Unsupported encoding %(name)s.", name=encoding)
        ) from None
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_guard(v) if isinstance(v, str) else v for v in row])
    return buffer.getvalue().encode(codec)
