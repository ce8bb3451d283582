"""Public verification: the right code shows the record, a wrong one nothing, guessing is limited."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from examserver.db import utcnow
from examserver.extensions import db
from examserver.records.models import TrainingRecord, VerificationFailure
from tests.conftest import csrf_token

CSRF = re.compile(r'(name="csrf_token" value=")[^"]+')
LIMIT = 10  # VERIFY_MAX_FAILURES's default


def _post(client, card_no, code, **headers):
    token = csrf_token(client, "/verify")
    return client.post(
        "/verify", data={"card_no": card_no, "code": code, "csrf_token": token}, headers=headers
    )


def _failures(app, client_key: str | None = None) -> int:
    with app.app_context():
        query = db.session.query(VerificationFailure)
        if client_key is not None:
            query = query.filter_by(client=client_key)
        return query.count()


def _plain(body: str, *secrets: str) -> str:
    body = CSRF.sub(r"\1", body)
    for secret in secrets:
        body = body.replace(secret, "<X>")
    return body


def test_the_form_asks_for_number_and_code(client) -> None:
    page = client.get("/verify").get_data(as_text=True)
    assert 'name="card_no"' in page and 'name="code"' in page and 'name="csrf_token"' in page
    assert "data-outcome" not in page


def test_the_qr_link_shows_the_record_with_the_id_masked(app, client, card) -> None:
    response = client.get(card.verify_url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-outcome="found"' in page and 'data-status="valid"' in page
    assert "考生1" in page and "常州某厂" in page and "熔化焊接" in page
    assert card.id_number[:6] + "********" + card.id_number[-4:] in page
    assert card.id_number not in page
    assert f'href="/cards/{card.card_no}/{card.code}"' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert _failures(app) == 0


def test_the_form_shows_the_record_for_a_typed_code(app, client, card) -> None:
    typed = " ".join([card.code[:4], card.code[4:8], card.code[8:]]).lower()
    response = _post(client, card.card_no.lower(), typed)
    assert response.status_code == 200
    assert 'data-outcome="found"' in response.get_data(as_text=True)


def test_the_form_needs_its_csrf_token(client, card) -> None:
    response = client.post("/verify", data={"card_no": card.card_no, "code": card.code})
    assert response.status_code == 400
    assert "csrf_failed" in response.get_data(as_text=True)
    assert "考生1" not in response.get_data(as_text=True)


def test_a_wrong_code_is_answered_like_an_unknown_number_and_logged(
    app, client, card, caplog
) -> None:
    other = "PX99999999999"
    with caplog.at_level("WARNING", logger="examserver.records"):
        wrong = client.get(f"/verify/{card.card_no}/{'A' * 12}")
        unknown = client.get(f"/verify/{other}/{card.code}")
        posted_wrong = _post(client, card.card_no, "A" * 12)
        posted_unknown = _post(client, other, card.code)
    for response in (wrong, unknown, posted_wrong, posted_unknown):
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert 'data-outcome="no_match"' in page
        assert "考生1" not in page and card.id_number[-4:] not in page
    assert _plain(wrong.get_data(as_text=True), card.card_no) == _plain(
        unknown.get_data(as_text=True), other
    )
    assert _plain(posted_wrong.get_data(as_text=True), card.card_no) == _plain(
        posted_unknown.get_data(as_text=True), other
    )
    # Headers match too (the session cookie changes with the browser session, not the card).
    assert {k: v for k, v in wrong.headers if k != "Set-Cookie"} == {
        k: v for k, v in unknown.headers if k != "Set-Cookie"
    }
    assert _failures(app, "127.0.0.1") == 4
    assert caplog.text.count("card verification failed") == 4
    assert card.code not in caplog.text


def test_a_code_of_one_card_does_not_open_another(app, client, issue_cards) -> None:
    first, second = issue_cards(2)
    response = client.get(f"/verify/{second.card_no}/{first.code}")
    assert response.status_code == 404
    assert 'data-outcome="no_match"' in response.get_data(as_text=True)


def test_a_revoked_card_is_shown_as_revoked(app, client, card) -> None:
    with app.app_context():
        db.session.query(TrainingRecord).one().revoked_at = utcnow()
        db.session.commit()
    response = client.get(card.verify_url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-status="revoked"' in page and "badge bad" in page
    assert "撤销" in page
    assert 'data-status="valid"' not in page


@pytest.mark.parametrize(
    ("card_no", "code", "codes"),
    [
        ("", "", ["bad_card_no", "bad_code"]),
        ("PX-2026", "ABCDEFGHIJKL", ["bad_card_no"]),
        ("A" * 33, "ABCDEFGHIJKL", ["bad_card_no"]),
        ("PX1", "ABCDEFGHIJK0", ["bad_code"]),
        ("PX1", "ABC", ["bad_code"]),
        ("PX1", "A" * 5000, ["bad_code"]),
        ("<script>alert(1)</script>", "\x00\x01", ["bad_card_no", "bad_code"]),
        ("卡号", "核验码核验码核验码核验码", ["bad_card_no", "bad_code"]),
    ],
)
def test_malformed_input_gets_field_errors_and_counts_nothing(
    app, client, card_no, code, codes
) -> None:
    response = _post(client, card_no, code)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert sorted(re.findall(r'data-code="([a-z_]+)"', page)) == codes
    assert "<script>alert" not in page
    assert "data-outcome" not in page
    assert _failures(app) == 0


def test_missing_fields_are_field_errors(client) -> None:
    token = csrf_token(client, "/verify")
    response = client.post("/verify", data={"csrf_token": token})
    assert response.status_code == 400
    assert sorted(re.findall(r'data-code="([a-z_]+)"', response.get_data(as_text=True))) == [
        "bad_card_no",
        "bad_code",
    ]


@pytest.mark.parametrize(
    "path", ["/verify/PX1/short", "/verify/%E5%8D%A1/ABCDEFGHIJKL", "/verify/PX1/" + "Z" * 3000]
)
def test_malformed_links_are_refused_without_a_500(app, client, path) -> None:
    assert client.get(path).status_code == 400
    assert _failures(app) == 0


def test_wrong_tries_lock_the_client_out_even_for_the_right_code(app, client, card) -> None:
    for i in range(LIMIT):
        assert client.get(f"/verify/{card.card_no}/{'A' * 11}{'BCDEFGHIJK'[i]}").status_code == 404
    locked = client.get(card.verify_url)
    assert locked.status_code == 429
    body = locked.get_data(as_text=True)
    assert "rate_limited" in body and "考生1" not in body and card.card_no not in body
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    wrong_while_locked = client.get(f"/verify/{card.card_no}/{'Z' * 12}")
    assert _plain(wrong_while_locked.get_data(as_text=True)) == _plain(body)
    # The lockout holds for the form, the card, its PDF and QR, and in JSON.
    assert _post(client, card.card_no, card.code).status_code == 429
    for suffix in ("", ".pdf", "/qr.png"):
        assert client.get(card.card_url + suffix).status_code == 429
    as_json = client.get(card.verify_url, headers={"Accept": "application/json"})
    assert as_json.status_code == 429
    assert as_json.get_json()["error"]["code"] == "rate_limited"
    assert as_json.get_json()["error"]["message"]
    # Refusals are not failures: the count stays at the limit, so the lockout ends on time.
    assert _failures(app) == LIMIT


def test_the_lockout_is_per_client_and_outlives_the_browser_session(app, card) -> None:
    attacker = app.test_client()
    for _ in range(LIMIT):
        attacker.get(
            f"/verify/{card.card_no}/{'A' * 12}", environ_base={"REMOTE_ADDR": "203.0.113.9"}
        )
    fresh_cookies = app.test_client()
    assert (
        fresh_cookies.get(card.verify_url, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code
        == 429
    )
    assert (
        fresh_cookies.get(card.verify_url, environ_base={"REMOTE_ADDR": "203.0.113.10"}).status_code
        == 200
    )


def test_the_lockout_ends_when_the_failures_leave_the_window(app, client, card) -> None:
    for _ in range(LIMIT):
        client.get(f"/verify/{card.card_no}/{'A' * 12}")
    assert client.get(card.verify_url).status_code == 429
    with app.app_context():
        for failure in db.session.query(VerificationFailure):
            failure.at = failure.at - dt.timedelta(minutes=15)
        db.session.commit()
    assert client.get(card.verify_url).status_code == 200
    # The next failure prunes the expired ones.
    client.get(f"/verify/{card.card_no}/{'A' * 12}")
    assert _failures(app) == 1


def test_the_limit_is_a_setting(app, client, card) -> None:
    app.config["EXAMSERVER"]["VERIFY_MAX_FAILURES"] = 2
    client.get(f"/verify/{card.card_no}/{'A' * 12}")
    assert client.get(card.verify_url).status_code == 200
    client.get(f"/verify/{card.card_no}/{'A' * 12}")
    assert client.get(card.verify_url).status_code == 429


def test_the_verification_pages_are_public(app, client, card) -> None:
    for endpoint in ("verify_form", "verify_submit", "verify_link", "card", "card_pdf", "card_qr"):
        assert app.view_functions[f"records.{endpoint}"].allowed_roles is None
