"""Submission and grading: the candidate's own, the deadline's with nobody connected, races,
the earliest-submit rule, the restart credit, and the card a pass issues."""

from __future__ import annotations

import datetime as dt
from typing import Any

from examserver.db import utcnow
from examserver.delivery import service
from examserver.delivery.models import Attempt, ServerClock
from examserver.extensions import db
from examserver.records.models import TrainingRecord
from tests.delivery.conftest import questions_of, received


def _start(client: Any) -> dict[str, Any]:
    received(client, "state")
    assert client.emit("start", {}, namespace="/exam", callback=True) == {"ok": True}
    return received(client, "state")[-1]


def _answer_all_correctly(app, client: Any, state: dict[str, Any]) -> None:
    from examserver.question_bank.models import QuestionVersion

    with app.app_context():
        keys = {q["id"]: db.session.get(QuestionVersion, q["id"]).answer for q in questions_of(state)}
    for seq, (question_id, answer) in enumerate(keys.items(), start=1):
        ack = client.emit("answer", {"question_id": question_id, "choice": answer, "seq": seq}, namespace="/exam", callback=True)
        assert ack["ok"], ack


def test_submit_grades_at_once_and_issues_the_card(app, open_world, terminal) -> None:
    world = open_world(pass_score=20)
    client = terminal(world.candidates[0])
    state = _start(client)
    _answer_all_correctly(app, client, state)
    ack = client.emit("submit", {}, namespace="/exam", callback=True)
    assert ack["ok"] is True
    result = ack["result"]
    assert (result["score"], result["max_score"], result["passed"]) == (20.0, 20.0, True)
    assert result["card_no"].startswith("PX")
    assert result["verify_url"].startswith("/verify/" + result["card_no"] + "/")
    final = received(client, "state")[-1]
    assert final["attempt"]["status"] == "submitted"
    assert "paper" not in final
    assert final["result"] == result
    with app.app_context():
        card = db.session.query(TrainingRecord).one()
        assert card.card_no == result["card_no"]
        assert card.name == "考生1" and card.kind == "retraining" and card.score == 20
        assert len(card.verify_code) == 12
    # Submitting again returns the same result and issues nothing more.
    again = client.emit("submit", {}, namespace="/exam", callback=True)
    assert again == {"ok": True, "result": result}
    with app.app_context():
        assert db.session.query(TrainingRecord).count() == 1


def test_a_fail_issues_no_card(app, open_world, terminal) -> None:
    world = open_world(pass_score=20)
    client = terminal(world.candidates[0])
    _start(client)
    ack = client.emit("submit", {}, namespace="/exam", callback=True)
    assert ack["result"]["passed"] is False and ack["result"]["score"] == 0
    assert ack["result"]["card_no"] is None and ack["result"]["verify_url"] is None
    with app.app_context():
        assert db.session.query(TrainingRecord).count() == 0


