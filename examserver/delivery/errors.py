"""The messages of the delivery error codes, in the terminal's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

MESSAGES = {
    "bad_payload": _l("The request was not understood."),
    "bad_id_number": _l("The ID number is not a valid resident ID number. Check every digit."),
    "bad_credentials": _l("The admission number and the ID number do not match."),
    "session_not_open": _l("This exam session is not open yet."),
    "session_closed": _l("This exam session is closed."),
    "terminal_in_use": _l(
        "This candidate is signed in on another terminal. Ask the proctor for help."
    ),
    "token_revoked": _l("Your sign-in is no longer valid. Please sign in again."),
    "waiting_for_proctor": _l("Please wait: the proctor starts the exam."),
    "not_running": _l("The exam is not running."),
    "paused": _l("The exam is paused."),
    "unknown_question": _l("This question is not on your paper."),
    "bad_choice": _l("This choice is not possible for this question."),
    "stale_seq": _l("A newer change of this question is already saved."),
    "deadline_passed": _l("The exam time is over."),
    "too_early": _l("You cannot hand in your paper yet."),
    "unknown_attempt": _l("This exam attempt does not exist."),
    "server_busy": _l("The server is busy. Your change is kept and will be sent again."),
    "server_error": _l("The server could not save this change. It will be sent again."),
    "rate_limited": _l("Too many attempts. Wait a moment and try again."),
}


def message_for(code: str) -> str:
    """Return the translated message of a delivery error code."""
    message = MESSAGES.get(code)
    return str(message) if message is not None else code


def error_body(code: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message_for(code)}}
