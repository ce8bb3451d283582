"""The `/proctor` namespace: authorisation, every action's effect on the terminal, races."""

from __future__ import annotations

from typing import Any

from examserver.delivery.models import Attempt
from examserver.extensions import db, socketio
from examserver.proctor.models import Incident, RoomEvent
from tests.delivery.conftest import questions_of, received
from tests.proctor.conftest import act, candidate_id_of, pushed, wait_pushed


def _start(client: Any) -> dict[str, Any]:
    received(client, "state")
    assert client.emit("start", {}, namespace="/exam", callback=True) == {"ok": True}
    return received(client, "state")[-1]


# ------------------------------------------------------------------ authorisation
def test_an_assigned_proctor_gets_the_roster(app, open_world, console, terminal) -> None:
    world = open_world(n=3)
    terminal(world.candidates[0])
    proctor = console(assign_to=world.session_id)
    ack = act(proctor, "watch", session_id=world.session_id)
    assert ack["ok"] is True
    assert [r["seat"] for r in ack["roster"]] == [1, 2, 3]
    first = ack["roster"][0]
    assert set(first) >= {"candidate_id", "name", "seat", "status", "answered", "total", "remaining_ms", "online", "incidents"}
    assert first["status"] == "logged_in" and first["online"] is True and first["total"] == 12
    assert ack["roster"][1]["status"] == "not_arrived"
    assert ack["counters"]["present"] == 1 and ack["counters"]["total"] == 3
    assert [e["kind"] for e in ack["events"]][:2] == ["login", "connect"]


def test_an_unassigned_proctor_sees_and_does_nothing(app, open_world, console) -> None:
    world = open_world()
    stranger = console("proctor9")
    assert act(stranger, "watch", session_id=world.session_id)["error"]["code"] == "forbidden"
    candidate = candidate_id_of(app, world.candidates[0]["admission_no"])
    for event, payload in [
        ("verify", {"candidate_id": candidate}),
        ("pause", {"candidate_id": None, "reason": "x"}),
        ("announce", {"text": "hi"}),
        ("close_session", {}),
    ]:
        ack = act(stranger, event, session_id=world.session_id, **payload)
        assert ack["error"]["code"] == "forbidden", event
    with app.app_context():
        assert db.session.query(RoomEvent).filter(RoomEvent.actor_id.is_not(None)).count() == 0
        assert db.session.query(Attempt).filter(Attempt.verified_at.is_not(None)).count() == 0


def test_no_login_and_candidate_tokens_are_refused(app, open_world, terminal) -> None:
    world = open_world()
    candidate = terminal(world.candidates[0])
    anonymous = socketio.test_client(app, namespace="/proctor")
    assert not anonymous.is_connected("/proctor")
    with_token = socketio.test_client(
        app, namespace="/proctor", auth={"token": candidate.token, "terminal": "terminal-0001"}
    )
    assert not with_token.is_connected("/proctor")


def test_an_inspector_watches_their_exam_point_read_only(app, open_world, console) -> None:
    world = open_world()
    with app.app_context():
        from examserver.sessions.models import ExamSession

        db.session.get(ExamSession, world.session_id).exam_point = "常州市考试点一"
        db.session.commit()
    inspector = console("insp1", "inspector", exam_point="常州市考试点一")
    assert act(inspector, "watch", session_id=world.session_id)["ok"] is True
    ack = act(inspector, "announce", session_id=world.session_id, text="x")
    assert ack["error"]["code"] == "forbidden"
    elsewhere = console("insp2", "inspector", exam_point="溧阳考试点")
    assert act(elsewhere, "watch", session_id=world.session_id)["error"]["code"] == "forbidden"


def test_other_roles_cannot_connect(app, console) -> None:
    for role in ("examiner", "institution"):
        client = console(f"user-{role}", role)
        assert not client.is_connected("/proctor")


# ------------------------------------------------------------------ live view
def test_answers_reach_the_console_as_deltas(app, open_world, console, terminal) -> None:
    world = open_world()
    proctor = console(assign_to=world.session_id)
    act(proctor, "watch", session_id=world.session_id)
    pushed(proctor, "candidate")
    client = terminal(world.candidates[0])
    question = questions_of(_start(client))[0]
    client.emit("answer", {"question_id": question["id"], "choice": [question["options"][0]["key"]], "seq": 1}, namespace="/exam", callback=True)
    row = wait_pushed(proctor, "candidate", lambda r: r["answered"] == 1)
    assert row["status"] == "answering" and row["total"] == 12
    client.disconnect(namespace="/exam")
    row = wait_pushed(proctor, "candidate", lambda r: r["status"] == "offline")
    assert row["online"] is False
    wait_pushed(proctor, "event", lambda e: e["kind"] == "disconnect")


