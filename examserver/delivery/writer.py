"""The answer writer: the one place that writes answers and flags, with group commit.

Handlers hand it a write and wait. It gathers the writes that arrive while a commit is running
into one transaction, applies each in order with its sequence number checked against the stored
one (an older write never wins), commits, and only then releases every waiting handler with its
result: one commit, many acknowledgements, and an acknowledgement always means "on disk".
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Select, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from examserver.db import transaction, utcnow
from examserver.delivery.clock import AttemptStatus
from examserver.delivery.models import Answer, Attempt
from examserver.delivery.service import DeliveryError

log = logging.getLogger("examserver.delivery.writer")

MAX_BATCH = 512
# Operations cost milliseconds each (a submission grades a paper), answers microseconds: a batch
# holds at most this many operations, and the writer lets the loop run between batches, so that
# a room submitting at once cannot hold every other terminal's acknowledgements for a second.
MAX_OPERATIONS = 64


@dataclass
class AnswerWrite:
    """One change from a terminal: a choice or a flag on one paper item, with its seq."""

    attempt_id: int
    item_id: int
    seq: int
    choice: list[str] | None = None  # None: this write is a flag
    flagged: bool | None = None
    result: tuple[bool, str | None] | None = None  # (ok, error code)
    done: Any = field(default=None, repr=False)


def apply_writes(
    db: Session | Connection, writes: Sequence[AnswerWrite], now: dt.datetime
) -> None:
    """Apply writes in order inside the caller's transaction, setting each one's result.

    A write is refused with not_running (the attempt is not running), deadline_passed (its
    deadline is reached) or stale_seq (a newer change of the same question is stored). A write
    whose seq is already stored with the same value is acknowledged again (idempotent resend).
    Core statements built once (``_statements``), executed many at a time: this is the hot path
    of the whole system.
    """
    conn = db if isinstance(db, Connection) else db.connection()
    statements = _statements()
    attempt_ids = sorted({w.attempt_id for w in writes})
    query = statements.attempts_locked if conn.dialect.name == "postgresql" else statements.attempts
    attempts = {r.id: dict(r._mapping) for r in conn.execute(query, {"attempt_ids": attempt_ids})}
    answers: dict[tuple[int, int], dict[str, Any]] = {
        (r.attempt_id, r.paper_item_id): dict(r._mapping)
        for r in conn.execute(
            statements.answers,
            {"attempt_ids": attempt_ids, "item_ids": sorted({w.item_id for w in writes})},
        )
    }
    touched_attempts: set[int] = set()
    touched_answers: dict[tuple[int, int], dict[str, Any]] = {}
    for write in writes:
        attempt = attempts.get(write.attempt_id)
        if attempt is None or attempt["status"] != AttemptStatus.running.value:
            write.result = (False, "not_running")
            continue
        if attempt["deadline_at"] is not None and now >= attempt["deadline_at"]:
            write.result = (False, "deadline_passed")
            continue
        key = (write.attempt_id, write.item_id)
        answer = answers.get(key)
        if answer is None:
            answer = {
                "id": None,
                "attempt_id": write.attempt_id,
                "paper_item_id": write.item_id,
                "choice": [],
                "choice_seq": 0,
                "flagged": False,
                "flag_seq": 0,
            }
            answers[key] = answer
        was_answered = bool(answer["choice"])
        write.result = _apply_dict(answer, write)
        if write.result[0]:
            touched_answers[key] = answer
            touched_attempts.add(write.attempt_id)
            attempt["answered_count"] += int(bool(answer["choice"])) - int(was_answered)
            attempt["last_seq"] = max(attempt["last_seq"], write.seq)
    fresh = [a for a in touched_answers.values() if a["id"] is None]
    known = [a for a in touched_answers.values() if a["id"] is not None]
    if fresh:
        conn.execute(
            statements.insert_answers,
            [
                {
                    "attempt_id": a["attempt_id"],
                    "paper_item_id": a["paper_item_id"],
                    "choice": a["choice"],
                    "choice_seq": a["choice_seq"],
                    "flagged": a["flagged"],
                    "flag_seq": a["flag_seq"],
                    "updated_at": now,
                }
                for a in fresh
            ],
        )
    if known:
        conn.execute(
            statements.update_answers,
            [
                {
                    "b_id": a["id"],
                    "b_choice": a["choice"],
                    "b_choice_seq": a["choice_seq"],
                    "b_flagged": a["flagged"],
                    "b_flag_seq": a["flag_seq"],
                    "b_now": now,
                }
                for a in known
            ],
        )
    if touched_attempts:
        conn.execute(
            statements.update_attempts,
            [
                {
                    "b_id": i,
                    "b_last_seq": attempts[i]["last_seq"],
                    "b_count": attempts[i]["answered_count"],
                    "b_now": now,
                }
                for i in sorted(touched_attempts)
            ],
        )


@dataclass(frozen=True)
class _Statements:
    attempts: Select[Any]
    attempts_locked: Select[Any]
    answers: Select[Any]
    insert_answers: Insert
    update_answers: Update
    update_attempts: Update


@functools.cache
def _statements() -> _Statements:
    """The writer's statements, built once with their parameters bound at execution: a
    statement built per batch is a few hundred objects in reference cycles (bind parameters,
    anonymous labels) that the garbage collector has to find, a hundred times a second."""
    answers = Answer.__table__
    attempts = Attempt.__table__
    read_attempts = select(
        attempts.c.id,
        attempts.c.status,
        attempts.c.deadline_at,
        attempts.c.last_seq,
        attempts.c.answered_count,
    ).where(attempts.c.id.in_(bindparam("attempt_ids", expanding=True)))
    return _Statements(
        attempts=read_attempts,
        attempts_locked=read_attempts.with_for_update(),
        answers=select(
            answers.c.id,
            answers.c.attempt_id,
            answers.c.paper_item_id,
            answers.c.choice,
            answers.c.choice_seq,
            answers.c.flagged,
            answers.c.flag_seq,
        ).where(
            answers.c.attempt_id.in_(bindparam("attempt_ids", expanding=True)),
            answers.c.paper_item_id.in_(bindparam("item_ids", expanding=True)),
        ),
        insert_answers=insert(answers),
        update_answers=update(answers)
        .where(answers.c.id == bindparam("b_id"))
        .values(
            choice=bindparam("b_choice"),
            choice_seq=bindparam("b_choice_seq"),
            flagged=bindparam("b_flagged"),
            flag_seq=bindparam("b_flag_seq"),
            updated_at=bindparam("b_now"),
        ),
        update_attempts=update(attempts)
        .where(attempts.c.id == bindparam("b_id"))
        .values(
            last_seq=bindparam("b_last_seq"),
            answered_count=bindparam("b_count"),
            last_activity_at=bindparam("b_now"),
        ),
    )


def _apply_dict(answer: dict[str, Any], write: AnswerWrite) -> tuple[bool, str | None]:
    if write.choice is not None:
        if write.seq < answer["choice_seq"]:
            return (False, "stale_seq")
        if write.seq == answer["choice_seq"]:
            return (True, None) if list(answer["choice"]) == write.choice else (False, "stale_seq")
        answer["choice"] = list(write.choice)
        answer["choice_seq"] = write.seq
    else:
        if write.seq < answer["flag_seq"]:
            return (False, "stale_seq")
        if write.seq == answer["flag_seq"]:
            ok = answer["flagged"] == bool(write.flagged)
            return (True, None) if ok else (False, "stale_seq")
        answer["flagged"] = bool(write.flagged)
        answer["flag_seq"] = write.seq
    return (True, None)


@dataclass
class Operation:
    """Any other write of the hot path (a login, a terminal attaching, a start, a room event),
    applied in the writer's batch transaction under a savepoint of its own.

    ``apply(db, now)`` returns plain data (no ORM objects: the session closes after the commit);
    a DeliveryError it raises refuses this operation alone. ``attempt_ids`` and ``events``
    ((session_id, event row) pairs appended by ``apply``) are pushed to the proctors after the
    commit. ``savepoint=False`` is for an ``apply`` that raises its refusals before it writes
    anything (a savepoint costs two statements, and a room starts in the same second).
    """

    apply: Callable[[Session, dt.datetime], Any]
    attempt_ids: set[int] = field(default_factory=set)
    savepoint: bool = True
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None
    done: Any = field(default=None, repr=False)


Write = AnswerWrite | Operation


class AnswerWriter:
    """The group-commit loop, a background task of the Socket.IO server.

    Everything the delivery hot path writes goes through here, so that a room of candidates
    who all act in the same second costs a few commits (and fsyncs), not one each.
    """

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        create_queue: Callable[[], Any],
        queue_empty: type[BaseException],
        create_event: Callable[[], Any],
        start_task: Callable[..., Any],
        app_context: Callable[[], Any],
        after_commit: Callable[[set[int], list[tuple[int, dict[str, Any]]]], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._engine_factory = engine_factory
        self._create_event = create_event
        self._queue = create_queue()
        self._queue_empty = queue_empty
        self._start_task = start_task
        self._app_context = app_context
        self._after_commit = after_commit
        self._sleep = sleep
        self._started = False
        self.batches = 0
        self.writes = 0

    def _enqueue(self, item: Write) -> None:
        if not self._started:
            self._started = True
            self._start_task(self._run)
        item.done = self._create_event()
        self._queue.put(item)

    def write(self, write: AnswerWrite, timeout: float = 15.0) -> tuple[bool, str | None]:
        """Queue an answer or flag and wait until it is committed (or refused)."""
        self._enqueue(write)
        if not write.done.wait(timeout):
            log.error("answer write for attempt %s timed out", write.attempt_id)
            return (False, "server_busy")
        assert write.result is not None
        return write.result

    def run(self, operation: Operation, timeout: float = 15.0) -> Any:
        """Queue an operation, wait for its commit, and return its result (or raise its error)."""
        self._enqueue(operation)
        if not operation.done.wait(timeout):
            log.error("writer operation timed out")
            raise DeliveryError("server_busy", status=503)
        if operation.error is not None:
            raise operation.error
        return operation.result

    def _drain(self, first: Write) -> list[Write]:
        """The next batch: what is queued, in order, up to MAX_BATCH writes and MAX_OPERATIONS
        operations (what does not fit stays queued for the next batch)."""
        batch = [first]
        operations = int(isinstance(first, Operation))
        while len(batch) < MAX_BATCH and operations < MAX_OPERATIONS:
            try:
                item = self._queue.get_nowait()
            except self._queue_empty:
                break
            batch.append(item)
            operations += isinstance(item, Operation)
        return batch

    def _run(self) -> None:
        while True:
            batch = self._drain(self._queue.get())
            try:
                self._commit(batch)
            except Exception:  # noqa: BLE001
                log.exception("group commit of %d writes failed; retrying one by one", len(batch))
                for item in batch:
                    try:
                        self._commit([item])
                    except Exception as exc:  # noqa: BLE001
                        log.exception("write failed")
                        if isinstance(item, AnswerWrite):
                            item.result = (False, "server_error")
                        else:
                            item.error = DeliveryError("server_error", status=500)
                            item.error.__cause__ = exc
            for item in batch:
                item.done.set()
            self._notify(batch)
            if self._sleep is not None and not self._queue.empty():
                # More is queued (a full batch): let the acknowledged handlers answer first.
                self._sleep(0)

    def _notify(self, batch: Sequence[Write]) -> None:
        """Hand the after-commit hook what the batch changed, on this thread: the hook only
        records it for the proctor pusher (``proctor.live.Pusher``), which coalesces the pushes
        of many batches into one, so no task is spawned per batch."""
        if self._after_commit is None:
            return
        changed: set[int] = set()
        events: list[tuple[int, dict[str, Any]]] = []
        for item in batch:
            if isinstance(item, AnswerWrite):
                if item.result and item.result[0]:
                    changed.add(item.attempt_id)
            elif item.error is None:
                changed |= item.attempt_ids
                events.extend(item.events)
        if changed or events:
            self._push(changed, events)

    def _push(self, changed: set[int], events: list[tuple[int, dict[str, Any]]]) -> None:
        """Call the hook; its failure is logged and never stops the writer."""
        assert self._after_commit is not None
        try:
            with self._app_context():
                self._after_commit(changed, events)
        except Exception:  # noqa: BLE001  (the proctors' view must not stop saving)
            log.exception("after-commit notification failed")

    def _commit(self, batch: Sequence[Write]) -> None:
        answers = [w for w in batch if isinstance(w, AnswerWrite)]
        with self._app_context():
            engine = self._engine_factory()
            if len(answers) == len(batch):
                # Only answers: Core on a bare connection, no ORM session (the common case).
                options = {"sqlite_begin": "IMMEDIATE"} if engine.dialect.name == "sqlite" else {}
                with engine.connect().execution_options(**options) as conn, conn.begin():
                    apply_writes(conn, answers, utcnow())
            else:
                with transaction(engine, write=True) as db:
                    now = utcnow()
                    if answers:
                        apply_writes(db, answers, now)
                    for item in batch:
                        if isinstance(item, Operation):
                            _apply_operation(db, item, now)
        self.batches += 1
        self.writes += len(batch)


def _apply_operation(db: Session, operation: Operation, now: dt.datetime) -> None:
    operation.events.clear()
    if not operation.savepoint:
        try:
            operation.result = operation.apply(db, now)
            operation.error = None
        except DeliveryError as exc:
            operation.events.clear()
            operation.error = exc
        return
    savepoint = db.begin_nested()
    try:
        operation.result = operation.apply(db, now)
        operation.error = None
        savepoint.commit()
    except DeliveryError as exc:
        savepoint.rollback()
        operation.events.clear()
        operation.error = exc
