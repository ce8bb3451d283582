"""IMS QTI 2.1: export a bank as a content package of choiceInteraction items, and import one.

Export writes ``imsmanifest.xml`` (IMS CP 1.1) listing one ``assessmentItem`` per question, with
the images the questions show and, in the manifest's resource metadata (our own namespace), the
type, knowledge point and difficulty; the explanation travels as the item's modalFeedback.
Import reads such a package, or a single item file, into ``ImportRow``s, saying clearly what an
item asks for that examserver cannot keep (partial-credit mappings, fixed choice positions).
XML from outside is parsed with no DTD, no entities and no network.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _
from lxml import etree
from lxml import html as lxml_html
from sqlalchemy import select
from sqlalchemy.orm import Session

from examserver.question_bank.exporting import ExportedQuestion, bank_questions
from examserver.question_bank.importing import (
    _FALSE_WORDS,
    _TRUE_WORDS,
    DEFAULT_DIFFICULTY,
    DEFAULT_MEDIA_MAX_BYTES,
    ImportRow,
    Issue,
    MediaFile,
    ParsedFile,
    _parse_difficulty,
    _parse_topic,
    rekey_options,
    type_lookup,
)
from examserver.question_bank.models import Bank, Media
from examserver.question_bank.richtext import plain_text
from examserver.question_bank.tabular import TableError, open_zip, read_zip_member
from examserver.question_bank.types import QuestionType

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI_XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_XSD = "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# Our own metadata in the manifest: the schema lets any other namespace in (processContents lax).
ES_NS = "urn:examserver:question-bank:1"
ITEM_TYPES = ("imsqti_item_xmlv2p1", "imsqti_item_xmlv2p0", "imsqti_item_xmlv2p2")
MATCH_CORRECT = "match_correct"
MAX_ITEM_BYTES = 4 * 1024 * 1024
IMAGE_SUFFIXES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}
_MEDIA_SRC = re.compile(r"^/media/([1-9][0-9]{0,11})$")

# HTML tags of stored rich text and their QTI body elements (same names, QTI namespace).
_SAME = {
    "p", "br", "strong", "b", "em", "i", "sub", "sup", "ul", "ol", "li", "table", "thead",
    "tbody", "tfoot", "tr", "th", "td", "caption", "img", "span", "div",
}  # fmt: skip
_BLOCK = {
    "p",
    "div",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "caption",
}
_INLINE_ONLY = {"p", "strong", "b", "em", "i", "sub", "sup", "span", "caption", "u"}
_STRUCTURE = {"ul", "ol", "table", "thead", "tbody", "tfoot", "tr"}  # no text of their own
_UNDERLINE = "underline"


def q(tag: str) -> str:
    return f"{{{QTI_NS}}}{tag}"


def local(tag: object) -> str:
    """Return the local name of an element tag, '' for comments and processing instructions."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


# ------------------------------------------------------------------------------ export
@dataclass
class _PackageMedia:
    """The images a package carries: media id -> file name in the package and content."""

    loader: Callable[[int], Media | None]
    files: dict[int, tuple[str, bytes]] = field(default_factory=dict)

    def href(self, media_id: int) -> str | None:
        if media_id not in self.files:
            media = self.loader(media_id)
            if media is None:
                return None
            suffix = IMAGE_SUFFIXES.get(media.mime, ".bin")
            self.files[media_id] = (f"media/{media_id}{suffix}", media.data)
        return self.files[media_id][0]


def _fill(parent: etree._Element, fragment: str, media: _PackageMedia, used: list[str]) -> None:
    """Write stored rich text into a QTI element, keeping to what the QTI schema allows."""
    if not fragment:
        return
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        parent.text = (parent.text or "") + plain_text(fragment)
        return
    parent.text = root.text
    for child in root:
        _copy(child, parent, media, used, inline=local(parent.tag) in _INLINE_ONLY)