def test_focus_loss_is_reported(app, open_world, console, terminal) -> None:
    world = open_world()
    proctor = console(assign_to=world.session_id)
    act(proctor, "watch", session_id=world.session_id)
    client = terminal(world.candidates[0])
    assert client.emit("focus", {"lost": True}, namespace="/exam", callback=True) == {"ok": True}
    wait_pushed(proctor, "event", lambda e: e["kind"] == "focus_lost")
    wait_pushed(proctor, "candidate", lambda r: r["focus_losses"] == 1)


# ------------------------------------------------------------------ actions
def test_verify_then_start_room(app, open_world, console, terminal) -> None:
    world = open_world(start_mode="proctor", n=3)
    proctor = console(assign_to=world.session_id)
    act(proctor, "watch", session_id=world.session_id)
    clients = [terminal(c, terminal_id=f"terminal-{i:04d}") for i, c in enumerate(world.candidates[:2])]
    ids = [candidate_id_of(app, c["admission_no"]) for c in world.candidates]
    for client in clients:
        assert received(client, "state")[0]["attempt"]["status"] == "waiting"
    assert act(proctor, "verify", session_id=world.session_id, candidate_id=ids[0])["ok"]
    assert act(proctor, "mark_absent", session_id=world.session_id, candidate_id=ids[2])["ok"]
    ack = act(proctor, "start_room", session_id=world.session_id)
    assert ack == {"ok": True, "started": 1}
    assert received(clients[0], "state")[-1]["attempt"]["status"] == "running"
    assert received(clients[1], "state") == []  # not verified: still waiting
    # Verified late (within 30 minutes), the second candidate starts at once.
    assert act(proctor, "verify", session_id=world.session_id, candidate_id=ids[1])["ok"]
    late = received(clients[1], "state")[-1]
    assert late["attempt"]["status"] == "running"
    statuses = {r["seat"]: r["status"] for r in act(proctor, "watch", session_id=world.session_id)["roster"]}
    assert statuses == {1: "answering", 2: "answering", 3: "absent"}


def test_pause_stops_one_terminals_clock_and_says_why(app, open_world, console, terminal) -> None:
    world = open_world(n=2)
    proctor = console(assign_to=world.session_id)
    act(proctor, "watch", session_id=world.session_id)
    a, b = (terminal(c, terminal_id=f"terminal-{i:04d}") for i, c in enumerate(world.candidates))
    _start(a), _start(b)
    target = candidate_id_of(app, world.candidates[0]["admission_no"])
    assert act(proctor, "pause", session_id=world.session_id, candidate_id=target, reason="")["error"]["code"] == "reason_required"
    assert act(proctor, "pause", session_id=world.session_id, candidate_id=target, reason="设备故障")["ok"]
    state = received(a, "state")[-1]
    assert state["attempt"]["status"] == "paused" and state["attempt"]["pause_reason"] == "设备故障"
    assert received(b, "state") == []
    question = questions_of(state)[0]
    ack = a.emit("answer", {"question_id": question["id"], "choice": [question["options"][0]["key"]], "seq": 1}, namespace="/exam", callback=True)
    assert ack["error"]["code"] == "not_running"
    assert act(proctor, "resume", session_id=world.session_id, candidate_id=target)["ok"]
    assert received(a, "state")[-1]["attempt"]["status"] == "running"


def test_two_proctors_pausing_at_once_pause_once(app, open_world, console, terminal) -> None:
    world = open_world()
    first = console("p1", assign_to=world.session_id)
    second = console("p2", assign_to=world.session_id)
    client = terminal(world.candidates[0])
    _start(client)
    assert act(first, "pause", session_id=world.session_id, candidate_id=None, reason="停电")["ok"]
    assert act(second, "pause", session_id=world.session_id, candidate_id=None, reason="停电")["ok"]
    with app.app_context():
        assert db.session.query(RoomEvent).filter_by(kind="pause").count() == 1
        attempt = db.session.get(Attempt, client.attempt_id)
        assert attempt.status == "paused"


def test_extension_during_a_pause(app, open_world, console, terminal) -> None:
    world = open_world()
    proctor = console(assign_to=world.session_id)
    client = terminal(world.candidates[0])
    _start(client)
    target = candidate_id_of(app, world.candidates[0]["admission_no"])
    act(proctor, "pause", session_id=world.session_id, candidate_id=target, reason="设备故障")
    before = received(client, "state")[-1]["attempt"]["remaining_ms"]
    assert act(proctor, "extend", session_id=world.session_id, candidate_id=target, minutes=10, reason="设备故障补时")["ok"]
    paused = received(client, "state")[-1]["attempt"]
    assert paused["status"] == "paused" and paused["remaining_ms"] == before + 10 * 60_000
    act(proctor, "resume", session_id=world.session_id, candidate_id=target)
    assert received(client, "state")[-1]["attempt"]["remaining_ms"] >= before + 10 * 60_000 - 2_000
    for minutes, code in [(0, "bad_extension"), (500, "bad_extension"), ("5", "bad_payload")]:
        assert act(proctor, "extend", session_id=world.session_id, candidate_id=target, minutes=minutes, reason="x")["error"]["code"] == code


