"""Rate limiting of wrong card verification tries, per client, kept in the database.

The failures live in a table, not in memory, so every worker of a deployment counts the same
tries. Services flush; the view commits.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from examserver.records.models import VerificationFailure

CLIENT_MAX_LENGTH = 64


@dataclass(frozen=True)
class Lockout:
    """A client refused until ``retry_after_s`` seconds from now."""

    failures: int
    retry_after_s: int


def client_key(remote_addr: str | None) -> str:
    """Return the key failures are counted under for a client address."""
    return (remote_addr or "unknown")[:CLIENT_MAX_LENGTH]


def lockout(
    db: Session, client: str, now: dt.datetime, max_failures: int, window: dt.timedelta
) -> Lockout | None:
    """Return the lockout of ``client`` when it has ``max_failures`` failures inside ``window``."""
    max_failures = max(1, max_failures)
    times = list(
        db.scalars(
            select(VerificationFailure.at)
            .where(VerificationFailure.client == client, VerificationFailure.at > now - window)
            .order_by(VerificationFailure.at)
        )
    )
    if len(times) < max_failures:
        return None
    # The lockout ends when enough of the oldest failures have left the window.
    freed_at = times[len(times) - max_failures] + window
    return Lockout(len(times), max(1, math.ceil((freed_at - now).total_seconds())))


def record_failure(db: Session, client: str, now: dt.datetime, window: dt.timedelta) -> None:
    """Log a wrong try of ``client`` and drop every client's failures older than ``window``."""
    db.execute(delete(VerificationFailure).where(VerificationFailure.at <= now - window))
    db.add(VerificationFailure(client=client, at=now))
    db.flush()
