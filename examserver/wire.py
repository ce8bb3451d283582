"""Socket.IO packets that can carry JSON encoded once, ahead of time.

A candidate's paper is the largest message the server sends (about 20 KB of JSON), and a room
that starts in the same second asks for all of them at once. The paper never changes once drawn,
so it is encoded once, when it is first loaded, and every `state` that carries it embeds that text
verbatim: no walk of its nested lists and dicts at every send (python-socketio walks a payload
twice, once looking for binary attachments and once encoding it), and a paper in memory is one
string instead of hundreds of objects for the garbage collector to visit.

``RawJSON`` wraps such text. ``WirePacket`` is python-socketio's packet class with a codec that
splices RawJSON values into the encoded payload; the bytes on the wire are exactly those the
standard encoder would produce for the decoded value, so clients see no difference. RawJSON
pickles, so it also travels through the message queue to other workers, which encode it the same
way.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from socketio.packet import Packet

# python-socketio's own separators: the spliced text must be what it would have written.
SEPARATORS = (",", ":")


class RawJSON:
    """A JSON value already encoded, with python-socketio's separators."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def encode(cls, value: Any) -> RawJSON:
        return cls(json.dumps(value, separators=SEPARATORS))

    def decode(self) -> Any:
        return json.loads(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawJSON) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RawJSON({len(self.text)} chars)"

    def __reduce__(self) -> tuple[type[RawJSON], tuple[str]]:
        return (RawJSON, (self.text,))


# A marker no payload contains by chance: a control character and a per-process random token.
_MARK = "\x00raw-" + secrets.token_hex(8) + ":"


class WireCodec:
    """The ``json`` of WirePacket: the standard module, plus RawJSON values spliced in."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        raws: list[str] = []

        def placeholder(value: Any) -> str:
            if isinstance(value, RawJSON):
                raws.append(value.text)
                return f"{_MARK}{len(raws) - 1}"
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

        text = json.dumps(obj, default=placeholder, **kwargs)
        for index, raw in enumerate(raws):
            text = text.replace(json.dumps(f"{_MARK}{index}"), raw, 1)
        return text

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        return json.loads(text, **kwargs)


class WirePacket(Packet):  # type: ignore[misc]
    """python-socketio's packet, encoding with WireCodec."""

    json = WireCodec
