"""Card services: input shapes, the HMAC code, the card's lines and the failure log."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from examserver.db import utcnow
from examserver.extensions import db
from examserver.records import ratelimit, service
from examserver.records.models import TrainingRecord, VerificationFailure
from examserver.records.service import CardRef, parse_card_ref


def _record(card_no: str) -> TrainingRecord:
    return db.session.query(TrainingRecord).filter_by(card_no=card_no).one()


def _key(app) -> bytes:
    return service.card_key(app.config["SECRET_KEY"])


@pytest.mark.parametrize(
    ("card_no", "code", "expected"),
    [
        ("PX20260000001", "ABCDEFGHIJKL", CardRef("PX20260000001", "ABCDEFGHIJKL")),
        ("  px20260000001 ", "abcd efgh ijkl", CardRef("PX20260000001", "ABCDEFGHIJKL")),
        ("PX1", "abcd-efgh-ijk2", CardRef("PX1", "ABCDEFGHIJK2")),
        ("A" * 32, "A" * 12, CardRef("A" * 32, "A" * 12)),
    ],
)
def test_card_references_are_normalised(card_no, code, expected) -> None:
    assert parse_card_ref(card_no, code) == (expected, {})


@pytest.mark.parametrize(
    ("card_no", "code", "problems"),
    [
        ("", "ABCDEFGHIJKL", {"card_no": "bad_card_no"}),
        ("A" * 33, "ABCDEFGHIJKL", {"card_no": "bad_card_no"}),
        ("PX-1", "ABCDEFGHIJKL", {"card_no": "bad_card_no"}),
        ("卡号1", "ABCDEFGHIJKL", {"card_no": "bad_card_no"}),
        ("PX1\n", "ABCDEFGHIJK1", {"code": "bad_code"}),  # 1 is not in base32
        ("PX1", "ABCDEFGHIJK", {"code": "bad_code"}),
        ("PX1", "ABCDEFGHIJKLM", {"code": "bad_code"}),
        ("PX1", "ABCDEFGHIJ%0", {"code": "bad_code"}),
        (None, None, {"card_no": "bad_card_no", "code": "bad_code"}),
        (["PX1"], {"a": 1}, {"card_no": "bad_card_no", "code": "bad_code"}),
        ("PX1' OR 1=1 --", "' OR 1=1 --", {"card_no": "bad_card_no", "code": "bad_code"}),
    ],
)
def test_malformed_references_are_refused_by_shape(card_no, code, problems) -> None:
    assert parse_card_ref(card_no, code) == (None, problems)


def test_the_right_code_matches_and_nothing_else_does(app, card) -> None:
    with app.app_context():
        key = _key(app)
        assert (
            service.match_card(db.session, key, CardRef(card.card_no, card.code)).card_no
            == card.card_no
        )
        assert service.match_card(db.session, key, CardRef(card.card_no, "A" * 12)) is None
        assert service.match_card(db.session, key, CardRef("PX99999999999", card.code)) is None
        other_key = service.card_key("another-secret")
        assert service.match_card(db.session, other_key, CardRef(card.card_no, card.code)) is None


def test_a_code_cannot_be_moved_to_another_card_number(app, issue_cards) -> None:
    first, second = issue_cards(2)
    with app.app_context():
        key = _key(app)
        assert first.code != second.code
        assert service.match_card(db.session, key, CardRef(second.card_no, first.code)) is None
        record = _record(first.card_no)
        original = service.verify_code_for(key, record)
        assert original == first.code
        record.card_no = second.card_no
        assert service.verify_code_for(key, record) != original
        db.session.rollback()


def test_a_card_altered_after_issue_no_longer_verifies(app, card, caplog) -> None:
    with app.app_context():
        record = _record(card.card_no)
        record.score = 99
        db.session.commit()
        with caplog.at_level("ERROR", logger="examserver.records"):
            assert (
                service.match_card(db.session, _key(app), CardRef(card.card_no, card.code)) is None
            )
    assert "no longer match" in caplog.text


def test_revoked_cards_still_match_but_find_card_keeps_refusing_them(app, card) -> None:
    with app.app_context():
        _record(card.card_no).revoked_at = utcnow()
        db.session.commit()
        assert (
            service.match_card(db.session, _key(app), CardRef(card.card_no, card.code)) is not None
        )
        assert service.find_card(db.session, card.card_no, card.code) is None


def test_the_card_sheet_masks_the_id_number_and_translates(app, card) -> None:
    with app.test_request_context(), force_locale("zh_CN"):
        sheet = service.card_sheet(_record(card.card_no))
        assert sheet.title == "安全生产培训记录"
        assert [f.name for f in sheet.fields] == [
            "name", "sex", "id_number", "employer", "industry", "category", "job_type", "kind",
            "training_hours", "exam_date", "score", "result", "card_no", "issued_on",
        ]  # fmt: skip
        assert sheet.value("id_number") == card.id_number[:6] + "********" + card.id_number[-4:]
        assert card.id_number not in repr(sheet)
        assert sheet.value("name") == "考生1"
        assert sheet.value("sex") == "男"
        assert sheet.value("employer") == "常州某厂"
        assert (sheet.value("industry"), sheet.value("category"), sheet.value("job_type")) == (
            "特种作业", "焊接与热切割作业", "熔化焊接",
        )  # fmt: skip
        assert sheet.value("kind") == "复训"
        assert sheet.value("training_hours") == "16"
        assert sheet.value("score") == "20 / 20"
        assert sheet.value("result") == "合格"
        assert sheet.value("card_no") == card.card_no
        assert sheet.value("exam_date").endswith("日")
        assert sheet.issuer == app.config["EXAMSERVER"]["ISSUER_NAME"]
        assert (sheet.revoked, sheet.status_label) == (False, "有效")
    with app.test_request_context(), force_locale("en"):
        sheet = service.card_sheet(_record(card.card_no))
        assert (sheet.value("kind"), sheet.value("result"), sheet.value("sex")) == (
            "Re-training",
            "Pass",
            "Male",
        )


@pytest.mark.parametrize(
    ("kind", "label"),
    [("initial", "初训"), ("retraining", "复训"), ("review", "复审"), ("retake", "补考")],
)
def test_exam_kinds_have_chinese_labels(app, kind, label) -> None:
    with app.test_request_context(), force_locale("zh_CN"):
        assert service.kind_label(kind) == label


def test_printed_card_groups_the_code(app, card) -> None:
    with app.test_request_context(), force_locale("en"):
        printed = service.printed_card(
            _record(card.card_no), "http://x/verify/A/B", "http://x/verify"
        )
    assert printed.code == " ".join([card.code[:4], card.code[4:8], card.code[8:]])
    assert printed.code_line == f"Verification code: {printed.code}"
    assert "http://x/verify" in printed.verify_line
    assert printed.qr_url == "http://x/verify/A/B"


# ------------------------------------------------------------------ rate limit
WINDOW = dt.timedelta(minutes=15)


def test_a_client_is_locked_out_at_the_limit_until_failures_age(any_db_app) -> None:
    app = any_db_app
    now = utcnow()
    with app.app_context():
        for i in range(3):
            ratelimit.record_failure(db.session, "10.0.0.1", now + dt.timedelta(minutes=i), WINDOW)
        db.session.commit()
        later = now + dt.timedelta(minutes=3)
        assert ratelimit.lockout(db.session, "10.0.0.1", later, 4, WINDOW) is None
        locked = ratelimit.lockout(db.session, "10.0.0.1", later, 3, WINDOW)
        assert locked is not None and locked.failures == 3
        # The oldest failure leaves the window 12 minutes later.
        assert locked.retry_after_s == 12 * 60
        assert ratelimit.lockout(db.session, "10.0.0.2", later, 3, WINDOW) is None
        assert (
            ratelimit.lockout(
                db.session, "10.0.0.1", now + WINDOW + dt.timedelta(seconds=1), 3, WINDOW
            )
            is None
        )


def test_recording_a_failure_prunes_every_clients_old_failures(any_db_app) -> None:
    app = any_db_app
    now = utcnow()
    with app.app_context():
        db.session.add_all(
            [
                VerificationFailure(client="old", at=now - WINDOW - dt.timedelta(seconds=1)),
                VerificationFailure(client="recent", at=now - dt.timedelta(minutes=1)),
            ]
        )
        db.session.commit()
        ratelimit.record_failure(db.session, "new", now, WINDOW)
        db.session.commit()
        assert sorted(f.client for f in db.session.query(VerificationFailure)) == ["new", "recent"]


def test_client_keys_are_bounded() -> None:
    assert ratelimit.client_key(None) == "unknown"
    assert ratelimit.client_key("x" * 200) == "x" * ratelimit.CLIENT_MAX_LENGTH
