"""Rich text of stems, options and explanations: sanitized on the way in, stored as shown."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

import bleach
from lxml import etree
from lxml import html as lxml_html

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "b", "em", "i", "u", "sub", "sup",
        "ul", "ol", "li",
        "table", "thead", "tbody", "tr", "th", "td", "caption",
        "img", "span",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan"],
    "ol": ["start"],
}
# Elements whose whole content goes, not only the tag: their text is code, not prose.
DROP_WITH_CONTENT = (
    "script", "style", "svg", "math", "iframe", "object", "embed", "template",
    "noscript", "xmp", "textarea", "select", "button", "form", "frameset", "frame",
    "applet", "base", "link", "meta", "title", "head", "noembed", "noframes", "video", "audio",
)  # fmt: skip
MEDIA_SRC = re.compile(r"^/media/[1-9][0-9]{0,11}$")
_NUMERIC = re.compile(r"^[0-9]{1,4}$")
_LOOKS_LIKE_HTML = re.compile(
    r"</?(p|br|strong|b|em|i|u|sub|sup|ul|ol|li|table|tr|td|th|img|span)\b[^>]*>", re.I
)


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if name not in ALLOWED_ATTRIBUTES.get(tag, ()):
        return False
    if tag == "img" and name == "src":
        return bool(MEDIA_SRC.match(value.strip()))
    if name in ("width", "height", "colspan", "rowspan", "start"):
        return bool(_NUMERIC.match(value.strip()))
    return name == "alt"


_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=_allow_attribute,
    protocols=["http", "https"],  # relative /media/ URLs need a non-empty list
    strip=True,
    strip_comments=True,
)


def _drop_dangerous_elements(fragment: str) -> str:
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.escape(fragment)
    for element in list(root.iter(*DROP_WITH_CONTENT)):
        if element.getparent() is not None:
            element.drop_tree()
    for element in root.iter(etree.Comment, etree.ProcessingInstruction):
        if element.getparent() is not None:
            element.drop_tree()
    inner = (root.text and html.escape(root.text, quote=False)) or ""
    return inner + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in root
    )


def sanitize_html(value: str) -> str:
    """Return ``value`` with everything but the formatting allow-list removed."""
    if not value:
        return ""
    value = value.replace("\x00", "")
    cleaned = _cleaner.clean(_drop_dangerous_elements(value))
    # <img> without a permitted src is an empty, useless tag: drop it.
    cleaned = re.sub(r"<img(?![^>]*\ssrc=)[^>]*>", "", cleaned)
    return cleaned.strip()


def rich_text_from_cell(value: str) -> str:
    """Turn an imported cell into stored rich text: HTML if it is HTML, else escaped text."""
    value = (value or "").strip()
    if _LOOKS_LIKE_HTML.search(value):
        return sanitize_html(value)
    return html.escape(value, quote=False).replace("\r\n", "\n").replace("\n", "<br>")


def plain_text(value: str) -> str:
    """Return the visible text of stored rich text, whitespace collapsed."""
    if not value:
        return ""
    text = re.sub(r"<br\s*/?>|</p>|</li>|</tr>", " ", value, flags=re.I)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def cell_text(value: str) -> str:
    """Return stored rich text as a spreadsheet cell: plain text, or HTML where it has markup."""
    if not value:
        return ""
    simple = re.sub(r"<br\s*/?>", "\n", value, flags=re.I)
    if "<" not in simple:
        return html.unescape(simple)
    return value


_PUNCT_CATEGORIES = ("P", "S", "Z", "C")


def normalized_stem_key(stem_html: str) -> str:
    """Return the key under which two stems count as duplicates (same normalized text)."""
    text = unicodedata.normalize("NFKC", plain_text(stem_html)).casefold()
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] not in _PUNCT_CATEGORIES)
    return hashlib.sha256(kept.encode("utf-8")).hexdigest()