def _copy(
    source: etree._Element,
    parent: etree._Element,
    media: _PackageMedia,
    used: list[str],
    inline: bool,
) -> None:
    tag = local(source.tag).lower()
    if not tag:  # a comment: keep only the text after it
        _append_text(parent, source.tail)
        return
    parent_tag = local(parent.tag)
    if tag == "img":
        match = _MEDIA_SRC.match(source.get("src", "").strip())
        href = media.href(int(match.group(1))) if match else None
        if href is None:
            _append_text(parent, source.get("alt", ""))
            _append_text(parent, source.tail)
            return
        used.append(href)
        element = etree.SubElement(parent, q("img"), src="../" + href, alt=source.get("alt", ""))
        for name in ("width", "height"):
            if source.get(name, "").isdigit():
                element.set(name, source.get(name))
        element.tail = source.tail
        return
    if tag == "u":
        name, attrs = "span", {"class": _UNDERLINE}
    elif tag in _SAME:
        name, attrs = tag, {}
    else:
        name, attrs = "span", {}
    if inline and name in _BLOCK:
        name, attrs = "span", {}
    elif name == "li" and parent_tag not in ("ul", "ol"):
        name = "div"
    elif name == "tr" and parent_tag == "table":
        parent = _tbody(parent)
    elif name in ("td", "th") and parent_tag != "tr":
        name = "span" if inline else "div"
    element = etree.SubElement(parent, q(name), attrs)
    if name in ("td", "th"):
        for span in ("colspan", "rowspan"):
            if source.get(span, "").isdigit():
                element.set(span, source.get(span))
    if name not in _STRUCTURE:
        element.text = source.text
    child_inline = inline or name in _INLINE_ONLY
    for child in source:
        _copy(child, element, media, used, child_inline)
    if name == "table" and not _order_table(element):
        parent.remove(element)
        _append_text(parent, source.tail)
        return
    if local(parent.tag) in _STRUCTURE:
        element.tail = None
    else:
        element.tail = source.tail


