"""Read back what reportlab wrote: the text runs of a PDF's content streams (no PDF library).

Only what reportlab produces is handled: ASCII85 + Flate streams, text shown with Tm and Tj, in
the STSong-Light CID font whose strings are UTF-16BE.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass

STREAM = re.compile(rb"<<((?:(?!<<).)*?)>>\s*stream\r?\n(.*?)\s*endstream", re.S)
TEXT = re.compile(
    rb"BT 1 0 0 1 ([-\d.]+) ([-\d.]+) Tm /(F\d+) ([\d.]+) Tf [\d.]+ TL \(((?:\\.|[^\\)])*)\) Tj"
)
ESCAPES = {
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"f": b"\f",
    b"(": b"(",
    b")": b")",
    b"\\": b"\\",
}


@dataclass(frozen=True)
class Run:
    x: float
    y: float
    size: float
    text: str


def streams(data: bytes) -> list[bytes]:
    """Return the decoded content of every stream in ``data``."""
    out = []
    for match in STREAM.finditer(data):
        header, body = match.group(1), match.group(2).strip()
        if b"/ASCII85Decode" in header:
            body = base64.a85decode(body, adobe=True)
        if b"/FlateDecode" in header:
            body = zlib.decompress(body)
        out.append(body)
    return out


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i : i + 1] == b"\\":
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(0), 8))
                i += 1 + len(octal.group(0))
                continue
            out += ESCAPES.get(raw[i + 1 : i + 2], raw[i + 1 : i + 2])
            i += 2
            continue
        out += raw[i : i + 1]
        i += 1
    return bytes(out)


def text_runs(data: bytes) -> list[Run]:
    """Return the text runs placed at absolute positions (transformed runs are left out)."""
    runs = []
    for content in streams(data):
        for m in TEXT.finditer(content):
            text = _unescape(m.group(5)).decode("utf-16-be")
            runs.append(Run(float(m.group(1)), float(m.group(2)), float(m.group(4)), text))
    return runs


def all_text(data: bytes) -> str:
    """Return every string shown with Tj, transformed or not, one per line."""
    texts = []
    for content in streams(data):
        for m in re.finditer(rb"\(((?:\\.|[^\\)])*)\) Tj", content):
            texts.append(_unescape(m.group(1)).decode("utf-16-be"))
    return "\n".join(texts)
