"""Pre-encoded JSON in Socket.IO packets (examserver/wire.py): the bytes must be the standard's."""

from __future__ import annotations

import json
import pickle

import pytest
from socketio.packet import EVENT, Packet

from examserver.wire import RawJSON, WireCodec, WirePacket

PAPER = {
    "sections": [
        {
            "title": "判断题",
            "type": "judge",
            "points": 1.0,
            "questions": [{"id": 7, "stem": "<p>动火作业前应检查 \"现场\"</p>", "options": []}],
        }
    ]
}


def _standard(data: object) -> str:
    return Packet(EVENT, data=data, namespace="/exam", id=3).encode()


def test_a_spliced_packet_is_byte_for_byte_the_standard_encoding() -> None:
    state = {"attempt": {"id": 1, "status": "running"}, "paper": RawJSON.encode(PAPER)}
    spliced = WirePacket(EVENT, data=["state", state], namespace="/exam", id=3).encode()
    assert spliced == _standard(["state", {**state, "paper": PAPER}])
    decoded = Packet(encoded_packet=spliced)
    assert decoded.data == ["state", {"attempt": {"id": 1, "status": "running"}, "paper": PAPER}]


def test_several_raw_values_land_each_in_its_place() -> None:
    first, second = RawJSON.encode([1, "二"]), RawJSON.encode({"k": None})
    text = WireCodec.dumps({"a": first, "b": [second, first], "c": "x"}, separators=(",", ":"))
    assert json.loads(text) == {"a": [1, "二"], "b": [{"k": None}, [1, "二"]], "c": "x"}


def test_a_string_that_looks_like_a_marker_is_left_alone() -> None:
    # Another process's marker (a different random token) is plain text here.
    lookalike = "\x00raw-0000000000000000:0"
    text = WireCodec.dumps({"s": lookalike, "r": RawJSON.encode(1)})
    assert json.loads(text) == {"s": lookalike, "r": 1}


def test_other_objects_are_still_refused() -> None:
    with pytest.raises(TypeError):
        WireCodec.dumps({"x": object()})


def test_raw_json_pickles_for_the_message_queue_and_compares_by_text() -> None:
    raw = RawJSON.encode(PAPER)
    assert pickle.loads(pickle.dumps(raw)) == raw
    assert raw != RawJSON.encode({"sections": []})
    assert raw.decode() == PAPER
    # A raw value is text, never mistaken for a binary attachment.
    assert WirePacket(EVENT, data=["state", {"paper": raw}]).packet_type == EVENT
