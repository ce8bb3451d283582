"""The `/exam` protocol end to end through Flask-SocketIO's test client (threading mode)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from examserver.delivery.models import Answer, Attempt
from examserver.extensions import db, socketio
from tests.delivery.conftest import questions_of, received


def _start(client: Any) -> dict[str, Any]:
    received(client, "state")
    ack = client.emit("start", {}, namespace="/exam", callback=True)
    assert ack == {"ok": True}
    states = received(client, "state")
    assert states, "no state after start"
    return states[-1]


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_login_gives_a_token_and_connect_sends_the_waiting_state(open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    assert client.is_connected("/exam")
    state = received(client, "state")[0]
    assert state["attempt"]["status"] == "waiting"
    assert state["attempt"]["remaining_ms"] == state["attempt"]["duration_ms"] == 60 * 60_000
    assert "paper" not in state  # no question before the start
    assert state["answers"] == {} and state["flags"] == [] and state["last_seq"] == 0


def test_start_delivers_the_paper_by_the_blueprint(open_world, terminal) -> None:
    world = open_world()
    state = _start(terminal(world.candidates[0]))
    assert state["attempt"]["status"] == "running"
    sections = state["paper"]["sections"]
    assert [(s["type"], len(s["questions"]), s["points"]) for s in sections] == [
        ("judge", 6, 1.0),
        ("single", 4, 2.0),
        ("multi", 2, 3.0),
    ]
    ids = [q["id"] for q in questions_of(state)]
    assert len(set(ids)) == len(ids)


def test_no_answer_key_in_anything_a_candidate_receives(app, open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    state = _start(client)
    question = questions_of(state)[0]
    client.emit(
        "answer",
        {"question_id": question["id"], "choice": [question["options"][0]["key"]], "seq": 1},
        namespace="/exam",
        callback=True,
    )
    everything = [state, *received(client, "state"), *received(client, "tick")]
    keys = set()
    for message in everything:
        keys |= set(_walk(message))
    assert not keys & {"answer", "correct", "explanation", "key_answer", "points_earned"}
    # The terminal page and its scripts carry no key either.
    with app.app_context():
        from examserver.question_bank.models import QuestionVersion

        multi_answers = [
            v.answer for v in db.session.query(QuestionVersion).filter_by(type="multi")
        ]
    page = app.test_client().get("/exam").get_data(as_text=True)
    for answer in multi_answers:
        assert json.dumps(answer) not in page


def test_answers_are_saved_and_come_back_on_reconnect(open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    questions = questions_of(_start(client))
    single = next(q for q in questions if len(q["options"]) == 4)
    multi = next(q for q in questions if len(q["options"]) == 5)
    acks = [
        client.emit("answer", {"question_id": single["id"], "choice": [single["options"][2]["key"]], "seq": 1}, namespace="/exam", callback=True),
        client.emit("answer", {"question_id": multi["id"], "choice": [o["key"] for o in multi["options"][:2]], "seq": 2}, namespace="/exam", callback=True),
        client.emit("flag", {"question_id": multi["id"], "flagged": True, "seq": 3}, namespace="/exam", callback=True),
        client.emit("navigate", {"position": 7}, namespace="/exam", callback=True),
    ]
    assert acks == [{"ok": True, "seq": 1}, {"ok": True, "seq": 2}, {"ok": True, "seq": 3}, {"ok": True}]
    client.disconnect(namespace="/exam")
    again = terminal(world.candidates[0])
    state = received(again, "state")[0]
    assert state["answers"] == {
        str(single["id"]): [single["options"][2]["key"]],
        str(multi["id"]): [o["key"] for o in multi["options"][:2]],
    }
    assert state["flags"] == [multi["id"]]
    assert state["last_seq"] == 3
    assert state["attempt"]["position"] == 7


def test_older_sequence_numbers_never_overwrite_newer_answers(app, open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    question = next(q for q in questions_of(_start(client)) if len(q["options"]) == 4)
    keys = [o["key"] for o in question["options"]]

    def send(choice: list[str], seq: int) -> Any:
        return client.emit("answer", {"question_id": question["id"], "choice": choice, "seq": seq}, namespace="/exam", callback=True)

    assert send([keys[1]], 5) == {"ok": True, "seq": 5}
    stale = send([keys[0]], 3)  # arrived late, after seq 5
    assert stale["ok"] is False and stale["error"]["code"] == "stale_seq"
    assert send([keys[1]], 5) == {"ok": True, "seq": 5}  # the same change re-sent: idempotent
    conflict = send([keys[3]], 5)  # another change claiming an applied seq is refused
    assert conflict["ok"] is False and conflict["error"]["code"] == "stale_seq"
    assert send([], 6) == {"ok": True, "seq": 6}  # clearing an answer is a change too
    assert send([keys[2]], 8) == {"ok": True, "seq": 8}
    with app.app_context():
        answer = db.session.query(Answer).one()
        assert answer.choice == [keys[2]] and answer.choice_seq == 8
        assert db.session.get(Attempt, client.attempt_id).last_seq == 8


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("answer", None, "bad_payload"),
        ("answer", "text", "bad_payload"),
        ("answer", [1, 2], "bad_payload"),
        ("answer", {"question_id": "1", "choice": [], "seq": 1}, "bad_payload"),
        ("answer", {"question_id": True, "choice": [], "seq": 1}, "bad_payload"),
        ("answer", {"question_id": 1, "choice": "o1", "seq": 1}, "bad_payload"),
        ("answer", {"question_id": 1, "choice": [1], "seq": 1}, "bad_payload"),
        ("answer", {"question_id": 1, "choice": [], "seq": -1}, "bad_payload"),
        ("answer", {"question_id": 1, "choice": [], "seq": 1.5}, "bad_payload"),
        ("answer", {"question_id": 1, "choice": [], "seq": 2**60}, "bad_payload"),
        ("answer", {"question_id": 1, "choice": ["x" * 100_000], "seq": 1}, "bad_payload"),
        ("answer", {"question_id": 1, "choice": ["o1"] * 5000, "seq": 1}, "bad_payload"),
        ("answer", {"question_id": 999_999, "choice": [], "seq": 1}, "unknown_question"),
        ("flag", {"question_id": 1, "flagged": "yes", "seq": 1}, "bad_payload"),
        ("flag", {"question_id": 999_999, "flagged": True, "seq": 1}, "unknown_question"),
        ("navigate", {"position": -1}, "bad_payload"),
        ("navigate", {"position": "3"}, "bad_payload"),
    ],
)
def test_malformed_events_get_errors_and_change_nothing(app, open_world, terminal, event, payload, code) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    question = questions_of(_start(client))[0]
    assert client.emit("answer", {"question_id": question["id"], "choice": [question["options"][0]["key"]], "seq": 1}, namespace="/exam", callback=True)["ok"]
    ack = client.emit(event, payload, namespace="/exam", callback=True)
    assert ack["ok"] is False
    assert ack["error"]["code"] == code
    assert ack["error"]["message"]
    with app.app_context():
        answers = [(a.choice, a.choice_seq, a.flagged) for a in db.session.query(Answer)]
    assert answers == [([question["options"][0]["key"]], 1, False)]


def test_choices_are_checked_against_the_question(open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    questions = questions_of(_start(client))
    single = next(q for q in questions if len(q["options"]) == 4)
    judge = next(q for q in questions if len(q["options"]) == 2)
    cases = [
        (single, [single["options"][0]["key"], single["options"][1]["key"]]),  # two on a single
        (single, ["no-such-key"]),
        (judge, ["T", "T"]),
    ]
    for question, choice in cases:
        ack = client.emit("answer", {"question_id": question["id"], "choice": choice, "seq": 9}, namespace="/exam", callback=True)
        assert ack["error"]["code"] == "bad_choice", choice


def test_another_candidates_question_ids_are_refused(app, open_world, terminal) -> None:
    world = open_world(n=2)
    first = terminal(world.candidates[0], terminal_id="terminal-aaaa")
    second = terminal(world.candidates[1], terminal_id="terminal-bbbb")
    mine = {q["id"] for q in questions_of(_start(first))}
    theirs = [q for q in questions_of(_start(second)) if q["id"] not in mine]
    assert theirs, "the two papers are identical"
    ack = first.emit("answer", {"question_id": theirs[0]["id"], "choice": [theirs[0]["options"][0]["key"]], "seq": 1}, namespace="/exam", callback=True)
    assert ack["error"]["code"] == "unknown_question"
    with app.app_context():
        assert db.session.query(Answer).count() == 0


def test_error_messages_speak_the_terminals_language(open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0], lang="zh_CN")
    _start(client)
    ack = client.emit("answer", {"question_id": 999_999, "choice": [], "seq": 1}, namespace="/exam", callback=True)
    assert ack["error"]["code"] == "unknown_question"
    assert "试卷" in ack["error"]["message"]


def test_a_second_terminal_is_refused_while_the_first_is_connected(app, open_world, terminal) -> None:
    world = open_world()
    candidate = world.candidates[0]
    first = terminal(candidate, terminal_id="terminal-first")
    login = {"admission_no": candidate["admission_no"], "id_number": candidate["id_number"], "terminal": "terminal-other"}
    refused = app.test_client().post("/api/exam/login", json=login)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "terminal_in_use"
    # Even with a valid token, a socket from another terminal is refused.
    intruder = socketio.test_client(app, namespace="/exam", auth={"token": first.token, "terminal": "terminal-other"})
    assert not intruder.is_connected("/exam")
    # Once the first terminal is gone the candidate may move.
    first.disconnect(namespace="/exam")
    moved = terminal(candidate, terminal_id="terminal-other")
    assert moved.is_connected("/exam")
    # The first terminal's token was replaced by the new login.
    stale = socketio.test_client(app, namespace="/exam", auth={"token": first.token, "terminal": "terminal-first"})
    assert not stale.is_connected("/exam")


def test_the_same_terminal_may_reconnect_while_its_old_socket_lingers(open_world, terminal, app) -> None:
    world = open_world()
    first = terminal(world.candidates[0], terminal_id="terminal-same")
    again = socketio.test_client(app, namespace="/exam", auth={"token": first.token, "terminal": "terminal-same"})
    assert again.is_connected("/exam")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"admission_no": "S1-001", "id_number": "320402198001010031"}, 400, "bad_id_number"),
        ({"admission_no": "S1-999", "id_number": "11010519491231002X"}, 401, "bad_credentials"),
        ({"admission_no": "S1-001", "id_number": "11010519491231002X"}, 401, "bad_credentials"),
        ({"admission_no": 7, "id_number": "11010519491231002X"}, 400, "bad_payload"),
        ({"admission_no": "S1-001"}, 400, "bad_payload"),
        ({"admission_no": "S1-001", "id_number": "x" * 5000}, 400, "bad_payload"),
        ({"admission_no": "S1-001 OR 1=1", "id_number": "11010519491231002X"}, 400, "bad_payload"),
    ],
)
def test_login_refusals_have_stable_codes(app, open_world, payload, status, code) -> None:
    open_world()
    response = app.test_client().post("/api/exam/login", json=payload)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_socket_without_a_valid_token_is_refused(app, open_world) -> None:
    open_world()
    for auth in (None, {}, {"token": "forged", "terminal": "terminal-0001"}, {"token": 5}):
        client = socketio.test_client(app, namespace="/exam", auth=auth)
        assert not client.is_connected("/exam")


def test_the_state_sent_at_start_is_the_stored_state(app, open_world, terminal) -> None:
    """The start builds its `state` from what it wrote; a reconnect reads it from the database:
    the two must agree (apart from the time that passed)."""
    world = open_world()
    first = _start(terminal(world.candidates[0], terminal_id="terminal-0001"))
    from examserver.delivery.service import state_payload

    with app.app_context():
        attempt = db.session.get(Attempt, first["attempt"]["id"])
        stored = state_payload(db.session, attempt, attempt.started_at)
    stored["paper"] = stored["paper"].decode()
    for state in (first, stored):
        for key in ("remaining_ms", "elapsed_ms"):
            state["attempt"].pop(key)
    assert first == stored
    assert first["attempt"]["status"] == "running" and first["paper"]["sections"]
