"""Proctor fixtures: staff consoles connected to `/proctor` with a real staff login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from examserver.extensions import db, socketio
from tests.delivery.conftest import exam_world, open_world, terminal  # noqa: F401  (fixtures)


@pytest.fixture
def console(app: Flask, create_user: Callable[..., Any]) -> Callable[..., Any]:
    """Create a staff member (optionally assigned to a session) and connect their console."""

    def factory(
        username: str = "proctor1",
        role: str = "proctor",
        assign_to: int | None = None,
        exam_point: str = "",
    ) -> Any:
        from examserver.auth.models import User
        from examserver.proctor.service import assign
        from examserver.sessions.models import ExamSession

        user_id = create_user(username, role, "secret-pass")
        with app.app_context():
            user = db.session.get(User, user_id)
            user.exam_point = exam_point
            if assign_to is not None:
                assign(db.session, db.session.get(ExamSession, assign_to), user)
            db.session.commit()
        http = app.test_client()
        response = http.post("/api/login", json={"username": username, "password": "secret-pass"})
        assert response.status_code == 200
        client = socketio.test_client(app, namespace="/proctor", flask_test_client=http)
        client.user_id = user_id
        return client

    return factory


def act(client: Any, event: str, **payload: Any) -> Any:
    return client.emit(event, payload, namespace="/proctor", callback=True)


def pushed(client: Any, name: str) -> list[Any]:
    """Return (and consume) the console's received events called ``name``."""
    from tests.delivery.conftest import received

    return received(client, name, "/proctor")


def candidate_id_of(app: Flask, admission_no: str) -> int:
    from examserver.sessions.models import Registration

    with app.app_context():
        return db.session.query(Registration).filter_by(admission_no=admission_no).one().candidate_id


def wait_pushed(client: Any, name: str, predicate: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """Wait (bounded) for a pushed event matching ``predicate``: the answer writer pushes
    roster deltas from its own thread right after the commit."""
    import time

    deadline = time.monotonic() + timeout
    seen: list[Any] = []
    while time.monotonic() < deadline:
        seen.extend(pushed(client, name))
        for message in seen:
            if predicate(message):
                return message
        time.sleep(0.01)
    raise AssertionError(f"no {name} event matching the condition within {timeout} s")
