"""The printable card: HTML page, QR image and PDF, reachable only with the card's code."""

from __future__ import annotations

import io
import re

import pytest
from flask_babel import force_locale
from PIL import Image

from examserver.db import utcnow
from examserver.extensions import db
from examserver.records import pdf, service
from examserver.records.models import TrainingRecord, VerificationFailure
from tests.records.pdftext import all_text, text_runs

CSRF = re.compile(r'(name="csrf_token" value=")[^"]+')


def _sheet(app, card_no: str) -> service.CardSheet:
    with app.test_request_context(), force_locale(app.config["EXAMSERVER"]["LOCALE"]):
        record = db.session.query(TrainingRecord).filter_by(card_no=card_no).one()
        return service.card_sheet(record)


def _failures(app) -> int:
    with app.app_context():
        return db.session.query(VerificationFailure).count()


def test_the_card_page_shows_every_field_and_only_the_masked_id(app, client, card) -> None:
    response = client.get(card.card_url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    sheet = _sheet(app, card.card_no)
    assert sheet.title in page and sheet.issuer in page
    for field in sheet.fields:
        assert f"<dt>{field.label}</dt>" in page
        assert f"<dd>{field.value}</dd>" in page
    assert card.id_number not in page
    assert sheet.value("id_number") in page
    assert " ".join([card.code[:4], card.code[4:8], card.code[8:]]) in page
    assert f'src="/cards/{card.card_no}/{card.code}/qr.png"' in page
    assert f'href="/cards/{card.card_no}/{card.code}.pdf"' in page
    assert 'lang="zh-CN"' in page
    assert "css/card-print.css" in page and 'media="print"' in page
    assert "data:" not in page and "<script" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "img-src 'self'" in response.headers["Content-Security-Policy"]
    assert _failures(app) == 0


def test_the_card_is_in_the_centres_language_whatever_the_ui_shows(app, client, card) -> None:
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get(card.card_url).get_data(as_text=True)
    assert "安全生产培训记录" in page  # the card
    assert "Download PDF" in page  # the page around it


def test_the_print_stylesheet_sets_an_a5_page(app, client) -> None:
    with client.get("/static/css/card-print.css") as response:
        css = response.get_data(as_text=True)
    assert re.search(r"@page\s*\{[^}]*size:\s*A5 landscape", css)
    assert ".topbar" in css and "display: none" in css


def test_a_wrong_code_shows_the_same_page_as_an_unknown_card(app, client, card) -> None:
    wrong = client.get(f"/cards/{card.card_no}/{'A' * 12}")
    unknown = client.get(f"/cards/PX99999999999/{card.code}")
    assert wrong.status_code == unknown.status_code == 404
    assert CSRF.sub(r"\1", wrong.get_data(as_text=True)) == CSRF.sub(
        r"\1", unknown.get_data(as_text=True)
    )
    assert "card_not_found" in wrong.get_data(as_text=True)
    assert "考生1" not in wrong.get_data(as_text=True)
    assert _failures(app) == 2


@pytest.mark.parametrize("suffix", ["", ".pdf", "/qr.png"])
def test_every_card_url_refuses_a_wrong_code_and_counts_it(app, client, card, suffix) -> None:
    response = client.get(f"/cards/{card.card_no}/{'B' * 12}{suffix}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert _failures(app) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/cards/PX1/short",
        "/cards/PX-1/ABCDEFGHIJKL",
        "/cards/%E5%8D%A1/ABCDEFGHIJKL",
        "/cards/PX1/ABCDEFGHIJK1",
        "/cards/PX1/ABCDEFGHIJKL.txt",
        "/cards/" + "A" * 40 + "/ABCDEFGHIJKL",
        "/cards/PX1/" + "A" * 5000 + ".pdf",
        "/cards/PX1/%00%00/qr.png",
    ],
)
def test_malformed_card_urls_are_not_found_without_a_query(app, client, path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert _failures(app) == 0


def test_the_card_number_and_code_are_read_case_insensitively(client, card) -> None:
    response = client.get(f"/cards/{card.card_no.lower()}/{card.code.lower()}")
    assert response.status_code == 200


def test_the_qr_code_is_a_png_of_the_absolute_verification_url(app, client, card) -> None:
    response = client.get(card.card_url + "/qr.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "PNG" and image.width == image.height >= 100
    # qrcode is deterministic: the same URL gives the same image.
    assert response.data == pdf.qr_png(f"http://localhost/verify/{card.card_no}/{card.code}")
    assert response.data != pdf.qr_png(f"http://localhost/verify/{card.card_no}/{'A' * 12}")


def test_the_pdf_is_a_one_page_pdf_with_the_cards_text(app, client, card) -> None:
    response = client.get(card.card_url + ".pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="training-record-{card.card_no}.pdf"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    data = response.data
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page\n") == 1
    assert b"/BaseFont /STSong-Light" in data and b"/Encoding /UniGB-UCS2-H" in data
    assert b"/FontFile" not in data  # the CID font is the reader's, not embedded
    text = all_text(data)
    sheet = _sheet(app, card.card_no)
    assert sheet.title in text and sheet.issuer in text
    for field in sheet.fields:
        assert field.label in text and field.value in text, field
    assert card.id_number not in text and card.id_number.encode() not in data
    assert " ".join([card.code[:4], card.code[4:8], card.code[8:]]) in text


def test_the_pdf_keeps_all_text_inside_its_border(app, client, card) -> None:
    data = client.get(card.card_url + ".pdf").data
    width, height = pdf.PAGE
    runs = text_runs(data)
    assert len(runs) >= 2 * 14
    for run in runs:
        assert pdf.MARGIN < run.x < width - pdf.MARGIN, run
        assert pdf.MARGIN < run.y < height - pdf.MARGIN, run


def test_the_pdf_draws_the_qr_code_of_the_verification_url(app, client, card, monkeypatch) -> None:
    drawn = []
    original = pdf._draw_qr

    def spy(canvas, url, x, y, size):
        drawn.append(url)
        original(canvas, url, x, y, size)

    monkeypatch.setattr(pdf, "_draw_qr", spy)
    client.get(card.card_url + ".pdf")
    assert drawn == [f"http://localhost/verify/{card.card_no}/{card.code}"]


def test_long_values_wrap_and_shrink_to_fit(app, card) -> None:
    with app.test_request_context(), force_locale("zh_CN"):
        record = db.session.query(TrainingRecord).filter_by(card_no=card.card_no).one()
        record.employer = "常州市某某化工集团有限公司第三分厂" * 12
        printed = service.printed_card(record, "http://x/verify/a/b", "http://x/verify")
        data = pdf.render_card_pdf(printed)
        db.session.rollback()
    text = all_text(data).replace("\n", "")
    assert "常州市某某化工集团有限公司第三分厂" * 12 in text
    width, height = pdf.PAGE
    runs = text_runs(data)
    assert all(pdf.MARGIN < r.y < height - pdf.MARGIN and r.x < width - pdf.MARGIN for r in runs)
    assert min(r.size for r in runs) < 10.5


def test_a_revoked_card_says_so_on_the_page_and_the_pdf(app, client, card) -> None:
    with app.app_context():
        db.session.query(TrainingRecord).one().revoked_at = utcnow()
        db.session.commit()
    page = client.get(card.card_url).get_data(as_text=True)
    assert "revoked-stamp" in page and "撤销" in page
    text = all_text(client.get(card.card_url + ".pdf").data)
    assert "撤销" in text
