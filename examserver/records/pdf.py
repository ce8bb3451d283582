"""The card's printable forms: a PDF made with reportlab, and the QR code as a PNG.

The PDF's Chinese is set in the built-in STSong-Light CID font, which PDF readers supply
(Adobe's Asian font packs), so nothing is downloaded or embedded. Its QR code is drawn as vectors.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A5, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from examserver.records.service import PrintedCard

FONT = "STSong-Light"
PAGE = landscape(A5)
MARGIN = 24.0
PADDING = 16.0
QR_SIZE = 112.0
LABEL_WIDTH = 84.0
MIN_FONT = 6.5
RED = Color(0.75, 0.1, 0.1)
GREY = Color(0.35, 0.35, 0.35)


@dataclass(frozen=True)
class Row:
    """A labelled field wrapped to the value column."""

    label: list[str]
    lines: list[str]

    @property
    def height(self) -> int:
        """Return the number of lines the row takes."""
        return max(len(self.label), len(self.lines))


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def wrap(text: str, width: float, size: float) -> list[str]:
    """Split ``text`` into lines no wider than ``width``, by character (Chinese has no spaces)."""
    lines: list[str] = []
    line = ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, FONT, size) > width:
            lines.append(line)
            line = ""
        line += char
    lines.append(line)
    return lines


def field_rows(card: PrintedCard, width: float, size: float) -> list[Row]:
    """Return the card's fields as rows of wrapped lines, in the order printed."""
    return [
        Row(wrap(f.label, LABEL_WIDTH - 6, size), wrap(f.value, width, size))
        for f in card.sheet.fields
    ]


def render_card_pdf(card: PrintedCard) -> bytes:
    """Return the card as a one-page A5 landscape PDF."""
    font = _font()
    width, height = PAGE
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, pageCompression=1)
    sheet = card.sheet
    canvas.setTitle(f"{sheet.title} {sheet.card_no}")
    canvas.setAuthor(sheet.issuer)
    canvas.setSubject(sheet.card_no)

    left, bottom = MARGIN, MARGIN
    right, top = width - MARGIN, height - MARGIN
    canvas.setStrokeColor(black)
    canvas.setLineWidth(1.6)
    canvas.rect(left, bottom, right - left, top - bottom)
    canvas.setLineWidth(0.5)
    canvas.rect(left + 3, bottom + 3, right - left - 6, top - bottom - 6)

    canvas.setFont(font, 18)
    canvas.drawCentredString(width / 2, top - PADDING - 16, sheet.title)
    canvas.setFont(font, 10.5)
    canvas.drawCentredString(width / 2, top - PADDING - 34, sheet.issuer)
    rule_y = top - PADDING - 44
    canvas.line(left + PADDING, rule_y, right - PADDING, rule_y)

    qr_left = right - PADDING - QR_SIZE
    value_left = left + PADDING + LABEL_WIDTH
    value_width = qr_left - PADDING - value_left
    footer_height = 30.0
    floor = bottom + PADDING + footer_height
    _draw_fields(canvas, card, left + PADDING, value_left, value_width, rule_y - 8, floor)

    qr_top = rule_y - 10
    _draw_qr(canvas, card.qr_url, qr_left, qr_top - QR_SIZE, QR_SIZE)
    canvas.setFont(font, 9)
    canvas.drawCentredString(qr_left + QR_SIZE / 2, qr_top - QR_SIZE - 12, card.qr_caption)

    canvas.setFont(font, 9)
    canvas.drawString(left + PADDING, bottom + PADDING + 13, card.code_line)
    canvas.setFont(font, 7.5)
    for i, line in enumerate(wrap(card.verify_line, right - left - 2 * PADDING, 7.5)[:2]):
        canvas.drawString(left + PADDING, bottom + PADDING + 2 - i * 9, line)

    if sheet.revoked:
        _draw_revoked_stamp(canvas, sheet.status_label, width / 2, height / 2)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_fields(
    canvas: Canvas,
    card: PrintedCard,
    label_left: float,
    value_left: float,
    value_width: float,
    top: float,
    floor: float,
) -> None:
    # Shrink the type until every field fits: a long employer name must not be cut off.
    size = 10.5
    while True:
        leading = size * 1.55
        rows = field_rows(card, value_width, size)
        needed = sum(row.height for row in rows) * leading
        if needed <= top - floor or size <= MIN_FONT:
            break
        size -= 0.5
    canvas.setFont(FONT, size)
    y = top - size
    for row in rows:
        canvas.setFillColor(GREY)
        for i, line in enumerate(row.label):
            canvas.drawString(label_left, y - i * leading, line)
        canvas.setFillColor(black)
        for i, line in enumerate(row.lines):
            canvas.drawString(value_left, y - i * leading, line)
        y -= row.height * leading


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(url, barLevel="M", barBorder=2)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _draw_revoked_stamp(canvas: Canvas, text: str, x: float, y: float) -> None:
    canvas.saveState()
    canvas.setFillColor(RED)
    canvas.setStrokeColor(RED)
    canvas.translate(x, y)
    canvas.rotate(18)
    canvas.setFont(FONT, 26)
    canvas.drawCentredString(0, -9, text)
    canvas.setLineWidth(2)
    text_width = pdfmetrics.stringWidth(text, FONT, 26)
    canvas.rect(-text_width / 2 - 10, -18, text_width + 20, 40)
    canvas.restoreState()


def qr_png(url: str) -> bytes:
    """Return a PNG of the QR code that encodes ``url``."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=6, border=2)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()
