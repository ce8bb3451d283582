"""The answer writer's statements on SQLite and PostgreSQL, through a bare connection (the
answers-only path) and through an ORM session (batches with other operations)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from examserver.db import transaction, utcnow
from examserver.delivery.writer import AnswerWrite, apply_writes
from examserver.extensions import db


@pytest.fixture
def running_attempt(any_db_app):
    """A running attempt with three paper items, on SQLite and on PostgreSQL."""
    from examserver.delivery.models import Attempt
    from examserver.papers.models import Blueprint, BlueprintSection, Paper, PaperItem
    from examserver.question_bank.operations import create_question, get_or_create_bank
    from examserver.question_bank.types import QuestionContent
    from examserver.sessions.models import Candidate, ExamSession, Registration

    with any_db_app.app_context():
        bank = get_or_create_bank(db.session, "W1", "writer")
        versions = [
            create_question(
                db.session, bank, QuestionContent("judge", f"判断{i}", [], ["T"])
            ).current_version_id
            for i in range(3)
        ]
        blueprint = Blueprint(code="BW", name="w", bank_id=bank.id, sections=[
            BlueprintSection(position=0, type="judge", count=3, points=1)])
        now = utcnow()
        exam = ExamSession(code="SW", name="w", blueprint=blueprint, opens_at=now,
                           closes_at=now + dt.timedelta(hours=2))
        candidate = Candidate(id_number="11010519491231002X", name="甲")
        db.session.add_all([exam, candidate])
        db.session.flush()
        registration = Registration(session_id=exam.id, candidate_id=candidate.id, admission_no="W-1")
        paper = Paper(blueprint_id=blueprint.id, seed="s", items=[
            PaperItem(position=i + 1, section_index=0, question_version_id=v, points=1)
            for i, v in enumerate(versions)])
        db.session.add_all([registration, paper])
        db.session.flush()
        attempt = Attempt(registration_id=registration.id, session_id=exam.id, paper_id=paper.id,
                          status="running", duration_ms=3_600_000, started_at=now,
                          deadline_at=now + dt.timedelta(hours=1))
        db.session.add(attempt)
        db.session.commit()
        return any_db_app, attempt.id, [i.id for i in paper.items]


@pytest.mark.parametrize("through", ["connection", "session"])
def test_writes_apply_in_order_on_every_database(running_attempt, through) -> None:
    from examserver.delivery.models import Answer, Attempt

    app, attempt_id, items = running_attempt
    writes = [
        AnswerWrite(attempt_id, items[0], 2, choice=["T"]),
        AnswerWrite(attempt_id, items[0], 1, choice=["F"]),  # older: refused
        AnswerWrite(attempt_id, items[1], 3, flagged=True),
        AnswerWrite(attempt_id, items[2], 4, choice=["F"]),
    ]
    with app.app_context():
        if through == "connection":
            with db.engine.connect() as conn, conn.begin():
                apply_writes(conn, writes, utcnow())
        else:
            with transaction(db.engine, write=True) as session:
                apply_writes(session, writes, utcnow())
        assert [w.result for w in writes] == [(True, None), (False, "stale_seq"), (True, None), (True, None)]
        rows = {a.paper_item_id: (a.choice, a.choice_seq, a.flagged) for a in db.session.query(Answer)}
        assert rows == {items[0]: (["T"], 2, False), items[1]: ([], 0, True), items[2]: (["F"], 4, False)}
        attempt = db.session.get(Attempt, attempt_id)
        assert (attempt.last_seq, attempt.answered_count) == (4, 2)


def test_a_batch_holds_a_bounded_number_of_operations_and_the_loop_runs_between(app) -> None:
    """A room that submits at once: each operation costs milliseconds, so a batch takes at most
    MAX_OPERATIONS of them, in order, and the writer yields before the next batch."""
    import queue
    import threading

    from examserver.delivery.writer import MAX_OPERATIONS, AnswerWriter, Operation

    tasks: list[Any] = []
    slept: list[float] = []
    applied: list[int] = []
    batches_seen: list[int] = []
    writer = AnswerWriter(
        engine_factory=lambda: db.engine,
        create_queue=queue.Queue,
        queue_empty=queue.Empty,
        create_event=threading.Event,
        start_task=lambda target, *args: tasks.append(target),
        app_context=app.app_context,
        sleep=lambda seconds: (slept.append(seconds), batches_seen.append(writer.batches)),
    )
    count = 2 * MAX_OPERATIONS + 10
    results: dict[int, Any] = {}

    def submit(n: int) -> None:
        results[n] = writer.run(Operation(lambda session, now, n=n: applied.append(n) or n))

    # Queue every operation before the writer starts, as a room's submissions arrive together.
    threads = []
    for n in range(count):
        thread = threading.Thread(target=submit, args=(n,), daemon=True)
        thread.start()
        threads.append(thread)
        while writer._queue.qsize() < n + 1:  # noqa: SLF001  (keep the arrival order)
            threading.Event().wait(0.001)
    assert len(tasks) == 1
    threading.Thread(target=tasks[0], daemon=True).start()
    for thread in threads:
        thread.join(10)
    assert results == {n: n for n in range(count)}
    assert applied == list(range(count))  # in arrival order
    assert writer.batches == 3 and writer.writes == count
    assert slept == [0, 0] and batches_seen == [1, 2]  # a yield after each full batch