def _append_text(parent: etree._Element, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _tbody(table: etree._Element) -> etree._Element:
    """Return the tbody that loose rows of ``table`` go into (QTI tables need one)."""
    if len(table) and local(table[-1].tag) == "tbody" and table[-1].get("data-loose") == "1":
        return table[-1]
    body = etree.SubElement(table, q("tbody"))
    body.set("data-loose", "1")
    return body


def _order_table(table: etree._Element) -> bool:
    """Put a table's parts in the order QTI requires (caption, thead, tfoot, tbody+).

    Returns False for a table with no rows, which QTI cannot hold.
    """
    rank = {"caption": 0, "thead": 1, "tfoot": 2, "tbody": 3}
    parts = sorted(table, key=lambda e: rank.get(local(e.tag), 3))
    for part in parts:
        table.remove(part)
        part.attrib.pop("data-loose", None)
        if local(part.tag) != "caption" and len(part) == 0:
            continue
        table.append(part)
    return any(local(p.tag) == "tbody" for p in table)


def item_xml(question: ExportedQuestion, media: _PackageMedia) -> tuple[bytes, list[str]]:
    """Return one question as a QTI 2.1 assessmentItem, and the media files it refers to."""
    used: list[str] = []
    qtype = QuestionType.registry.get(question.type)
    multiple = bool(qtype is not None and qtype.max_answers > 1)
    title = plain_text(question.stem)[:80] or f"Question {question.question_id}"
    item = etree.Element(
        q("assessmentItem"),
        nsmap={None: QTI_NS, "xsi": XSI_NS},
        identifier=f"Q{question.version_id}",
        title=title,
        adaptive="false",
        timeDependent="false",
    )
    item.set(f"{{{XSI_NS}}}schemaLocation", f"{QTI_NS} {QTI_XSD}")
    response = etree.SubElement(
        item,
        q("responseDeclaration"),
        identifier="RESPONSE",
        cardinality="multiple" if multiple else "single",
        baseType="identifier",
    )
    correct = etree.SubElement(response, q("correctResponse"))
    for key in question.answer:
        etree.SubElement(correct, q("value")).text = key
    score = etree.SubElement(
        item, q("outcomeDeclaration"), identifier="SCORE", cardinality="single", baseType="float"
    )
    etree.SubElement(etree.SubElement(score, q("defaultValue")), q("value")).text = "0"
    if question.explanation:
        etree.SubElement(
            item,
            q("outcomeDeclaration"),
            identifier="FEEDBACK",
            cardinality="single",
            baseType="identifier",
        )
    body = etree.SubElement(item, q("itemBody"))
    stem = etree.SubElement(body, q("div"), {"class": "stem"})
    _fill(stem, question.stem, media, used)
    shuffle = qtype.shuffles_options() if qtype is not None else True
    interaction = etree.SubElement(
        body,
        q("choiceInteraction"),
        responseIdentifier="RESPONSE",
        shuffle="true" if shuffle else "false",
        maxChoices="0" if multiple else "1",
    )
    for option in question.options:
        choice = etree.SubElement(interaction, q("simpleChoice"), identifier=option["key"])
        _fill(choice, option["text"], media, used)
    _response_processing(item, bool(question.explanation))
    if question.explanation:
        feedback = etree.SubElement(
            item,
            q("modalFeedback"),
            outcomeIdentifier="FEEDBACK",
            identifier="EXPLANATION",
            showHide="show",
        )
        _fill(feedback, question.explanation, media, used)
    # Not pretty-printed: whitespace inside rich text is content.
    xml = etree.tostring(item, xml_declaration=True, encoding="UTF-8")
    return xml, used


def _response_processing(item: etree._Element, feedback: bool) -> None:
    """All-or-nothing scoring; with an explanation, also show it after responding."""
    if not feedback:
        etree.SubElement(
            item,
            q("responseProcessing"),
            template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct",
        )
        return
    processing = etree.SubElement(item, q("responseProcessing"))
    condition = etree.SubElement(processing, q("responseCondition"))
    for branch, value in (("responseIf", "1"), ("responseElse", "0")):
        part = etree.SubElement(condition, q(branch))
        if branch == "responseIf":
            match = etree.SubElement(part, q("match"))
            etree.SubElement(match, q("variable"), identifier="RESPONSE")
            etree.SubElement(match, q("correct"), identifier="RESPONSE")
        setter = etree.SubElement(part, q("setOutcomeValue"), identifier="SCORE")
        etree.SubElement(setter, q("baseValue"), baseType="float").text = value
    setter = etree.SubElement(processing, q("setOutcomeValue"), identifier="FEEDBACK")
    etree.SubElement(setter, q("baseValue"), baseType="identifier").text = "EXPLANATION"


def manifest_xml(bank: Bank, entries: Sequence[tuple[ExportedQuestion, str, list[str]]]) -> bytes:
    """Return the package manifest: one resource per item, with our metadata."""
    cp = f"{{{CP_NS}}}"
    es = f"{{{ES_NS}}}"
    manifest = etree.Element(
        cp + "manifest",
        nsmap={None: CP_NS, "xsi": XSI_NS, "es": ES_NS},
        identifier=f"MANIFEST-{uuid.uuid4().hex}",
    )
    manifest.set(f"{{{XSI_NS}}}schemaLocation", f"{CP_NS} {CP_XSD}")
    metadata = etree.SubElement(manifest, cp + "metadata")
    etree.SubElement(metadata, cp + "schema").text = "QTIv2.1 Package"
    etree.SubElement(metadata, cp + "schemaversion").text = "1.0.0"
    etree.SubElement(
        metadata,
        es + "bank",
        code=bank.code,
        name=bank.name,
        industry=bank.industry or "",
        category=bank.category or "",
        job_type=bank.job_type or "",
    )
    etree.SubElement(manifest, cp + "organizations")
    resources = etree.SubElement(manifest, cp + "resources")
    for question, href, files in entries:
        resource = etree.SubElement(
            resources,
            cp + "resource",
            identifier=f"RES-Q{question.version_id}",
            type="imsqti_item_xmlv2p1",
            href=href,
        )
        meta = etree.SubElement(resource, cp + "metadata")
        etree.SubElement(
            meta,
            es + "question",
            id=str(question.version_id),
            questionId=str(question.question_id),
            version=str(question.version_no),
            type=question.type,
            topic=question.topic,
            difficulty=str(question.difficulty),
        )
        etree.SubElement(resource, cp + "file", href=href)
        for name in dict.fromkeys(files):
            etree.SubElement(resource, cp + "file", href=name)
    return etree.tostring(manifest, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def export_qti(session: Session, bank: Bank) -> bytes:
    """Return the bank's active questions as a QTI 2.1 content package (zip)."""
    questions = bank_questions(session, bank)
    wanted = {
        int(m)
        for question in questions
        for text in (question.stem, question.explanation, *(o["text"] for o in question.options))
        for m in re.findall(r'src="/media/([1-9][0-9]{0,11})"', text)
    }
    stored = (
        {m.id: m for m in session.scalars(select(Media).where(Media.id.in_(wanted)))}
        if wanted
        else {}
    )
    media = _PackageMedia(stored.get)
    buffer = io.BytesIO()
    entries: list[tuple[ExportedQuestion, str, list[str]]] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for question in questions:
            xml, used = item_xml(question, media)
            href = f"items/Q{question.version_id}.xml"
            package.writestr(href, xml)
            entries.append((question, href, used))
        for name, data in media.files.values():
            package.writestr(name, data)
        package.writestr("imsmanifest.xml", manifest_xml(bank, entries))
    return buffer.getvalue()


# ------------------------------------------------------------------------------ import
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class QtiError(ValueError):
    """An item or package refused, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse XML from outside: no DTD (so no entities), no network; QtiError if refused."""
    try:
        tree = etree.parse(io.BytesIO(data), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise QtiError(
            "bad_xml", _("%(name)s is not well-formed XML: %(error)s", name=what, error=exc.msg)
        ) from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise QtiError(
            "xml_doctype",
            _("%(name)s declares a DOCTYPE (entities); such XML is refused for safety.", name=what),
        )
    return tree.getroot()


@dataclass
class _Package:
    """Where an item's images are looked up: the zip it came in, or nothing (a lone file)."""

    archive: zipfile.ZipFile | None
    media_max_bytes: int
    count: int = 0

    def image(self, path: str) -> MediaFile:
        if self.archive is None:
            raise QtiError(
                "missing_media",
                _(
                    "The item shows the image %(path)s, which is not included: import the whole "
                    "content package (zip) with its images.",
                    path=path,
                ),
            )
        try:
            info = self.archive.getinfo(path)
        except KeyError:
            raise QtiError(
                "missing_media",
                _("The item shows the image %(path)s, which is not in the package.", path=path),
            ) from None
        if info.file_size > self.media_max_bytes:
            raise QtiError(
                "media_too_large",
                _(
                    "The image %(path)s is larger than %(limit)d KiB.",
                    path=path,
                    limit=self.media_max_bytes // 1024,
                ),
            )
        try:
            data = read_zip_member(self.archive, path, self.media_max_bytes)
        except TableError as exc:
            raise QtiError(exc.code, exc.message) from exc
        mime = _image_mime(data)
        if mime is None:
            raise QtiError(
                "unsupported_media",
                _(
                    "%(path)s is not a PNG, JPEG, GIF or WebP image (SVG and others are refused).",
                    path=path,
                ),
            )
        return MediaFile(data, mime, posixpath.basename(path))


def _image_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _resolve(base: str, href: str) -> str:
    """Return ``href`` relative to the package file ``base`` as a package path, or refuse it."""
    href = href.strip()
    if not href or re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", href) or href.startswith("/"):
        raise QtiError("bad_path", _("%(path)s is not a file inside the package.", path=href))
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), href))
    if path.startswith("../") or path == "..":
        raise QtiError("bad_path", _("%(path)s points outside the package.", path=href))
    return path