def test_earliest_submit_is_enforced(open_world, terminal) -> None:
    world = open_world(earliest_submit_min=30)
    client = terminal(world.candidates[0])
    _start(client)
    ack = client.emit("submit", {}, namespace="/exam", callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "too_early"


def test_answers_after_submission_are_refused(app, open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    question = questions_of(_start(client))[0]
    client.emit("submit", {}, namespace="/exam", callback=True)
    ack = client.emit("answer", {"question_id": question["id"], "choice": [question["options"][0]["key"]], "seq": 1}, namespace="/exam", callback=True)
    assert ack["error"]["code"] == "not_running"


def test_deadline_submits_with_no_terminal_connected(app, open_world, terminal) -> None:
    world = open_world(duration_min=60, pass_score=1)
    client = terminal(world.candidates[0])
    state = _start(client)
    judge = next(q for q in questions_of(state) if len(q["options"]) == 2)
    client.emit("answer", {"question_id": judge["id"], "choice": ["T"], "seq": 1}, namespace="/exam", callback=True)
    client.disconnect(namespace="/exam")
    clock = app.extensions["examserver.clock"]
    with app.app_context():
        attempt = db.session.get(Attempt, client.attempt_id)
        deadline = attempt.deadline_at
        assert attempt.terminal_sid is None
    assert clock.sweep(deadline - dt.timedelta(seconds=1)) == []
    assert clock.sweep(deadline) == [client.attempt_id]
    with app.app_context():
        attempt = db.session.get(Attempt, client.attempt_id)
        assert attempt.status == "submitted" and attempt.submit_reason == "timeout"
        assert attempt.score == 1 and attempt.passed
    assert clock.sweep(deadline + dt.timedelta(minutes=5)) == []  # once only


def test_an_answer_after_the_deadline_is_refused(app, open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    question = questions_of(_start(client))[0]
    with app.app_context():
        attempt = db.session.get(Attempt, client.attempt_id)
        attempt.deadline_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    ack = client.emit("answer", {"question_id": question["id"], "choice": [question["options"][0]["key"]], "seq": 1}, namespace="/exam", callback=True)
    assert ack["error"]["code"] == "deadline_passed"


def test_racing_submissions_grade_once(app, open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    _start(client)
    now = utcnow()
    with app.app_context():
        first = service.submit_attempt(db.session, client.attempt_id, now, reason="proctor")
        second = service.submit_attempt(db.session, client.attempt_id, now, reason="candidate")
        db.session.commit()
        attempt = db.session.get(Attempt, client.attempt_id)
        assert attempt.submit_reason == "proctor"
    assert not first.already and second.already
    assert (first.score, first.passed) == (second.score, second.passed)


def test_restart_credits_running_attempts_the_downtime(app, open_world, terminal) -> None:
    world = open_world(n=2)
    running = terminal(world.candidates[0], terminal_id="terminal-run1")
    _start(running)
    waiting = terminal(world.candidates[1], terminal_id="terminal-wait")
    now = utcnow()
    with app.app_context():
        before = db.session.get(Attempt, running.attempt_id).clock().remaining_ms(now)
        # The previous server beat last ten minutes ago, then died.
        db.session.add(ServerClock(name="clock", owner="old-server", beat_at=now - dt.timedelta(minutes=10)))
        db.session.commit()
    clock = app.extensions["examserver.clock"]
    credited = clock.beat(now)
    assert 9 * 60_000 <= credited <= 10 * 60_000
    with app.app_context():
        after = db.session.get(Attempt, running.attempt_id).clock().remaining_ms(now)
        assert after - before == credited
        untouched = db.session.get(Attempt, waiting.attempt_id)
        assert untouched.status == "waiting" and untouched.credited_ms == 0
    # The sweeper after the restart does not submit the credited attempt.
    assert clock.sweep(now) == []
    # Beating again while holding the lease credits nothing more.
    assert clock.beat(now + dt.timedelta(seconds=1)) == 0


def test_a_second_worker_waits_while_the_first_holds_the_clock(app, open_world) -> None:
    open_world()
    from examserver.delivery.tasks import ClockTasks

    first = app.extensions["examserver.clock"]
    now = utcnow()
    first.beat(now)
    second = ClockTasks(
        engine_factory=lambda: db.engine, app_context=app.app_context, emit_state=lambda *a: None,
        emit_tick=lambda *a: None, local_sids=list, sleep=lambda s: None, start_task=lambda f: None,
    )  # fmt: skip
    with app.app_context():
        assert second.beat(now + dt.timedelta(seconds=2)) == 0
    assert first.leader and not second.leader
    with app.app_context():
        # The first stops beating: after the lease timeout the second takes over.
        second.beat(now + dt.timedelta(seconds=30))
    assert second.leader


def test_ticks_carry_the_remaining_time(app, open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    _start(client)
    clock = app.extensions["examserver.clock"]
    with app.app_context():
        deadline = db.session.get(Attempt, client.attempt_id).deadline_at
    assert clock.tick(deadline - dt.timedelta(minutes=10)) == 1
    ticks = received(client, "tick")
    assert ticks == [{"remaining_ms": 10 * 60_000}]


def test_proctor_mode_waits_for_the_proctor(app, open_world, terminal) -> None:
    world = open_world(start_mode="proctor")
    client = terminal(world.candidates[0])
    ack = client.emit("start", {}, namespace="/exam", callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "waiting_for_proctor"
    with app.app_context():
        service.start_attempt(db.session, client.attempt_id, utcnow(), by_proctor=True)
        db.session.commit()
        assert db.session.get(Attempt, client.attempt_id).status == "running"


def test_the_result_says_why_the_paper_was_handed_in(app, open_world, terminal) -> None:
    world = open_world()
    client = terminal(world.candidates[0])
    _start(client)
    clock = app.extensions["examserver.clock"]
    with app.app_context():
        deadline = db.session.get(Attempt, client.attempt_id).deadline_at
    clock.sweep(deadline)
    assert received(client, "state")[-1]["result"]["reason"] == "timeout"


def test_admission_numbers_are_not_case_sensitive_and_rtt_answers(app, open_world) -> None:
    world = open_world()
    candidate = world.candidates[0]
    response = app.test_client().post(
        "/api/exam/login",
        json={"admission_no": candidate["admission_no"].lower(), "id_number": candidate["id_number"].lower(), "terminal": "terminal-0001"},
    )
    assert response.status_code == 200
    from examserver.extensions import socketio

    client = socketio.test_client(app, namespace="/exam", auth={"token": response.get_json()["token"], "terminal": "terminal-0001"})
    assert client.emit("rtt", {}, namespace="/exam", callback=True) == {}


def test_papers_are_rendered_when_drawn(app, open_world) -> None:
    open_world(n=2)
    from examserver.papers.models import Paper

    with app.app_context():
        papers = db.session.query(Paper).all()
        assert papers and all(p.view for p in papers)
        for paper in papers:
            stored = service.view_from_stored(paper.view)
            built = service.build_paper_view(db.session, paper.id)
            assert stored == built
            assert "answer" not in str(paper.view)


def test_the_sweeper_yields_between_the_submissions_of_a_room(app, open_world, terminal) -> None:
    """A room that started together reaches its deadline together: the sweeper grades one
    attempt, lets the loop run, grades the next."""
    from examserver.delivery.tasks import ClockTasks

    world = open_world()
    clients = [terminal(c, terminal_id=f"terminal-{i:04d}") for i, c in enumerate(world.candidates[:3])]
    for client in clients:
        _start(client)
    with app.app_context():
        deadline = max(db.session.get(Attempt, c.attempt_id).deadline_at for c in clients)
    slept: list[float] = []
    emitted: list[int] = []
    clock = ClockTasks(
        engine_factory=lambda: db.engine,
        app_context=app.app_context,
        emit_state=lambda attempt_id, state: emitted.append(attempt_id),
        emit_tick=lambda attempt_id, remaining: None,
        local_sids=lambda: [],
        sleep=slept.append,
        start_task=lambda *args: None,
    )
    submitted = clock.sweep(deadline)
    assert sorted(submitted) == sorted(c.attempt_id for c in clients) == sorted(emitted)
    assert slept == [0, 0]  # between the three submissions, not before the first
