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
    # The proctor console
    "login_required": _l("Please log in."),
    "forbidden": _l("You are not allowed to do this."),
    "unknown_session": _l("This exam session does not exist."),
    "unknown_candidate": _l("This candidate is not in this exam session."),
    "not_waiting": _l("This candidate can no longer be verified."),
    "too_late": _l("More than 30 minutes have passed since the start: entry is closed."),
    "already_started": _l("This candidate has already started."),
    "not_proctor_mode": _l("In this session candidates start by themselves."),
    "not_paused": _l("This candidate is not paused."),
    "bad_extension": _l("An extension is 1 to 120 minutes."),
    "reason_required": _l("Please give a reason."),
    "note_required": _l("Please describe what happened."),
    "text_required": _l("Please write the message."),
    "already_submitted": _l("This paper has already been handed in."),
    "bad_incident_kind": _l("An incident is a warning or an expulsion."),
    "already_expelled": _l("This candidate has already been expelled."),
    "unknown_incident": _l("This incident does not exist."),
    "not_an_expulsion": _l("Only an expulsion needs a confirmation."),
    "second_staff_required": _l("An expulsion must be confirmed by a second staff member."),
}


def message_for(code: str) -> str:
    """Return the translated message of a delivery error code."""
    message = MESSAGES.get(code)
    return str(message) if message is not None else code


def error_body(code: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message_for(code)}}