def parse_qti(
    data: bytes,
    filename: str,
    max_rows: int,
    media_max_bytes: int = DEFAULT_MEDIA_MAX_BYTES,
) -> ParsedFile:
    """Read a QTI content package (zip) or one assessmentItem file into import rows."""
    parsed = ParsedFile("qti")
    if filename.lower().endswith(".zip") and not data.startswith(b"PK"):
        parsed.issues.append(Issue("not_a_zip", _("The file is not a valid zip archive.")))
        return parsed
    if data.startswith(b"PK"):
        archive = open_zip(data)
        try:
            _parse_package(archive, parsed, max_rows, media_max_bytes)
        finally:
            archive.close()
        return parsed
    try:
        root = parse_xml(data, filename or "item.xml")
    except QtiError as exc:
        parsed.issues.append(Issue(exc.code, exc.message))
        return parsed
    if local(root.tag) != "assessmentItem":
        parsed.issues.append(
            Issue(
                "not_qti",
                _("The XML is a %(tag)s, not a QTI assessmentItem.", tag=local(root.tag)),
            )
        )
        return parsed
    row = _new_row(1, filename or "item.xml")
    _read_item(row, root, filename or "item.xml", _Package(None, media_max_bytes), {})
    parsed.rows.append(row)
    return parsed