def test_extend_everyone(app, open_world, console, terminal) -> None:
    world = open_world(n=2)
    proctor = console(assign_to=world.session_id)
    clients = [terminal(c, terminal_id=f"terminal-{i:04d}") for i, c in enumerate(world.candidates)]
    for c in clients:
        _start(c)
    assert act(proctor, "extend", session_id=world.session_id, candidate_id=None, minutes=5, reason="全场补时")["ok"]
    for c in clients:
        assert received(c, "state")[-1]["attempt"]["duration_ms"] == 65 * 60_000


def test_force_submit_racing_the_candidates_own_submit(app, open_world, console, terminal) -> None:
    world = open_world()
    proctor = console(assign_to=world.session_id)
    client = terminal(world.candidates[0])
    _start(client)
    target = candidate_id_of(app, world.candidates[0]["admission_no"])
    own = client.emit("submit", {}, namespace="/exam", callback=True)
    forced = act(proctor, "force_submit", session_id=world.session_id, candidate_id=target, reason="到时收卷")
    assert own["ok"] and forced == {"ok": True, "already": True, "score": own["result"]["score"]}
    with app.app_context():
        attempt = db.session.get(Attempt, client.attempt_id)
        assert attempt.submit_reason == "candidate"
        assert db.session.query(RoomEvent).filter_by(kind="force_submit").count() == 0


def test_force_submit_ends_the_terminals_exam(app, open_world, console, terminal) -> None:
    world = open_world()
    proctor = console(assign_to=world.session_id)
    client = terminal(world.candidates[0])
    _start(client)
    target = candidate_id_of(app, world.candidates[0]["admission_no"])
    assert act(proctor, "force_submit", session_id=world.session_id, candidate_id=target, reason="严重违纪前收卷")["ok"]
    state = received(client, "state")[-1]
    assert state["attempt"]["status"] == "submitted" and "result" in state


def test_release_terminal_lets_the_candidate_move(app, open_world, console, terminal) -> None:
    world = open_world()
    proctor = console(assign_to=world.session_id)
    candidate = world.candidates[0]
    old = terminal(candidate, terminal_id="terminal-broken")
    _start(old)
    target = candidate_id_of(app, candidate["admission_no"])
    login = {"admission_no": candidate["admission_no"], "id_number": candidate["id_number"], "terminal": "terminal-spare"}
    assert app.test_client().post("/api/exam/login", json=login).status_code == 409
    assert act(proctor, "release_terminal", session_id=world.session_id, candidate_id=target, reason="机器死机")["ok"]
    assert not old.is_connected("/exam")
    moved = terminal(candidate, terminal_id="terminal-spare")
    assert received(moved, "state")[-1]["attempt"]["status"] == "running"
    stale = socketio.test_client(app, namespace="/exam", auth={"token": old.token, "terminal": "terminal-broken"})
    assert not stale.is_connected("/exam")


def test_expulsion_needs_a_second_staff_member(app, open_world, console, terminal) -> None:
    world = open_world(pass_score=0)
    first = console("p1", assign_to=world.session_id)
    second = console("p2", assign_to=world.session_id)
    client = terminal(world.candidates[0])
    _start(client)
    target = candidate_id_of(app, world.candidates[0]["admission_no"])
    warning = act(first, "incident", session_id=world.session_id, candidate_id=target, kind="warning", note="交头接耳")
    assert warning["ok"]
    ack = act(first, "incident", session_id=world.session_id, candidate_id=target, kind="expulsion", note="使用手机")
    incident_id = ack["incident_id"]
    assert act(first, "confirm_incident", session_id=world.session_id, incident_id=incident_id)["error"]["code"] == "second_staff_required"
    assert all(s["attempt"]["status"] == "running" for s in received(client, "state"))
    assert act(second, "confirm_incident", session_id=world.session_id, incident_id=incident_id)["ok"]
    state = received(client, "state")[-1]
    assert state["attempt"]["status"] == "submitted"
    assert state["result"]["score"] == 0 and state["result"]["passed"] is False
    with app.app_context():
        attempt = db.session.get(Attempt, client.attempt_id)
        assert attempt.expelled_at is not None and attempt.submit_reason == "expelled"
        incidents = db.session.query(Incident).order_by(Incident.id).all()
        assert [i.kind for i in incidents] == ["warning", "expulsion"]
        assert incidents[1].confirmed_by_id == second.user_id
    roster = act(first, "watch", session_id=world.session_id)["roster"]
    assert roster[0]["status"] == "expelled" and roster[0]["incidents"] == 2
    for kind, note, code in [("ban", "x", "bad_incident_kind"), ("warning", "", "note_required")]:
        assert act(first, "incident", session_id=world.session_id, candidate_id=target, kind=kind, note=note)["error"]["code"] in (code, "already_expelled")


