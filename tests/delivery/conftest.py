"""An exam world for delivery tests: a bank, a blueprint, a session and its candidates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from examserver.db import utcnow
from examserver.extensions import db, socketio
from examserver.identity import make_id_number


@dataclass
class World:
    session_id: int
    blueprint_id: int
    candidates: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def exam_world(app: Flask) -> Callable[..., World]:
    """Build a bank, a blueprint and a session with ``n`` candidates; returns their ids."""

    def factory(
        n: int = 3,
        start_mode: str = "window",
        earliest_submit_min: int = 0,
        duration_min: int = 60,
        issues_card: bool = True,
        pass_score: float = 10,
        opens_in_min: float = -5,
        code: str = "S1",
    ) -> World:
        from examserver.papers.models import Blueprint, BlueprintSection
        from examserver.question_bank.operations import create_question, get_or_create_bank
        from examserver.question_bank.types import QuestionContent
        from examserver.sessions.models import Candidate, ExamSession, Registration

        with app.app_context():
            bank = get_or_create_bank(db.session, "DB1", "熔化焊接与热切割作业")
            bank.industry, bank.category, bank.job_type = "特种作业", "焊接与热切割作业", "熔化焊接"
            if not bank.topics and not db.session.query(Blueprint).count():
                for i in range(12):
                    create_question(
                        db.session,
                        bank,
                        QuestionContent("judge", f"判断题第{i}题：焊工必须持证上岗。", [], ["T"]),
                    )
                for i in range(8):
                    opts = [{"key": f"o{k}", "text": f"选项{k}-{i}"} for k in range(1, 5)]
                    create_question(
                        db.session, bank, QuestionContent("single", f"单选题第{i}题", opts, ["o2"])
                    )
                for i in range(6):
                    opts = [{"key": f"o{k}", "text": f"多选{k}-{i}"} for k in range(1, 6)]
                    create_question(
                        db.session,
                        bank,
                        QuestionContent("multi", f"多选题第{i}题", opts, ["o1", "o3"]),
                    )
            blueprint = Blueprint(
                code=f"BP-{code}",
                name="测试组卷",
                bank_id=bank.id,
                duration_min=duration_min,
                pass_score=pass_score,
                earliest_submit_min=earliest_submit_min,
                issues_card=issues_card,
                sections=[
                    BlueprintSection(position=0, title="判断题", type="judge", count=6, points=1),
                    BlueprintSection(position=1, title="单选题", type="single", count=4, points=2),
                    BlueprintSection(position=2, title="多选题", type="multi", count=2, points=3),
                ],
            )
            db.session.add(blueprint)
            now = utcnow()
            exam_session = ExamSession(
                code=code,
                name="复训考核",
                blueprint=blueprint,
                kind="retraining",
                start_mode=start_mode,
                room="第一考场",
                seats=n,
                opens_at=now + dt.timedelta(minutes=opens_in_min),
                closes_at=now + dt.timedelta(hours=8),
            )
            db.session.add(exam_session)
            db.session.flush()
            world = World(exam_session.id, blueprint.id)
            for seat in range(1, n + 1):
                year = 1960 + sum(map(ord, code)) % 40  # each session's people are different
                id_number = make_id_number("320402", dt.date(year, 1, seat), seat * 2 + 1)
                candidate = db.session.query(Candidate).filter_by(id_number=id_number).one_or_none()
                if candidate is None:
                    candidate = Candidate(
                        id_number=id_number, name=f"考生{seat}", sex="男", employer="常州某厂"
                    )
                    db.session.add(candidate)
                    db.session.flush()
                admission = f"{code}-{seat:03d}"
                db.session.add(
                    Registration(
                        session_id=exam_session.id,
                        candidate_id=candidate.id,
                        admission_no=admission,
                        seat=seat,
                    )
                )
                world.candidates.append(
                    {"admission_no": admission, "id_number": id_number, "seat": seat}
                )
            db.session.commit()
            return world

    return factory


@pytest.fixture
def open_world(app: Flask, exam_world: Callable[..., World]) -> Callable[..., World]:
    """An exam world whose session is open: papers drawn, attempts waiting."""

    def factory(**kwargs: Any) -> World:
        from examserver.delivery.service import open_session
        from examserver.sessions.models import ExamSession

        world = exam_world(**kwargs)
        with app.app_context():
            open_session(db.session, db.session.get(ExamSession, world.session_id), utcnow())
            db.session.commit()
        return world

    return factory


@pytest.fixture
def terminal(app: Flask) -> Callable[..., Any]:
    """Log a candidate in over HTTP and connect a Socket.IO test client with the token."""

    def factory(candidate: dict[str, Any], terminal_id: str = "terminal-0001", lang: str = "en") -> Any:
        http = app.test_client()
        response = http.post(
            "/api/exam/login",
            json={
                "admission_no": candidate["admission_no"],
                "id_number": candidate["id_number"],
                "terminal": terminal_id,
            },
        )
        assert response.status_code == 200, response.get_json()
        token = response.get_json()["token"]
        client = socketio.test_client(
            app,
            namespace="/exam",
            auth={"token": token, "terminal": terminal_id, "lang": lang},
            flask_test_client=http,
        )
        client.token = token
        client.attempt_id = response.get_json()["attempt_id"]
        return client

    return factory


def received(client: Any, name: str, namespace: str = "/exam") -> list[Any]:
    """Return (and consume) the payloads of the events called ``name`` received so far.

    Events of other names stay buffered on the client for a later call.
    """
    buffer = client.__dict__.setdefault("_buffer", [])
    buffer.extend(client.get_received(namespace))
    wanted = [m["args"][0] for m in buffer if m["name"] == name]
    buffer[:] = [m for m in buffer if m["name"] != name]
    return wanted


def questions_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [q for s in state["paper"]["sections"] for q in s["questions"]]
