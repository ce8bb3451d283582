"""Cards issued the real way: a candidate passes a window-mode exam whose blueprint issues cards."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from examserver.extensions import db
from tests.delivery.conftest import exam_world, open_world, questions_of, received, terminal

__all__ = ["exam_world", "open_world", "terminal"]


@dataclass
class IssuedCard:
    card_no: str
    code: str
    verify_url: str
    id_number: str
    attempt_id: int

    @property
    def card_url(self) -> str:
        return f"/cards/{self.card_no}/{self.code}"


def _pass_exam(app: Flask, client: Any) -> dict[str, Any]:
    from examserver.question_bank.models import QuestionVersion

    received(client, "state")
    assert client.emit("start", {}, namespace="/exam", callback=True) == {"ok": True}
    state = received(client, "state")[-1]
    with app.app_context():
        keys = {
            q["id"]: db.session.get(QuestionVersion, q["id"]).answer for q in questions_of(state)
        }
    for seq, (question_id, answer) in enumerate(keys.items(), start=1):
        ack = client.emit(
            "answer",
            {"question_id": question_id, "choice": answer, "seq": seq},
            namespace="/exam",
            callback=True,
        )
        assert ack["ok"], ack
    ack = client.emit("submit", {}, namespace="/exam", callback=True)
    assert ack["ok"] and ack["result"]["passed"], ack
    client.disconnect(namespace="/exam")
    return ack["result"]


@pytest.fixture
def issue_cards(
    app: Flask, open_world: Callable[..., Any], terminal: Callable[..., Any]
) -> Callable[..., list[IssuedCard]]:
    """Let ``n`` candidates pass an exam that issues cards; return their cards."""

    def factory(n: int = 1) -> list[IssuedCard]:
        world = open_world(n=n, pass_score=20)
        cards = []
        for i, candidate in enumerate(world.candidates):
            client = terminal(candidate, terminal_id=f"terminal-{i:04d}")
            result = _pass_exam(app, client)
            match = re.fullmatch(r"/verify/([A-Za-z0-9]+)/([A-Z2-7]+)", result["verify_url"])
            assert match and match.group(1) == result["card_no"], result
            cards.append(
                IssuedCard(
                    result["card_no"],
                    match.group(2),
                    result["verify_url"],
                    candidate["id_number"],
                    client.attempt_id,
                )
            )
        return cards

    return factory


@pytest.fixture
def card(issue_cards: Callable[..., list[IssuedCard]]) -> IssuedCard:
    """One card, issued by a real submission."""
    return issue_cards(1)[0]