def _new_row(number: int, href: str) -> ImportRow:
    fields = ("type", "stem", "options", "answer", "topic", "difficulty", "explanation")
    where = dict.fromkeys(fields, (href, ""))
    row = ImportRow(row=number, type="", stem="", where=where)
    for letter in "ABCDEFGH":
        row.where[f"option {letter}"] = (href, "")
    return row


def _parse_package(
    archive: zipfile.ZipFile, parsed: ParsedFile, max_rows: int, media_max_bytes: int
) -> None:
    names = set(archive.namelist())
    entries: list[tuple[str, dict[str, str]]] = []
    if "imsmanifest.xml" in names:
        try:
            manifest = parse_xml(
                read_zip_member(archive, "imsmanifest.xml", MAX_ITEM_BYTES), "imsmanifest.xml"
            )
        except (QtiError, TableError) as exc:
            parsed.issues.append(Issue(exc.code, exc.message))
            return
        for element in manifest.iter(f"{{{ES_NS}}}bank"):
            parsed.bank = {
                k: (element.get(k) or "")[:200]
                for k in ("name", "industry", "category", "job_type")
                if element.get(k)
            }
            break
        for resource in manifest.iter(f"{{{CP_NS}}}resource"):
            if resource.get("type", "") not in ITEM_TYPES:
                continue
            meta: dict[str, str] = {}
            for element in resource.iter(f"{{{ES_NS}}}question"):
                meta = dict(element.attrib)
            try:
                href = _resolve("imsmanifest.xml", resource.get("href", ""))
            except QtiError as exc:
                parsed.issues.append(Issue(exc.code, exc.message, severity="error"))
                continue
            entries.append((href, meta))
    else:
        entries = [(n, {}) for n in sorted(names) if n.lower().endswith(".xml")]
        if entries:
            parsed.issues.append(
                Issue(
                    "no_manifest",
                    _("The package has no imsmanifest.xml; every .xml file is read as an item."),
                    severity="warning",
                )
            )
    if not entries:
        parsed.issues.append(Issue("not_qti", _("The package holds no QTI assessment item.")))
        return
    if len(entries) > max_rows:
        parsed.issues.append(
            Issue(
                "too_many_rows",
                _("The package has more than %(max)d items; split it.", max=max_rows),
            )
        )
        return
    package = _Package(archive, media_max_bytes)
    types = type_lookup()
    for number, (href, meta) in enumerate(entries, start=1):
        row = _new_row(number, href)
        parsed.rows.append(row)
        try:
            if href not in names:
                raise QtiError(
                    "missing_item",
                    _("The manifest lists %(path)s, which is not in the package.", path=href),
                )
            root = parse_xml(read_zip_member(archive, href, MAX_ITEM_BYTES), href)
            if local(root.tag) != "assessmentItem":
                raise QtiError("not_qti", _("%(path)s is not a QTI assessmentItem.", path=href))
        except (QtiError, TableError) as exc:
            row.add("stem", exc.code, exc.message)
            continue
        _read_item(row, root, href, package, meta, types)


