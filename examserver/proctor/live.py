"""Pushing a room's changes to the consoles watching it: roster deltas and log entries.

Proctor actions push at once (``push_candidates``, ``push_events``); what the answer writer and
the sweeper change goes through the app's ``Pusher``, which coalesces it (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import current_app

from examserver.db import transaction, utcnow
from examserver.extensions import db, socketio
from examserver.notify import PROCTOR_NS, proctor_room, to_proctors
from examserver.proctor import service

log = logging.getLogger("examserver.proctor.live")

# How long the pusher lets changes gather before one push: a few batches' worth at exam pace,
# short enough that a change reaches the consoles well within a second.
COALESCE_SECONDS = 0.15
PUSHER = "examserver.proctor_pusher"
_PUSHER_LOCK = threading.Lock()
_ROOM_PREFIX = proctor_room(0).removesuffix("0")


def push_candidates(session_id: int, attempt_ids: set[int] | list[int], now: dt.datetime) -> None:
    """Send the proctors of a room the fresh roster rows of some candidates (deltas)."""
    if not attempt_ids or not _watched(session_id):
        return
    with transaction(db.engine) as session:
        rows = service.roster(session, session_id, now, attempt_ids)
    for row in rows:
        to_proctors(session_id, "candidate", row)


def push_attempts(attempt_ids: set[int]) -> None:
    """Push roster deltas for attempts of any sessions, coalesced by the app's pusher (the
    sweeper's timeout submissions: a whole room may reach its deadline in the same second)."""
    _pusher().record(attempt_ids, [])


def push_after_commit(attempt_ids: set[int], events: list[tuple[int, dict[str, Any]]]) -> None:
    """The answer writer's hook: hand what a batch changed to the pusher; no I/O, so the writer
    calls it on its own thread and goes straight back to committing."""
    _pusher().record(attempt_ids, events)


def push_changes(
    attempt_ids: set[int], events: list[tuple[int, dict[str, Any]]], now: dt.datetime
) -> None:
    """Push room events (in their order), then the roster rows of changed attempts of any
    sessions, read in one query; rooms no console watches are skipped."""
    watched = _watched_sessions()
    for session_id, row in events:
        if watched is None or session_id in watched:
            to_proctors(session_id, "event", row)
    if not attempt_ids or watched == set():
        return
    with transaction(db.engine) as session:
        rows = service.roster_rows(session, now, watched, attempt_ids)
    for session_id, row in rows:
        to_proctors(session_id, "candidate", row)


class Pusher:
    """Coalesces the proctor pushes of the answer writer's batches into one green thread.

    At exam pace the writer commits about a hundred batches a second, each touching an attempt
    or two; a roster query and a task per batch cost more server time than the writes, and the
    churn feeds the garbage collector. ``record`` only keeps ids and event rows in memory; the
    pusher (started on the first record) wakes when something is pending, waits ``interval`` so
    that more batches join, takes everything at once and pushes it. A change reaches the
    consoles after the interval plus at most one push: well within a second.
    """

    def __init__(
        self,
        start_task: Callable[..., Any],
        create_event: Callable[[], Any],
        sleep: Callable[[float], Any],
        app_context: Callable[[], Any],
        push: Callable[[set[int], list[tuple[int, dict[str, Any]]], dt.datetime], None] = (
            push_changes
        ),
        interval: float = COALESCE_SECONDS,
    ) -> None:
        self._start_task = start_task
        self._create_event = create_event
        self._sleep = sleep
        self._app_context = app_context
        self._push = push
        self._interval = interval
        self._lock = threading.Lock()
        self._attempts: set[int] = set()
        self._events: list[tuple[int, dict[str, Any]]] = []
        self._wake: Any = None
        self._failed = False
        self.pushes = 0

    def record(self, attempt_ids: set[int], events: list[tuple[int, dict[str, Any]]]) -> None:
        """Note what changed; the pusher sends it within ``interval`` plus one push."""
        if not attempt_ids and not events:
            return
        with self._lock:
            self._attempts |= attempt_ids
            self._events.extend(events)
            if self._wake is None:
                self._wake = self._create_event()
                self._start_task(self._run)
        self._wake.set()

    def _take(self) -> tuple[set[int], list[tuple[int, dict[str, Any]]]]:
        with self._lock:
            attempts, self._attempts = self._attempts, set()
            events, self._events = self._events, []
        return attempts, events

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._sleep(self._interval)
            # Cleared before taking: whatever is recorded after the take wakes the next round.
            self._wake.clear()
            attempts, events = self._take()
            if attempts or events:
                self._push_safely(attempts, events)

    def _push_safely(self, attempts: set[int], events: list[tuple[int, dict[str, Any]]]) -> None:
        """Push one round; never let a failure end the loop. A failed round is logged and put
        back once, so a passing fault (a locked database) delays the consoles by one interval;
        if the next round fails too it is dropped (the consoles catch up with the next change
        of each candidate or a new watch; event rows resent are ignored by id)."""
        try:
            with self._app_context():
                self._push(attempts, events, utcnow())
            self.pushes += 1
            self._failed = False
        except Exception:  # noqa: BLE001  (the proctors' view must not stop the pusher)
            log.exception(
                "proctor push of %d attempts and %d events failed", len(attempts), len(events)
            )
            if not self._failed:
                self._failed = True
                with self._lock:
                    self._attempts |= attempts
                    self._events[:0] = events
                self._wake.set()
            else:
                self._failed = False


def _pusher() -> Pusher:
    """The app's pusher, made on first use with the Socket.IO server's primitives (green
    threads under eventlet and gevent, threads in tests)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    pusher = app.extensions.get(PUSHER)
    if pusher is None:
        with _PUSHER_LOCK:
            pusher = app.extensions.get(PUSHER)
            if pusher is None:
                eio = socketio.server.eio
                pusher = Pusher(
                    start_task=socketio.start_background_task,
                    create_event=eio.create_event,
                    sleep=socketio.sleep,
                    app_context=app.app_context,
                )
                app.extensions[PUSHER] = pusher
    return pusher


def push_events(session_id: int, events: list[dict[str, Any]]) -> None:
    for event in events:
        to_proctors(session_id, "event", event)


def _watched(session_id: int) -> bool:
    """Whether any console may watch the session: with one worker, one of ours must be in its
    room; with a message queue the consoles may be on other workers, so always."""
    server = socketio.server
    if server is None or current_app.config["EXAMSERVER"]["MESSAGE_QUEUE"]:
        return True
    return any(True for _ in server.manager.get_participants(PROCTOR_NS, proctor_room(session_id)))


def _watched_sessions() -> set[int] | None:
    """The sessions some console of this worker watches; None (every session) with a message
    queue, whose consoles may be on other workers. Read from the rooms of the `/proctor`
    namespace, the bookkeeping ``get_participants`` reads too."""
    server = socketio.server
    if server is None or current_app.config["EXAMSERVER"]["MESSAGE_QUEUE"]:
        return None
    rooms = getattr(server.manager, "rooms", None)
    if rooms is None:
        return None
    watched = set()
    # A copy in one C call: in threading mode a connection may join a room meanwhile.
    for room, members in list(rooms.get(PROCTOR_NS, {}).items()):
        if isinstance(room, str) and room.startswith(_ROOM_PREFIX) and members:
            suffix = room[len(_ROOM_PREFIX) :]
            if suffix.isdigit():
                watched.add(int(suffix))
    return watched
