"""The exam-room record (考场记录): its data, the print view, the PDF and who may read it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale

from examserver.auth.models import User
from examserver.db import utcnow
from examserver.extensions import db
from examserver.identity import mask_id_number
from examserver.proctor import record_pdf
from examserver.proctor.record import (
    RoomRecord,
    clock,
    file_stem,
    format_duration,
    record_sheet,
    room_record,
    zone_of,
)
from examserver.sessions.models import ExamSession
from tests.delivery.conftest import received
from tests.proctor.conftest import act, candidate_id_of

EXAM_POINT = "常州市考试点一"


@dataclass
class Room:
    session_id: int
    candidates: list[dict[str, Any]]
    ids: list[int]
    proctors: list[Any]
    open_record: RoomRecord | None = None


def _record(app: Flask, session_id: int, lang: str = "zh_CN") -> RoomRecord:
    with app.app_context(), force_locale(lang):
        return room_record(db.session, session_id, utcnow(), issuer="常州市安全生产培训考核中心")


def _name(app: Flask, user_id: int, display_name: str) -> None:
    with app.app_context():
        db.session.get(User, user_id).display_name = display_name
        db.session.commit()


def _start(client: Any) -> None:
    received(client, "state")
    assert client.emit("start", {}, namespace="/exam", callback=True) == {"ok": True}


@pytest.fixture
def room(app: Flask, open_world: Any, console: Any, terminal: Any) -> Any:
    """Run a proctor-mode room of five through the sockets; close it unless told not to.

    Seat 1 submits; seat 2 is paused, given 10 minutes during the pause, loses focus once, is
    released from a hung terminal, continues on another and is collected at the close; seat 3 is
    warned, then expelled (confirmed by the second proctor); seat 4 is marked absent; seat 5
    never comes (absent at the close). Everyone not finished gets 5 more minutes at once.
    """

    def build(close: bool = True) -> Room:
        world = open_world(start_mode="proctor", n=5, pass_score=0)
        with app.app_context():
            db.session.get(ExamSession, world.session_id).exam_point = EXAM_POINT
            db.session.commit()
        p1 = console("p1", assign_to=world.session_id)
        p2 = console("p2", assign_to=world.session_id)
        _name(app, p1.user_id, "王监考")
        _name(app, p2.user_id, "李监考")
        sid = world.session_id
        ids = [candidate_id_of(app, c["admission_no"]) for c in world.candidates]
        terminals = [
            terminal(c, terminal_id=f"terminal-{i:04d}") for i, c in enumerate(world.candidates[:3])
        ]
        for cid in ids[:3]:
            assert act(p1, "verify", session_id=sid, candidate_id=cid)["ok"]
        assert act(p1, "mark_absent", session_id=sid, candidate_id=ids[3])["ok"]
        assert act(p1, "start_room", session_id=sid) == {"ok": True, "started": 3}
        one, two, three = terminals
        received(one, "state")
        assert one.emit("submit", {}, namespace="/exam", callback=True)["ok"]
        assert act(p1, "pause", session_id=sid, candidate_id=ids[1], reason="设备故障")["ok"]
        ack = act(
            p1, "extend", session_id=sid, candidate_id=ids[1], minutes=10, reason="设备故障补时"
        )
        assert ack["ok"]
        assert act(p1, "resume", session_id=sid, candidate_id=ids[1])["ok"]
        assert act(p2, "extend", session_id=sid, candidate_id=None, minutes=5, reason="全场补时")[
            "ok"
        ]
        assert two.emit("focus", {"lost": True}, namespace="/exam", callback=True) == {"ok": True}
        assert act(p1, "release_terminal", session_id=sid, candidate_id=ids[1], reason="机器死机")[
            "ok"
        ]
        terminal(world.candidates[1], terminal_id="terminal-spare")
        warning = act(
            p1, "incident", session_id=sid, candidate_id=ids[2], kind="warning", note="交头接耳"
        )
        assert warning["ok"]
        expulsion = act(
            p1, "incident", session_id=sid, candidate_id=ids[2], kind="expulsion", note="使用手机"
        )
        ack = act(p2, "confirm_incident", session_id=sid, incident_id=expulsion["incident_id"])
        assert ack["ok"]
        assert act(p1, "announce", session_id=sid, text="请保持安静")["ok"]
        built = Room(sid, world.candidates, ids, [p1, p2])
        built.open_record = _record(app, sid)
        if close:
            assert act(p1, "close_session", session_id=sid) == {
                "ok": True,
                "submitted": 1,
                "absent": 1,
            }
        del three
        return built

    return build


# ------------------------------------------------------------------ the record's data
def test_the_roster_shows_every_candidate_by_seat(app: Flask, room: Any) -> None:
    built = room()
    record = _record(app, built.session_id)
    assert record.closed and record.issuer == "常州市安全生产培训考核中心"
    assert (record.exam_point, record.room, record.session_code) == (EXAM_POINT, "第一考场", "S1")
    assert (record.exam_name, record.start_mode, record.exam_kind) == (
        "测试组卷",
        "proctor",
        "retraining",
    )
    assert record.room_started_at is not None and record.closed_at is not None
    assert record.opens_at.utcoffset() == dt.timedelta(hours=8)  # Asia/Shanghai
    assert record.proctors == ["王监考", "李监考"]
    rows = {r.seat: r for r in record.roster}
    assert [r.seat for r in record.roster] == [1, 2, 3, 4, 5]
    assert {s: r.status for s, r in rows.items()} == {
        1: "submitted",
        2: "submitted",
        3: "expelled",
        4: "absent",
        5: "absent",
    }
    assert {s: r.submit_reason for s, r in rows.items()} == {
        1: "candidate",
        2: "closed",
        3: "expelled",
        4: "",
        5: "",
    }
    for seat, candidate in zip(range(1, 6), built.candidates, strict=True):
        assert rows[seat].admission_no == candidate["admission_no"]
        assert rows[seat].id_number_masked == mask_id_number(candidate["id_number"])
        assert rows[seat].id_number_masked != candidate["id_number"]
    assert rows[1].passed is True and rows[1].score == 0 and rows[1].max_score == 20
    assert rows[3].score == 0 and rows[3].passed is False and rows[3].incidents == 2
    assert rows[4].score is None and rows[4].passed is None and rows[4].first_login_at is None
    for seat in (1, 2, 3):
        assert rows[seat].first_login_at is not None and rows[seat].verified_at is not None
        assert rows[seat].verified_by == "王监考"
        assert rows[seat].submitted_at is not None
    assert rows[2].extension_ms == 15 * 60_000 and rows[2].paused_ms >= 0
    assert rows[2].focus_losses == 1 and rows[2].terminal_moves == 1


def test_attendance_counts_and_absentees(app: Flask, room: Any) -> None:
    built = room()
    a = _record(app, built.session_id).attendance
    assert (a.registered, a.present, a.absent, a.not_arrived) == (5, 3, 2, 0)
    assert (a.submitted, a.expelled, a.in_progress, a.passed) == (2, 1, 0, 2)
    assert [r.seat for r in a.absentees] == [4, 5]


def test_incidents_name_who_recorded_and_who_confirmed(app: Flask, room: Any) -> None:
    built = room()
    incidents = _record(app, built.session_id).incidents
    assert [(i.seat, i.kind, i.note) for i in incidents] == [
        (3, "warning", "交头接耳"),
        (3, "expulsion", "使用手机"),
    ]
    warning, expulsion = incidents
    assert warning.recorded_by == "王监考" and warning.confirmed_by == "" and not warning.pending
    assert expulsion.recorded_by == "王监考" and expulsion.confirmed_by == "李监考"
    assert expulsion.confirmed_at is not None and not expulsion.pending


def test_actions_are_the_proctors_log_in_order(app: Flask, room: Any) -> None:
    built = room()
    actions = _record(app, built.session_id).actions
    assert [a.kind for a in actions] == [
        "verify",
        "verify",
        "verify",
        "mark_absent",
        "start_room",
        "pause",
        "extend",
        "resume",
        "extend",
        "release_terminal",
        "incident",
        "incident",
        "expel",
        "announce",
        "close_session",
    ]
    assert [a.at for a in actions] == sorted(a.at for a in actions)
    by_kind = {a.kind: a for a in actions}
    assert by_kind["start_room"].candidates == [] and by_kind["start_room"].detail == {"started": 3}
    assert by_kind["pause"].candidates == [(2, "考生2")] and by_kind["pause"].reason == "设备故障"
    # "Everyone 5 more minutes" (those sitting the exam, not the waiting seat 5) wrote one
    # event per candidate: the record shows one line.
    everyone = actions[8]
    assert everyone.candidates == [(2, "考生2"), (3, "考生3")]
    assert everyone.actor == "李监考" and everyone.detail == {"minutes": 5}
    assert by_kind["expel"].actor == "李监考"
    assert by_kind["announce"].reason == "请保持安静"
    assert by_kind["close_session"].detail == {"submitted": 1, "absent": 1}
    # Terminal chatter (logins, connects, focus, moves) is summarised, not listed.
    assert not {"login", "connect", "disconnect", "focus_lost", "moved", "submit"} & set(by_kind)


def test_extensions_pauses_and_terminals_per_candidate(app: Flask, room: Any) -> None:
    built = room()
    record = _record(app, built.session_id)
    adjustments = {a.seat: a for a in record.adjustments}
    assert set(adjustments) == {2, 3}
    two = adjustments[2]
    assert [(e.minutes, e.reason, e.actor) for e in two.extensions] == [
        (10, "设备故障补时", "王监考"),
        (5, "全场补时", "李监考"),
    ]
    assert two.extension_ms == 15 * 60_000
    assert [(p.reason, p.actor, p.end is not None) for p in two.pauses] == [
        ("设备故障", "王监考", True)
    ]
    assert [(e.minutes, e.reason) for e in adjustments[3].extensions] == [(5, "全场补时")]
    assert adjustments[3].pauses == []
    terminals = {r.seat: (r.focus_losses, r.terminal_moves) for r in record.terminals}
    assert terminals[2] == (1, 1)
    assert 1 not in terminals or terminals[1] == (0, 0)


def test_an_open_session_is_marked_not_closed(app: Flask, room: Any) -> None:
    built = room(close=False)
    record = built.open_record
    assert record is not None and not record.closed and record.closed_at is None
    statuses = {r.seat: r.status for r in record.roster}
    assert statuses[1] == "submitted" and statuses[3] == "expelled" and statuses[4] == "absent"
    assert statuses[2] in ("answering", "offline") and statuses[5] == "not_arrived"
    a = record.attendance
    assert (a.present, a.absent, a.not_arrived, a.in_progress) == (3, 1, 1, 1)
    assert [r.seat for r in a.not_arrived_list] == [5]
    with app.test_request_context(), force_locale("en"):
        sheet = record_sheet(record)
    assert sheet.notice.startswith("Not closed yet")
    assert {f.label: f.value for f in sheet.fields}["Closed"] == "Not closed yet"
    assert "Still in the exam" in [f.label for f in sheet.attendance]


def test_a_session_nobody_sat_has_an_empty_record(app: Flask, exam_world: Any) -> None:
    world = exam_world(n=2)  # no paper drawn: no attempts
    record = _record(app, world.session_id)
    assert [r.status for r in record.roster] == ["not_arrived", "not_arrived"]
    assert record.actions == [] and record.incidents == [] and record.adjustments == []
    with app.test_request_context(), force_locale("en"):
        sheet = record_sheet(record)
    assert sheet.table("incidents").rows == []
    assert record_pdf.table_data(sheet.table("incidents"))[1] == ["No incident was recorded."]
    assert [s.name for s in sheet.signatures] == ["", "", ""]  # two proctors' lines, one patrol's
    assert record_pdf.render_record_pdf(sheet).startswith(b"%PDF-")


def test_an_unconfirmed_expulsion_and_an_assigned_inspector(
    app: Flask, open_world: Any, console: Any, terminal: Any, create_user: Any
) -> None:
    world = open_world(n=1)
    proctor = console("p1", assign_to=world.session_id)
    client = terminal(world.candidates[0])
    _start(client)
    target = candidate_id_of(app, world.candidates[0]["admission_no"])
    ack = act(proctor, "incident", session_id=world.session_id, candidate_id=target,
              kind="expulsion", note="替考嫌疑")  # fmt: skip
    assert ack["ok"]
    inspector_id = create_user("insp1", "inspector", "secret-pass")
    with app.app_context():
        from examserver.proctor.service import assign

        inspector = db.session.get(User, inspector_id)
        inspector.display_name = "赵巡考"
        assign(db.session, db.session.get(ExamSession, world.session_id), inspector, "inspector")
        db.session.commit()
    record = _record(app, world.session_id)
    (incident,) = record.incidents
    assert incident.pending and incident.confirmed_by == "" and incident.confirmed_at is None
    assert record.roster[0].status == "answering" and record.proctors == ["p1"]
    assert record.inspectors == ["赵巡考"]
    with app.test_request_context(), force_locale("en"):
        sheet = record_sheet(record)
    assert sheet.table("incidents").rows[0][5] == "Not confirmed yet"
    assert [(s.label, s.name) for s in sheet.signatures] == [
        ("Proctor's signature", "p1"),
        ("Proctor's signature", ""),
        ("Patrol inspector's signature", "赵巡考"),
    ]


# ------------------------------------------------------------------ the translated sheet
def test_the_sheet_has_the_lines_printed(app: Flask, room: Any) -> None:
    built = room()
    record = _record(app, built.session_id)
    with app.test_request_context(), force_locale("en"):
        sheet = record_sheet(record)
    fields = {f.label: f.value for f in sheet.fields}
    assert fields["Exam point"] == EXAM_POINT and fields["Room"] == "第一考场"
    assert fields["Session"] == "复训考核 (S1)" and fields["Exam"] == "测试组卷 (BP-S1)"
    assert fields["Start mode"] == "Proctor starts the room"
    assert fields["Room started"] == record.room_started_at.strftime("%Y-%m-%d %H:%M")
    assert fields["Proctors"] == "王监考 and 李监考"
    counts = {f.label: f.value for f in sheet.attendance}
    assert counts == {
        "Registered": "5",
        "Present": "3",
        "Absent": "2",
        "Submitted": "2",
        "Expelled": "1",
        "Passed": "2",
    }
    absentees = sheet.attendance_lists[0].value
    assert "Seat 4 考生4 (S1-004)" in absentees and "Seat 5 考生5 (S1-005)" in absentees
    roster = sheet.table("roster")
    day = record.opens_at.date()
    first = record.roster[0]
    assert roster.rows[0] == [
        "1",
        "S1-001",
        "考生1",
        mask_id_number(built.candidates[0]["id_number"]),
        "Submitted",
        first.first_login_at.strftime("%H:%M:%S")
        if first.first_login_at.date() == day
        else first.first_login_at.strftime("%m-%d %H:%M:%S"),
        roster.rows[0][6],
        roster.rows[0][7],
        "By the candidate",
        "0",
        "Pass",
        "—",
    ]
    assert [row[4] for row in roster.rows] == [
        "Submitted",
        "Submitted",
        "Expelled",
        "Absent",
        "Absent",
    ]
    assert [row[8] for row in roster.rows] == [
        "By the candidate",
        "At the session's close",
        "Expelled",
        "—",
        "—",
    ]
    assert [row[11] for row in roster.rows] == ["—", "—", "2", "—", "—"]
    actions = sheet.table("actions").rows
    assert ["Time extended", "Seat 2 考生2", "+10 min: 设备故障补时"] == actions[6][2:]
    assert actions[8][1:] == [
        "李监考",
        "Time extended",
        "2 candidates (seats 2 and 3)",
        "+5 min: 全场补时",
    ]
    assert actions[4][2:] == ["Room started", "Whole room", "3 candidates started"]
    assert actions[-1][2:] == [
        "Session closed",
        "Whole room",
        "1 papers collected, 1 marked absent",
    ]
    assert actions[10][4] == "Warning: 交头接耳"
    assert actions[11][4].startswith("Expulsion (to be confirmed")
    incidents = sheet.table("incidents").rows
    assert [row[1:5] for row in incidents] == [
        ["Seat 3 考生3", "Warning", "交头接耳", "王监考"],
        ["Seat 3 考生3", "Expulsion", "使用手机", "王监考"],
    ]
    assert incidents[0][5] == "—" and incidents[1][5].startswith("李监考 ")
    adjustments = sheet.table("adjustments").rows
    assert adjustments[0][0] == "Seat 2 考生2" and adjustments[0][1] == "15 min"
    assert "+10 min 设备故障补时" in adjustments[0][2] and "+5 min 全场补时" in adjustments[0][2]
    assert "设备故障" in adjustments[0][4]
    assert [s.label for s in sheet.signatures] == [
        "Proctor's signature",
        "Proctor's signature",
        "Patrol inspector's signature",
    ]
    assert [s.name for s in sheet.signatures] == ["王监考", "李监考", ""]
    assert sheet.file_stem == f"exam-room-record-{built.session_id}-S1"


def test_the_pdf_lines_carry_the_sheet(app: Flask, room: Any) -> None:
    built = room()
    record = _record(app, built.session_id)
    with app.test_request_context(), force_locale("en"):
        sheet = record_sheet(record)
    header = record_pdf.header_lines(sheet)
    assert header[0] == ["Exam centre", "常州市安全生产培训考核中心", "Exam point", EXAM_POINT]
    assert all(len(line) == 4 for line in header)
    attendance = record_pdf.attendance_lines(sheet)
    assert attendance[0] == ["Registered", "5", "Present", "3"]
    assert attendance[-1][0] == "Absentees" and len(attendance[-1]) == 2
    roster = record_pdf.table_data(sheet.table("roster"))
    assert roster[0][:4] == ["Seat", "Admission number", "Full name", "ID number"]
    assert [line[0] for line in roster[1:]] == ["1", "2", "3", "4", "5"]
    assert [line[3] for line in roster[1:]] == [
        mask_id_number(c["id_number"]) for c in built.candidates
    ]
    assert record_pdf.signature_lines(sheet) == [
        ["Proctor's signature", record_pdf.SIGNATURE_LINE, "王监考"],
        ["Proctor's signature", record_pdf.SIGNATURE_LINE, "李监考"],
        ["Patrol inspector's signature", record_pdf.SIGNATURE_LINE, ""],
        ["Date", record_pdf.SIGNATURE_LINE, ""],
    ]
    pdf = record_pdf.render_record_pdf(sheet)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 3000 and b"STSong-Light" in pdf


def test_times_durations_and_file_names(app: Flask) -> None:
    zone = zone_of("Asia/Shanghai")
    day = dt.date(2026, 5, 1)
    assert clock(dt.datetime(2026, 5, 1, 9, 3, 7, tzinfo=zone), day) == "09:03:07"
    # Past midnight the date is shown too.
    assert clock(dt.datetime(2026, 5, 2, 0, 10, tzinfo=zone), day) == "05-02 00:10:00"
    assert clock(None, day) == "—"
    with app.test_request_context(), force_locale("en"):
        assert format_duration(45_999) == "45 s"
        assert format_duration(120_000) == "2 min"
        assert format_duration(90_500) == "1 min 30 s"
    assert file_stem(7, "S1") == "exam-room-record-7-S1"
    stem = file_stem(8, "常州/第一场 A")
    assert (
        stem.isascii()
        and "/" not in stem
        and " " not in stem
        and stem.startswith("exam-room-record-8-")
    )


# ------------------------------------------------------------------ pages
def _staff(app: Flask, create_user: Any, username: str, role: str, **fields: Any) -> Any:
    user_id = create_user(username, role, "secret-pass")
    assign_to = fields.pop("assign_to", None)
    with app.app_context():
        user = db.session.get(User, user_id)
        for key, value in fields.items():
            setattr(user, key, value)
        if assign_to is not None:
            from examserver.proctor.service import assign

            assign(db.session, db.session.get(ExamSession, assign_to), user)
        db.session.commit()
    client = app.test_client()
    response = client.post("/api/login", json={"username": username, "password": "secret-pass"})
    assert response.status_code == 200
    return client


def test_the_print_view_shows_the_record_with_masked_ids(app: Flask, room: Any) -> None:
    built = room()
    client = built.proctors[0].flask_test_client
    response = client.get(f"/proctor/sessions/{built.session_id}/record")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    for candidate in built.candidates:
        assert candidate["id_number"] not in page
        assert mask_id_number(candidate["id_number"]) in page
        assert candidate["admission_no"] in page
    # Chinese labels (the default locale) and the room's own words.
    for text in (
        "考场记录",
        "监考员签名",
        "巡考员签名",
        "缺考",
        "准考证号",
        "身份证号",
        "姓名",
        "考试点",
        "考场",
        "成绩",
        "合格",
        "由监考员统一开考",
        EXAM_POINT,
        "第一考场",
        "王监考",
        "李监考",
        "使用手机",
        "交头接耳",
        "设备故障补时",
        "请保持安静",
        "常州市安全生产培训考核中心",
    ):
        assert text in page, text
    assert f"/proctor/sessions/{built.session_id}/record.pdf" in page
    assert 'id="record-signatures"' in page and "<script" not in page and 'style="' not in page
    assert "record-notice" not in page  # closed: no "not closed yet" notice


def test_the_print_view_in_english(app: Flask, room: Any) -> None:
    built = room(close=False)
    client = built.proctors[0].flask_test_client
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get(f"/proctor/sessions/{built.session_id}/record").get_data(as_text=True)
    for text in (
        "Exam-room record",
        "Not closed yet",
        "Roster",
        "Attendance",
        "Incidents",
        "Proctor actions",
        "Extensions and pauses",
        "Proctor&#39;s signature",
        "Patrol inspector&#39;s signature",
        "Not arrived",
        "Expelled",
        "Absent",
    ):
        assert text in page, text


def test_the_pdf(app: Flask, room: Any) -> None:
    built = room()
    client = built.proctors[1].flask_test_client
    response = client.get(f"/proctor/sessions/{built.session_id}/record.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'inline; filename="exam-room-record-{built.session_id}-S1.pdf"'
    assert disposition.isascii()
    assert response.data.startswith(b"%PDF-") and len(response.data) > 3000


def test_who_may_read_the_record(app: Flask, open_world: Any, create_user: Any) -> None:
    world = open_world()
    with app.app_context():
        db.session.get(ExamSession, world.session_id).exam_point = EXAM_POINT
        db.session.commit()
    paths = [
        f"/proctor/sessions/{world.session_id}/record",
        f"/proctor/sessions/{world.session_id}/record.pdf",
    ]
    clients = {
        "assigned": (_staff(app, create_user, "p-in", "proctor", assign_to=world.session_id), 200),
        "inspector": (_staff(app, create_user, "i-in", "inspector", exam_point=EXAM_POINT), 200),
        "admin": (_staff(app, create_user, "a1", "admin"), 200),
        "stranger": (_staff(app, create_user, "p-out", "proctor"), 403),
        "elsewhere": (_staff(app, create_user, "i-out", "inspector", exam_point="溧阳考试点"), 403),
        "examiner": (_staff(app, create_user, "e1", "examiner"), 403),
    }
    for who, (client, status) in clients.items():
        for path in paths:
            assert client.get(path).status_code == status, (who, path)
    anonymous = app.test_client().get(paths[0])
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    admin = clients["admin"][0]
    assert admin.get("/proctor/sessions/99999/record").status_code == 404
    assert admin.get("/proctor/sessions/99999/record.pdf").status_code == 404
