"""The proctor pusher: what many writer batches change reaches the consoles in one push."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from examserver.db import utcnow
from examserver.extensions import db
from examserver.proctor import live
from tests.delivery.conftest import questions_of, received
from tests.proctor.conftest import act, pushed

Changes = tuple[set[int], list[tuple[int, dict[str, Any]]]]


class Gate:
    """A pusher's sleep that holds the first round until the test opens it."""

    def __init__(self) -> None:
        self.opened = threading.Event()

    def sleep(self, seconds: float) -> None:
        assert seconds == live.COALESCE_SECONDS
        assert self.opened.wait(10), "the test never opened the gate"


def _threads() -> tuple[list[threading.Thread], Callable[..., Any]]:
    started: list[threading.Thread] = []

    def start(target: Callable[..., Any], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        started.append(thread)
        thread.start()

    return started, start


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def _pusher(app: Flask, gate: Gate, push: Callable[..., None]) -> tuple[live.Pusher, list[Any]]:
    started, start = _threads()
    pusher = live.Pusher(
        start_task=start,
        create_event=threading.Event,
        sleep=gate.sleep,
        app_context=app.app_context,
        push=push,
    )
    return pusher, started


def test_changes_recorded_meanwhile_go_out_in_one_push(app: Flask) -> None:
    gate = Gate()
    rounds: list[Changes] = []
    pusher, started = _pusher(app, gate, lambda a, e, now: rounds.append((a, e)))
    pusher.record(set(), [])
    assert started == []  # nothing to push, no task
    for n in range(1, 11):
        pusher.record({n, n + 1}, [(1, {"id": n})] if n % 2 else [])
    assert len(started) == 1  # one task, started on the first change
    gate.opened.set()
    _wait_for(lambda: pusher.pushes == 1)
    assert rounds == [(set(range(1, 12)), [(1, {"id": n}) for n in (1, 3, 5, 7, 9)])]
    pusher.record({42}, [])
    _wait_for(lambda: pusher.pushes == 2)
    assert rounds[1] == ({42}, []) and len(started) == 1


def test_a_failed_round_is_logged_and_put_back_once(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    gate.opened.set()
    rounds: list[Changes] = []
    failing = {1, 2, 4}  # rounds that fail: the first, its retry, and a later one

    def push(attempts: set[int], events: list[Any], now: dt.datetime) -> None:
        rounds.append((set(attempts), list(events)))
        if len(rounds) in failing:
            raise RuntimeError("database is locked")

    pusher, _started = _pusher(app, gate, push)
    with caplog.at_level(logging.ERROR, logger="examserver.proctor.live"):
        pusher.record({1}, [(1, {"id": 1})])
        # Round 1 fails and is put back; round 2 (its retry) fails too and is dropped.
        _wait_for(lambda: len(rounds) == 2)
        _wait_for(lambda: caplog.text.count("proctor push of 1 attempts and 1 events") == 2)
        pusher.record({2}, [])
        _wait_for(lambda: pusher.pushes == 1)  # round 3 goes out: the pusher carries on
        pusher.record({3}, [(1, {"id": 3})])
        _wait_for(lambda: pusher.pushes == 2)  # round 4 fails, round 5 retries it
    assert rounds == [
        ({1}, [(1, {"id": 1})]),
        ({1}, [(1, {"id": 1})]),
        ({2}, []),
        ({3}, [(1, {"id": 3})]),
        ({3}, [(1, {"id": 3})]),
    ]


def _emits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, dict[str, Any]]]:
    sent: list[tuple[int, str, dict[str, Any]]] = []
    monkeypatch.setattr(live, "to_proctors", lambda s, name, data: sent.append((s, name, data)))
    return sent


def test_push_sends_events_in_order_then_rows_of_watched_rooms_only(
    app: Flask, open_world: Any, console: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = open_world(n=2, code="S1")
    other = open_world(n=2, code="S2")
    proctor = console(assign_to=watched.session_id)
    assert act(proctor, "watch", session_id=watched.session_id)["ok"] is True
    with app.app_context():
        from examserver.delivery.models import Attempt

        ids = {
            a.session_id: a.id for a in db.session.query(Attempt).order_by(Attempt.id.desc())
        }
    sent = _emits(monkeypatch)
    events = [(other.session_id, {"id": 1}), (watched.session_id, {"id": 2}),
              (watched.session_id, {"id": 3})]  # fmt: skip
    with app.app_context():
        live.push_changes({ids[watched.session_id], ids[other.session_id]}, events, utcnow())
    assert [(s, name) for s, name, _ in sent] == [(watched.session_id, "event")] * 2 + [
        (watched.session_id, "candidate")
    ]
    assert [d["id"] for _s, name, d in sent if name == "event"] == [2, 3]
    assert sent[-1][2]["attempt_id"] == ids[watched.session_id]


def test_nobody_watching_costs_no_query(
    app: Flask, open_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = open_world(n=1)
    sent = _emits(monkeypatch)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            live.push_changes({1}, [(world.session_id, {"id": 1})], utcnow())
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    assert sent == [] and statements == []


def test_a_terminals_batches_reach_the_console_as_one_row(
    app: Flask, open_world: Any, console: Any, terminal: Any
) -> None:
    """Login, connect, start and five answers, each its own commit, make one push: the events
    in their order, then one roster row (the writer records, the pusher pushes)."""
    world = open_world(n=2)
    proctor = console(assign_to=world.session_id)
    assert act(proctor, "watch", session_id=world.session_id)["ok"] is True
    gate = Gate()
    app.extensions[live.PUSHER] = pusher = live.Pusher(
        start_task=_threads()[1],
        create_event=threading.Event,
        sleep=gate.sleep,
        app_context=app.app_context,
    )
    client = terminal(world.candidates[0])
    received(client, "state")
    assert client.emit("start", {}, namespace="/exam", callback=True) == {"ok": True}
    questions = questions_of(received(client, "state")[-1])
    for seq, question in enumerate(questions[:5], start=1):
        answer = {"question_id": question["id"], "choice": [question["options"][0]["key"]],
                  "seq": seq}  # fmt: skip
        assert client.emit("answer", answer, namespace="/exam", callback=True)["ok"] is True
    time.sleep(0.1)
    assert pushed(proctor, "candidate") == [] and pusher.pushes == 0
    gate.opened.set()
    _wait_for(lambda: pusher.pushes == 1)
    rows = pushed(proctor, "candidate")
    assert len(rows) == 1
    assert rows[0]["attempt_id"] == client.attempt_id
    assert rows[0]["answered"] == 5 and rows[0]["status"] == "answering"
    assert [e["kind"] for e in pushed(proctor, "event")] == ["login", "connect"]