def _read_item(
    row: ImportRow,
    root: etree._Element,
    href: str,
    package: _Package,
    meta: dict[str, str],
    types: dict[str, str] | None = None,
) -> None:
    """Fill ``row`` from an assessmentItem; every refusal becomes an issue of the row."""
    try:
        _read_item_or_raise(row, root, href, package, meta, types or type_lookup())
    except QtiError as exc:
        row.add("stem", exc.code, exc.message)


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if local(c.tag) == name]


def _read_item_or_raise(
    row: ImportRow,
    root: etree._Element,
    href: str,
    package: _Package,
    meta: dict[str, str],
    types: dict[str, str],
) -> None:
    if root.get("adaptive") == "true" or _children(root, "templateDeclaration"):
        raise QtiError(
            "unsupported_item", _("Adaptive and template (cloned) items are not supported.")
        )
    bodies = _children(root, "itemBody")
    if not bodies:
        raise QtiError("unsupported_interaction", _("The item has no itemBody."))
    interactions = [e for e in bodies[0].iter() if local(e.tag).endswith("Interaction")]
    if not interactions:
        raise QtiError("unsupported_interaction", _("The item has no interaction."))
    if len(interactions) > 1:
        raise QtiError(
            "unsupported_interaction",
            _(
                "The item has %(count)d interactions; a question here has exactly one.",
                count=len(interactions),
            ),
        )
    interaction = interactions[0]
    if local(interaction.tag) != "choiceInteraction":
        raise QtiError(
            "unsupported_interaction",
            _(
                "%(name)s is not supported; only choiceInteraction (true/false, single and "
                "multiple choice) is.",
                name=local(interaction.tag),
            ),
        )
    response_id = interaction.get("responseIdentifier", "")
    declaration = next(
        (d for d in _children(root, "responseDeclaration") if d.get("identifier") == response_id),
        None,
    )
    if declaration is None:
        raise QtiError(
            "no_correct_response",
            _("The item has no responseDeclaration for %(id)s.", id=response_id),
        )
    cardinality = declaration.get("cardinality", "single")
    if cardinality not in ("single", "multiple"):
        raise QtiError(
            "unsupported_interaction",
            _("A %(kind)s response (ordered choice) is not supported.", kind=cardinality),
        )
    correct = [
        (v.text or "").strip()
        for c in _children(declaration, "correctResponse")
        for v in _children(c, "value")
    ]
    if not correct:
        raise QtiError("no_correct_response", _("The item declares no correct response."))
    choices = _children(interaction, "simpleChoice")
    ids = [c.get("identifier", "") for c in choices]
    _note_scoring(row, root, declaration)
    if interaction.get("shuffle") == "true":
        fixed = [i for c, i in zip(choices, ids, strict=True) if c.get("fixed") == "true"]
        if fixed:
            row.add(
                "options",
                "fixed_not_kept",
                _(
                    "Choice %(choices)s is fixed in place in the item; fixed positions are not "
                    "kept: when a blueprint shuffles options, all of them move.",
                    choices=", ".join(fixed),
                ),
                "warning",
            )
    converter = _HtmlWriter(href, package, row)
    texts = [converter.convert(c) for c in choices]
    prompt = _children(interaction, "prompt")
    stem_parts = [converter.convert_many(_stem_nodes(bodies[0], interaction))]
    if prompt:
        stem_parts.append(f"<p>{converter.convert(prompt[0])}</p>")
    row.stem = "".join(p for p in stem_parts if p.strip())
    feedback = _children(root, "modalFeedback")
    row.explanation = "<br>".join(converter.convert(f) for f in feedback)
    if len(feedback) > 1:
        row.add(
            "explanation",
            "feedback_merged",
            _(
                "The item's %(count)d feedback texts are kept together as one explanation.",
                count=len(feedback),
            ),
            "warning",
        )
    row.topic = _parse_topic(row, meta.get("topic", ""))
    row.difficulty = (
        _parse_difficulty(row, meta["difficulty"]) if meta.get("difficulty") else DEFAULT_DIFFICULTY
    )
    row.type = types.get(meta.get("type", "").casefold(), "") or _guess_type(
        cardinality, ids, texts
    )
    qtype = QuestionType.registry.get(row.type)
    defaults = qtype.default_options() if qtype is not None else []
    if defaults:
        row.options = defaults
        row.answer = _judge_answer(ids, texts, correct, defaults)
    else:
        row.options, row.answer = rekey_options(ids, texts, correct)
    row.media = converter.media


