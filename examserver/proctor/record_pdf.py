"""The exam-room record as an A4 PDF, made with reportlab's platypus from the record sheet.

Chinese is set in the built-in STSong-Light CID font, which PDF readers supply, so nothing is
downloaded or embedded. Long tables continue on the next page with their header repeated.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from examserver.proctor.record import RecordSheet, SheetField, SheetTable

FONT = "STSong-Light"
PAGE = A4
MARGIN = 14 * mm
TEXT_WIDTH = PAGE[0] - 2 * MARGIN
SIGNATURE_LINE = "_" * 24
GRID = colors.Color(0.55, 0.55, 0.55)
HEAD_FILL = colors.Color(0.92, 0.93, 0.95)
RED = colors.Color(0.7, 0.1, 0.1)


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=8, leading=10.5, wordWrap="CJK")
    return {
        "cell": base,
        "head": ParagraphStyle("head", parent=base, textColor=colors.black),
        "field": ParagraphStyle("field", parent=base, fontSize=9, leading=12),
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER),
        "issuer": ParagraphStyle(
            "issuer", parent=base, fontSize=10.5, leading=14, alignment=TA_CENTER
        ),
        "notice": ParagraphStyle(
            "notice", parent=base, fontSize=9.5, leading=13, alignment=TA_CENTER, textColor=RED
        ),
        "section": ParagraphStyle(
            "section", parent=base, fontSize=11, leading=15, spaceBefore=8, spaceAfter=4
        ),
        "sign": ParagraphStyle("sign", parent=base, fontSize=10, leading=20),
    }


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(value).replace("\n", "<br/>"), style)


# ---------------------------------------------------------------------- lines (tested)
def header_lines(sheet: RecordSheet) -> list[list[str]]:
    """Return the header fields two to a line: label, value, label, value."""
    return _pairs(sheet.fields)


def attendance_lines(sheet: RecordSheet) -> list[list[str]]:
    """Return the attendance counts two to a line, then each list of names on a line of its own."""
    return _pairs(sheet.attendance) + [[f.label, f.value] for f in sheet.attendance_lists]


def _pairs(fields: list[SheetField]) -> list[list[str]]:
    lines = []
    for i in range(0, len(fields), 2):
        line = [fields[i].label, fields[i].value]
        if i + 1 < len(fields):
            line += [fields[i + 1].label, fields[i + 1].value]
        else:
            line += ["", ""]
        lines.append(line)
    return lines


def table_data(table: SheetTable) -> list[list[str]]:
    """Return a table's lines: the column heads, then its rows (or the line saying it is empty)."""
    return [table.columns, *table.rows] if table.rows else [table.columns, [table.empty]]


def signature_lines(sheet: RecordSheet) -> list[list[str]]:
    """Return the signature lines: label, a line to sign on, the printed name."""
    lines = [[s.label, SIGNATURE_LINE, s.name] for s in sheet.signatures]
    lines.append([sheet.date_label, SIGNATURE_LINE, ""])
    return lines


# ---------------------------------------------------------------------- layout
def _field_table(lines: list[list[str]], styles: dict[str, ParagraphStyle]) -> Table:
    style = styles["field"]
    cells: list[list[Any]] = []
    commands: list[Any] = [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for row, line in enumerate(lines):
        cells.append([_text(cell, style) for cell in line] + [""] * (4 - len(line)))
        commands.append(("BACKGROUND", (0, row), (0, row), HEAD_FILL))
        if len(line) == 2:  # a list of names across the whole width
            commands.append(("SPAN", (1, row), (3, row)))
        elif line[2]:
            commands.append(("BACKGROUND", (2, row), (2, row), HEAD_FILL))
    widths = [0.14, 0.36, 0.14, 0.36]
    table = Table(cells, colWidths=[w * TEXT_WIDTH for w in widths])
    table.setStyle(TableStyle(commands))
    return table


def _data_table(table: SheetTable, styles: dict[str, ParagraphStyle]) -> Table:
    data = table_data(table)
    total = sum(table.widths)
    widths = [w / total * TEXT_WIDTH for w in table.widths]
    cells: list[list[Any]] = [[_text(c, styles["head"]) for c in data[0]]]
    commands: list[Any] = [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if table.rows:
        cells += [[_text(c, styles["cell"]) for c in row] for row in data[1:]]
    else:
        cells.append([_text(table.empty, styles["cell"])] + [""] * (len(widths) - 1))
        commands.append(("SPAN", (0, 1), (-1, 1)))
    result = Table(cells, colWidths=widths, repeatRows=1)
    result.setStyle(TableStyle(commands))
    return result


def _signature_table(sheet: RecordSheet, styles: dict[str, ParagraphStyle]) -> Table:
    style = styles["sign"]
    cells = [
        [_text(label, style), "", _text(name, style)]
        for label, _line, name in signature_lines(sheet)
    ]
    table = Table(cells, colWidths=[0.22 * TEXT_WIDTH, 0.38 * TEXT_WIDTH, 0.3 * TEXT_WIDTH])
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("TOPPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    return table


def story(sheet: RecordSheet) -> list[Flowable]:
    """Return the flowables of the record, top to bottom."""
    styles = _styles()
    parts: list[Flowable] = [
        _text(sheet.issuer, styles["issuer"]),
        _text(sheet.title, styles["title"]),
    ]
    if sheet.notice:
        parts.append(_text(sheet.notice, styles["notice"]))
    parts += [Spacer(1, 4), _field_table(header_lines(sheet), styles)]
    parts.append(_text(sheet.attendance_title, styles["section"]))
    parts.append(_field_table(attendance_lines(sheet), styles))
    for table in sheet.tables:
        parts.append(_text(table.title, styles["section"]))
        parts.append(_data_table(table, styles))
    parts.append(Spacer(1, 10))
    parts.append(KeepTogether([_signature_table(sheet, styles)]))
    return parts


def _canvas_maker(sheet: RecordSheet) -> type[Canvas]:
    """A canvas that numbers its pages "page n of m" once the total is known."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._saved_pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802  (reportlab's name)
            self._saved_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._saved_pages)
            for page in self._saved_pages:
                self.__dict__.update(page)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            self.setFont(FONT, 7.5)
            self.setFillColor(colors.Color(0.35, 0.35, 0.35))
            y = MARGIN / 2
            self.drawString(MARGIN, y, f"{sheet.title} · {sheet.printed}")
            label = sheet.page_template % {"page": self._pageNumber, "pages": total}
            self.drawRightString(PAGE[0] - MARGIN, y, label)

    return NumberedCanvas


def render_record_pdf(sheet: RecordSheet) -> bytes:
    """Return the exam-room record as an A4 PDF."""
    _font()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"{sheet.title} {sheet.file_stem}",
        author=sheet.issuer,
        subject=sheet.title,
        pageCompression=1,
    )
    document.build(story(sheet), canvasmaker=_canvas_maker(sheet))
    return buffer.getvalue()
