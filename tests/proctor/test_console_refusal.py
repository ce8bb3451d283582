"""A console refused at connect learns why: {code, message} travel as the error's data."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_socketio import ConnectionRefusedError

from examserver.proctor.views import ProctorNamespace


def test_a_refused_console_gets_the_code_and_message_as_data(app: Flask) -> None:
    with app.test_request_context("/socket.io/"), pytest.raises(ConnectionRefusedError) as refused:
        ProctorNamespace("/proctor").on_connect()
    args = refused.value.error_args
    assert args["data"]["code"] == "login_required"
    assert args["data"]["message"] and args["message"] == args["data"]["message"]
    assert "{" not in args["message"]  # a message, not the repr of a dict