def _stem_nodes(body: etree._Element, interaction: etree._Element) -> list[etree._Element]:
    """The itemBody's content that is not the interaction (nor a block holding only it)."""
    nodes: list[etree._Element] = []
    for child in body:
        if child is interaction:
            continue
        if any(e is interaction for e in child.iter()):
            nodes.extend(c for c in child if c is not interaction)
            continue
        nodes.append(child)
    return nodes


def _guess_type(cardinality: str, ids: Sequence[str], texts: Sequence[str]) -> str:
    if cardinality == "multiple":
        return "multi"
    words = [plain_text(t).casefold() for t in texts]
    if list(ids) == ["T", "F"] or (
        len(words) == 2 and words[0] in _TRUE_WORDS and words[1] in _FALSE_WORDS
    ):
        return "judge"
    return "single"


def _judge_answer(
    ids: Sequence[str],
    texts: Sequence[str],
    correct: Sequence[str],
    defaults: Sequence[dict[str, str]],
) -> list[str]:
    keys = [o["key"] for o in defaults]
    mapping: dict[str, str] = {}
    for position, (identifier, text) in enumerate(zip(ids, texts, strict=True)):
        word = plain_text(text).casefold()
        if identifier in keys:
            mapping[identifier] = identifier
        elif word in _TRUE_WORDS:
            mapping[identifier] = keys[0]
        elif word in _FALSE_WORDS:
            mapping[identifier] = keys[1]
        elif position < len(keys):
            mapping[identifier] = keys[position]
    return [mapping.get(c, c) for c in correct]


