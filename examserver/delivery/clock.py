"""The attempt clock: plain Python over stored instants, computed from the server's time.

An attempt stores what is needed to compute its time, never a countdown: when it started, its
deadline (moved by pauses, extensions and restart credits) and, while paused, since when. The
remaining time is always derived from ``now``, the server's clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace
from typing import Protocol


class AttemptStatus(enum.StrEnum):
    waiting = "waiting"
    running = "running"
    paused = "paused"
    submitted = "submitted"


class ClockError(ValueError):
    """A transition the attempt's state does not allow, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def ms(delta: dt.timedelta) -> int:
    """Return a timedelta in whole milliseconds."""
    return int(delta.total_seconds() * 1000)


# The stored columns an attempt's clock is made of, by name: an ``Attempt`` entity has them as
# attributes, and so does a Core row whose columns are labelled with these names.
CLOCK_FIELDS = (
    "status",
    "duration_ms",
    "earliest_submit_ms",
    "started_at",
    "deadline_at",
    "paused_at",
    "extension_ms",
    "paused_ms",
    "credited_ms",
)


class StoredClock(Protocol):
    """Anything carrying an attempt's stored clock columns (see ``CLOCK_FIELDS``)."""

    @property
    def status(self) -> str: ...
    @property
    def duration_ms(self) -> int: ...
    @property
    def earliest_submit_ms(self) -> int: ...
    @property
    def started_at(self) -> dt.datetime | None: ...
    @property
    def deadline_at(self) -> dt.datetime | None: ...
    @property
    def paused_at(self) -> dt.datetime | None: ...
    @property
    def extension_ms(self) -> int: ...
    @property
    def paused_ms(self) -> int: ...
    @property
    def credited_ms(self) -> int: ...


@dataclass(frozen=True)
class Clock:
    """The timing state of one attempt."""

    status: AttemptStatus
    duration_ms: int
    earliest_submit_ms: int = 0
    started_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    paused_at: dt.datetime | None = None
    extension_ms: int = 0
    paused_ms: int = 0
    credited_ms: int = 0

    @classmethod
    def of(cls, stored: StoredClock) -> Clock:
        """The clock of an attempt as stored: one reading for an ``Attempt`` entity and for a Core
        row of the same columns, so the roster's plain rows and the ORM agree by construction."""
        return cls(
            status=AttemptStatus(stored.status),
            duration_ms=stored.duration_ms,
            earliest_submit_ms=stored.earliest_submit_ms,
            started_at=stored.started_at,
            deadline_at=stored.deadline_at,
            paused_at=stored.paused_at,
            extension_ms=stored.extension_ms,
            paused_ms=stored.paused_ms,
            credited_ms=stored.credited_ms,
        )

    @property
    def allowed_ms(self) -> int:
        """The whole time allowed: duration plus extensions."""
        return self.duration_ms + self.extension_ms

    def remaining_ms(self, now: dt.datetime) -> int:
        """Milliseconds left at ``now``; a paused attempt's time stands still."""
        if self.status == AttemptStatus.waiting or self.deadline_at is None:
            return self.allowed_ms
        if self.status == AttemptStatus.submitted:
            return 0
        at = self.paused_at if self.status == AttemptStatus.paused and self.paused_at else now
        return max(0, ms(self.deadline_at - at))

    def elapsed_ms(self, now: dt.datetime) -> int:
        """Milliseconds of exam time used at ``now`` (pauses and credits excluded)."""
        if self.deadline_at is None:
            return 0
        return max(0, self.allowed_ms - self.remaining_ms(now))

    def may_submit(self, now: dt.datetime) -> bool:
        """Whether the earliest-submit time has passed (or the time is up)."""
        return self.elapsed_ms(now) >= self.earliest_submit_ms or self.remaining_ms(now) == 0

    def is_overdue(self, now: dt.datetime) -> bool:
        """Whether a running attempt has reached its deadline."""
        return (
            self.status == AttemptStatus.running
            and self.deadline_at is not None
            and now >= self.deadline_at
        )

    # -- transitions ---------------------------------------------------------------
    def start(self, now: dt.datetime) -> Clock:
        if self.status != AttemptStatus.waiting:
            raise ClockError("not_waiting", "the attempt has already started")
        return replace(
            self,
            status=AttemptStatus.running,
            started_at=now,
            deadline_at=now + dt.timedelta(milliseconds=self.allowed_ms),
        )

    def pause(self, now: dt.datetime) -> Clock:
        if self.status == AttemptStatus.paused:
            return self  # idempotent: two proctors pausing at once pause once
        if self.status != AttemptStatus.running:
            raise ClockError("not_running", "only a running attempt can be paused")
        return replace(self, status=AttemptStatus.paused, paused_at=now)

    def resume(self, now: dt.datetime) -> Clock:
        if self.status == AttemptStatus.running:
            return self
        if self.status != AttemptStatus.paused or self.paused_at is None:
            raise ClockError("not_paused", "only a paused attempt can be resumed")
        assert self.deadline_at is not None
        stood = max(dt.timedelta(0), now - self.paused_at)
        return replace(
            self,
            status=AttemptStatus.running,
            paused_at=None,
            deadline_at=self.deadline_at + stood,
            paused_ms=self.paused_ms + ms(stood),
        )

    def extend(self, extra_ms: int) -> Clock:
        if extra_ms <= 0:
            raise ClockError("bad_extension", "an extension must be positive")
        if self.status == AttemptStatus.submitted:
            raise ClockError("already_submitted", "the attempt has been submitted")
        deadline = self.deadline_at
        if deadline is not None:
            deadline += dt.timedelta(milliseconds=extra_ms)
        return replace(self, extension_ms=self.extension_ms + extra_ms, deadline_at=deadline)

    def credit(self, down_ms: int) -> Clock:
        """Give back time the server was down; only a running attempt lost any."""
        if self.status != AttemptStatus.running or down_ms <= 0:
            return self
        assert self.deadline_at is not None
        return replace(
            self,
            deadline_at=self.deadline_at + dt.timedelta(milliseconds=down_ms),
            credited_ms=self.credited_ms + down_ms,
        )

    def submit(self) -> Clock:
        if self.status == AttemptStatus.submitted:
            raise ClockError("already_submitted", "the attempt has been submitted")
        return replace(self, status=AttemptStatus.submitted, paused_at=None)
