"""The clock's background work: heartbeat and restart credit, sweeper, ticker, presence.

One worker of a deployment holds the clock lease (a row in ``server_clock``) and runs the
heartbeat, the sweeper and the ticker; a second worker waits and takes over if the first stops
beating. Every worker refreshes the presence of the terminals connected to it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, update

from examserver.db import transaction, utcnow
from examserver.delivery import service
from examserver.delivery.clock import AttemptStatus, ms
from examserver.delivery.models import Attempt, ServerClock

log = logging.getLogger("examserver.delivery.tasks")

LEASE = "clock"
BEAT_EVERY = dt.timedelta(seconds=1)
LEASE_TIMEOUT = dt.timedelta(seconds=10)
# The ticker wakes every TICK_EVERY and ticks one slot (attempt id modulo TICK_SLOTS): every
# terminal hears the clock every TICK_EVERY * TICK_SLOTS = 5 s, never a whole room at once.
TICK_EVERY = 0.2
TICK_SLOTS = 25
PRESENCE_EVERY = dt.timedelta(seconds=15)
# A gap between heartbeats shorter than this is normal jitter, not an outage.
CREDIT_THRESHOLD = dt.timedelta(seconds=3)


class ClockTasks:
    """Background tasks of one worker; each step is also callable on its own (tests)."""

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        app_context: Callable[[], Any],
        emit_state: Callable[[int, dict[str, Any]], None],
        emit_tick: Callable[[int, int], None],
        local_sids: Callable[[], list[str]],
        sleep: Callable[[float], None],
        start_task: Callable[..., Any],
    ) -> None:
        self.owner = uuid.uuid4().hex
        self._engine = engine_factory
        self._app_context = app_context
        self._emit_state = emit_state
        self._emit_tick = emit_tick
        self._local_sids = local_sids
        self._sleep = sleep
        self._start_task = start_task
        self.leader = False
        self._tick_slot = 0
        self._last_presence: dt.datetime | None = None
        self.running = False

    def start(self) -> None:
        if not self.running:
            self.running = True
            self._start_task(self._loop)
            self._start_task(self._tick_loop)

    def _tick_loop(self) -> None:
        while self.running:
            if self.leader:
                try:
                    self.tick(utcnow(), slot=self._tick_slot)
                except Exception:  # noqa: BLE001
                    log.exception("clock tick failed")
                self._tick_slot = (self._tick_slot + 1) % TICK_SLOTS
            self._sleep(TICK_EVERY)

    def stop(self) -> None:
        self.running = False

    def _loop(self) -> None:
        while self.running:
            try:
                self.step(utcnow())
            except Exception:  # noqa: BLE001  (the clock must keep going)
                log.exception("clock step failed")
            self._sleep(BEAT_EVERY.total_seconds())

    def step(self, now: dt.datetime) -> None:
        """One beat: hold or take the lease; as leader sweep; refresh presence (ticks run in
        their own loop)."""
        self.beat(now)
        if self.leader:
            self.sweep(now)
        if self._last_presence is None or now - self._last_presence >= PRESENCE_EVERY:
            self.refresh_presence(now)
            self._last_presence = now

    def beat(self, now: dt.datetime) -> int:
        """Renew or take the clock lease; on taking it, credit the time nobody was beating.

        Returns the milliseconds credited to running attempts (0 when none).
        """
        with self._app_context(), transaction(self._engine(), write=True) as db:
            row = db.scalar(
                select(ServerClock)
                .where(ServerClock.name == LEASE)
                .execution_options(populate_existing=True)
            )
            if row is None:
                db.add(ServerClock(name=LEASE, owner=self.owner, beat_at=now))
                self.leader = True
                return 0
            if row.owner == self.owner:
                row.beat_at = max(row.beat_at, now)
                self.leader = True
                return 0
            if row.owner and now - row.beat_at < LEASE_TIMEOUT:
                self.leader = False  # another live worker holds the clock
                return 0
            # Nobody holds the clock (a restart, or its holder died): take it, and give every
            # running attempt back the time nobody was keeping it.
            gap = now - row.beat_at
            row.owner = self.owner
            row.beat_at = now
            self.leader = True
            if gap <= CREDIT_THRESHOLD:
                return 0
            credited = ms(gap - BEAT_EVERY)
            count = service.credit_downtime(db, credited)
            log.warning(
                "the clock stood still for %.1f s: credited %d running attempts",
                gap.total_seconds(),
                count,
            )
            return credited

    def sweep(self, now: dt.datetime) -> list[int]:
        """Submit and grade every running attempt past its deadline, connected or not.

        A room that started together reaches its deadline together: grading a paper takes a few
        ms of the one loop, so the sweeper yields after each submission and every other
        terminal's answers keep being acknowledged while a thousand attempts are graded.
        """
        with self._app_context(), transaction(self._engine()) as db:
            overdue = service.overdue_attempt_ids(db, now)
        submitted = []
        for index, attempt_id in enumerate(overdue):
            if index:
                self._sleep(0)
            try:
                with self._app_context(), transaction(self._engine(), write=True) as db:
                    service.submit_attempt(db, attempt_id, now, reason="timeout")
                    attempt = db.get(Attempt, attempt_id)
                    assert attempt is not None
                    state = service.state_payload(db, attempt, now)
            except service.DeliveryError:
                log.exception("timeout submission of attempt %s refused", attempt_id)
                continue
            submitted.append(attempt_id)
            with self._app_context():
                self._emit_state(attempt_id, state)
        return submitted

    def tick(self, now: dt.datetime, slot: int | None = None) -> int:
        """Send running or paused attempts' terminals their remaining time.

        ``slot`` ticks one slot of the attempts (by id), so that the ticker reaches each terminal
        every 5 s without a burst of a whole room's messages; None ticks all.
        """
        table = Attempt.__table__
        query = select(table.c.id, table.c.status, table.c.deadline_at, table.c.paused_at).where(
            table.c.status.in_([AttemptStatus.running.value, AttemptStatus.paused.value]),
            table.c.terminal_sid.is_not(None),
        )
        if slot is not None:
            query = query.where(table.c.id % TICK_SLOTS == slot)
        with self._app_context(), transaction(self._engine()) as db:
            rows = db.execute(query).all()
        ticks = []
        for attempt_id, status, deadline, paused_at in rows:
            at = paused_at if status == AttemptStatus.paused.value and paused_at else now
            ticks.append((attempt_id, max(0, ms(deadline - at)) if deadline else 0))
        with self._app_context():
            for attempt_id, remaining in ticks:
                self._emit_tick(attempt_id, remaining)
        return len(ticks)

    def refresh_presence(self, now: dt.datetime) -> None:
        sids = self._local_sids()
        if sids:
            with self._app_context(), transaction(self._engine(), write=True) as db:
                service.refresh_presence(db, sids, now)

    def release(self) -> None:
        """Give up the lease on a clean shutdown (the next start credits nothing)."""
        with self._app_context(), transaction(self._engine(), write=True) as db:
            db.execute(
                update(ServerClock)
                .where(ServerClock.name == LEASE, ServerClock.owner == self.owner)
                .values(owner="")
            )