def _note_scoring(row: ImportRow, root: etree._Element, declaration: etree._Element) -> None:
    """Say what of the item's scoring is not kept: examserver scores from the answer key."""
    mapping = _children(declaration, "mapping")
    if mapping:
        entries = ", ".join(
            f"{e.get('mapKey')}={e.get('mappedValue')}" for e in _children(mapping[0], "mapEntry")
        )
        row.add(
            "answer",
            "mapping_not_kept",
            _(
                "The item's partial-credit mapping (%(entries)s; default %(default)s) is not "
                "kept: only the correct response is imported. Multiple-response questions score "
                "all-or-nothing, or by the blueprint's partial rule (0.5 per correct option "
                "chosen, 0 if any wrong one is chosen).",
                entries=entries,
                default=mapping[0].get("defaultValue", "0"),
            ),
            "warning",
        )
        return
    processing = _children(root, "responseProcessing")
    if not processing:
        return
    template = processing[0].get("template", "")
    if template:
        if not template.rstrip("/").endswith(MATCH_CORRECT):
            row.add(
                "answer",
                "scoring_not_kept",
                _(
                    "The item's scoring template %(name)s is not kept; the question is scored "
                    "from its correct response.",
                    name=template.rsplit("/", 1)[-1],
                ),
                "warning",
            )
        return
    if not any(local(e.tag) == "correct" for e in processing[0].iter()):
        row.add(
            "answer",
            "scoring_not_kept",
            _(
                "The item's own response processing is not kept; the question is scored from "
                "its correct response."
            ),
            "warning",
        )


class _HtmlWriter:
    """Turn QTI body content into the rich-text HTML examserver stores."""

    _HTML = _SAME - {"div", "tfoot"} | {"u"}

    def __init__(self, href: str, package: _Package, row: ImportRow) -> None:
        self.href = href
        self.package = package
        self.row = row
        self.media: dict[str, MediaFile] = {}
        self.simplified: set[str] = set()

    @staticmethod
    def _text(text: str | None) -> str:
        """Escape text; whitespace that only lays out the XML (a line break) is dropped."""
        if not text or (not text.strip() and "\n" in text):
            return ""
        return html.escape(text, quote=False)

    def convert(self, element: etree._Element) -> str:
        """Return the content of ``element`` (not the element itself) as HTML."""
        parts = [self._text(element.text)]
        parts.extend(self._node(child) for child in element)
        return "".join(parts).strip()

    def convert_many(self, elements: Sequence[etree._Element]) -> str:
        return "".join(self._node(e) for e in elements).strip()

    def _node(self, element: etree._Element) -> str:
        tag = local(element.tag)
        tail = self._text(element.tail)
        if not tag:
            return tail
        if tag == "img":
            return self._image(element) + tail
        if tag in ("object", "math"):
            kind = "MathML" if tag == "math" else "embedded objects (object)"
            raise QtiError(
                "unsupported_content", _("%(kind)s in the item are not supported.", kind=kind)
            )
        inner = self._text(element.text) + "".join(self._node(c) for c in element)
        if tag == "span" and _UNDERLINE in (element.get("class") or "").split():
            return f"<u>{inner}</u>{tail}"
        if tag == "br":
            return "<br>" + tail
        if tag in self._HTML:
            attrs = "".join(
                f' {name}="{html.escape(element.get(name, ""))}"'
                for name in ("colspan", "rowspan")
                if tag in ("td", "th") and element.get(name, "").isdigit()
            )
            return f"<{tag}{attrs}>{inner}</{tag}>{tail}"
        if tag == "tfoot":
            return f"<tbody>{inner}</tbody>{tail}"
        if tag == "div" and (
            "stem" in (element.get("class") or "").split()
            or any(local(c.tag) in _BLOCK for c in element)
        ):
            return inner + tail
        if tag in ("div", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre"):
            return f"<p>{inner}</p>{tail}"
        if tag not in self.simplified:
            self.simplified.add(tag)
            self.row.add(
                "stem",
                "content_simplified",
                _("The item's %(tag)s element is imported as plain text.", tag=tag),
                "warning",
            )
        return inner + tail

    def _image(self, element: etree._Element) -> str:
        path = _resolve(self.href, element.get("src", ""))
        media = self.package.image(path)
        self.package.count += 1
        placeholder = f"/media/9{self.package.count:011d}"
        self.media[placeholder] = media
        alt = html.escape(element.get("alt", ""))
        size = "".join(
            f' {name}="{element.get(name)}"'
            for name in ("width", "height")
            if (element.get(name) or "").isdigit()
        )
        return f'<img src="{placeholder}" alt="{alt}"{size}>'
