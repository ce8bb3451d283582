"""The one place that emits to Socket.IO, so services stay testable and work across workers.

With a message queue (Redis) configured, an emit from any worker or process reaches the clients
of every worker.
"""

from __future__ import annotations

from typing import Any

from examserver.extensions import socketio

EXAM_NS = "/exam"
PROCTOR_NS = "/proctor"


def attempt_room(attempt_id: int) -> str:
    return f"attempt:{attempt_id}"


def session_room(session_id: int) -> str:
    return f"session:{session_id}"


def to_attempt(attempt_id: int, event: str, data: Any) -> None:
    """Send an event to the terminal of one attempt."""
    socketio.emit(event, data, to=attempt_room(attempt_id), namespace=EXAM_NS)


def to_session_terminals(session_id: int, event: str, data: Any) -> None:
    """Send an event to every terminal of an exam session."""
    socketio.emit(event, data, to=session_room(session_id), namespace=EXAM_NS)


def proctor_room(session_id: int) -> str:
    return f"proctor:{session_id}"


def to_proctors(session_id: int, event: str, data: Any) -> None:
    """Send an event to every console watching an exam session."""
    socketio.emit(event, data, to=proctor_room(session_id), namespace=PROCTOR_NS)