def test_announcement_reaches_every_terminal(app, open_world, console, terminal) -> None:
    world = open_world(n=2)
    proctor = console(assign_to=world.session_id)
    clients = [terminal(c, terminal_id=f"terminal-{i:04d}") for i, c in enumerate(world.candidates)]
    assert act(proctor, "announce", session_id=world.session_id, text="请保持安静")["ok"]
    for c in clients:
        messages = received(c, "announcement")
        assert messages and messages[-1]["text"] == "请保持安静"
    assert act(proctor, "announce", session_id=world.session_id, text="x" * 5000)["error"]["code"] == "bad_payload"


def test_close_session(app, open_world, console, terminal) -> None:
    world = open_world(n=3)
    proctor = console(assign_to=world.session_id)
    running = terminal(world.candidates[0])
    _start(running)
    ack = act(proctor, "close_session", session_id=world.session_id)
    assert ack == {"ok": True, "submitted": 1, "absent": 2}
    assert received(running, "state")[-1]["attempt"]["status"] == "submitted"
    assert act(proctor, "close_session", session_id=world.session_id) == {"ok": True}


def test_actions_refuse_malformed_payloads(app, open_world, console) -> None:
    world = open_world()
    proctor = console(assign_to=world.session_id)
    for payload in [None, "x", {"session_id": "1"}, {"session_id": True}, {"session_id": world.session_id, "candidate_id": "3"}]:
        ack = proctor.emit("verify", payload, namespace="/proctor", callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "bad_payload", payload
    ack = act(proctor, "verify", session_id=99999, candidate_id=1)
    assert ack["error"]["code"] == "unknown_session"
    ack = act(proctor, "verify", session_id=world.session_id, candidate_id=99999)
    assert ack["error"]["code"] == "unknown_candidate"


def test_a_proctor_cannot_act_on_another_sessions_candidate(app, open_world, console) -> None:
    mine = open_world(code="S1")
    other = open_world(code="S2", n=1)
    proctor = console(assign_to=mine.session_id)
    foreign = candidate_id_of(app, other.candidates[0]["admission_no"])
    # Naming my session but their candidate: the candidate is not in my session.
    ack = act(proctor, "mark_absent", session_id=mine.session_id, candidate_id=foreign)
    assert ack["error"]["code"] in ("unknown_candidate", "not_waiting")
    assert act(proctor, "mark_absent", session_id=other.session_id, candidate_id=foreign)["error"]["code"] == "forbidden"


def test_the_snapshot_carries_what_verification_needs(app, open_world, console, terminal) -> None:
    world = open_world(start_mode="proctor")
    first = console("p1", assign_to=world.session_id)
    terminal(world.candidates[0])
    target = candidate_id_of(app, world.candidates[0]["admission_no"])
    act(first, "incident", session_id=world.session_id, candidate_id=target, kind="expulsion", note="替考")
    ack = act(first, "watch", session_id=world.session_id)
    row = ack["roster"][0]
    assert row["id_number_masked"].count("*") >= 8
    assert world.candidates[0]["id_number"] not in str(ack)
    assert row["employer"] == "常州某厂" and row["verified_at"] is None and row["as_of"]
    assert [p["note"] for p in ack["pending_incidents"]] == ["替考"]


def test_starting_the_room_pushes_the_session(app, open_world, console, terminal) -> None:
    world = open_world(start_mode="proctor")
    proctor = console(assign_to=world.session_id)
    act(proctor, "watch", session_id=world.session_id)
    assert act(proctor, "start_room", session_id=world.session_id)["ok"]
    sessions = pushed(proctor, "session")
    assert sessions and sessions[-1]["room_started_at"] is not None


def test_logging_out_closes_the_console(app, open_world, create_user) -> None:
    world = open_world()
    create_user("p-out", "admin", "secret-pass")
    http = app.test_client()
    assert http.post("/api/login", json={"username": "p-out", "password": "secret-pass"}).status_code == 200
    client = socketio.test_client(app, namespace="/proctor", flask_test_client=http)
    assert act(client, "watch", session_id=world.session_id)["ok"]
    from tests.conftest import csrf_token

    token = csrf_token(http, "/login")
    assert http.post("/api/logout", headers={"X-CSRFToken": token}).status_code == 200
    assert not client.is_connected("/proctor")
