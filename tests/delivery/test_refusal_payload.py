"""A refused `/exam` connection carries {code, message} as structured data, not a repr string."""

from __future__ import annotations

from flask import Flask
from flask_babel import force_locale

from examserver.delivery.views import _refuse


def test_a_refusal_carries_its_code_and_message_as_data(app: Flask) -> None:
    with app.app_context(), force_locale("en"):
        refusal = _refuse("token_revoked")
    # What python-socketio puts in the CONNECT_ERROR packet; the browser's connect_error handler
    # receives it as err.message and err.data.
    assert refusal.error_args == {
        "message": "Your sign-in is no longer valid. Please sign in again.",
        "data": {
            "code": "token_revoked",
            "message": "Your sign-in is no longer valid. Please sign in again.",
        },
    }
