"""The UI speaks zh_CN by default and completely; English is selectable."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
# Babel reads zh_CN as zh_Hans_CN and falls back to the plain language: the catalogue is "zh".
CATALOG = ROOT / "examserver" / "translations" / "zh" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _source_messages() -> set[str]:
    found: set[str] = set()
    method_map = [("examserver/**.py", "python"), ("templates/**.html", "jinja2")]
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map=method_map, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_ui_string_has_a_chinese_translation() -> None:
    with open(CATALOG / "messages.po", "rb") as fh:
        catalog = read_po(fh)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalog if m.id}
    missing = sorted(m for m in _source_messages() if not translated.get(m))
    assert not missing, f"{len(missing)} strings lack a zh_CN translation: {missing[:20]}"


def test_compiled_catalog_matches_the_po_file() -> None:
    def key(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    with open(CATALOG / "messages.po", "rb") as fh:
        po = {key(m.id): key(m.string) for m in read_po(fh) if m.id and m.string}
    with open(CATALOG / "messages.mo", "rb") as fh:
        mo = {key(m.id): key(m.string) for m in read_mo(fh) if m.id}
    assert po == mo, "run `make translations` to recompile messages.mo"
