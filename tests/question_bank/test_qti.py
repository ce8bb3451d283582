"""IMS QTI 2.1: exported packages validate against the official schemas, round trip, and the
specification's samples import or are refused with a specific reason."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from lxml import etree

from examserver.extensions import db
from examserver.question_bank import tabular
from examserver.question_bank.exporting import export_bank
from examserver.question_bank.importing import check_rows, import_file, parse_file
from examserver.question_bank.operations import get_bank
from examserver.question_bank.qti import ES_NS, QTI_NS
from tests.question_bank.import_helpers import PNG, bank_snapshot, shared_file
from tests.question_bank.test_export import fill_bank


@pytest.fixture(scope="module")
def item_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(shared_file("schemas", "qtiv2p1", "imsqti_v2p1.xsd"))))


@pytest.fixture(scope="module")
def manifest_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(shared_file("schemas", "imscp_v1p1.xsd"))))


def add_image_question(app: Flask) -> int:
    """Add to bank SRC a question that shows an uploaded image; returns the media id."""
    from examserver.question_bank.models import Media
    from examserver.question_bank.operations import create_question, get_or_create_bank
    from examserver.question_bank.types import QuestionContent

    with app.app_context():
        media = Media(sha256=hashlib.sha256(PNG).hexdigest(), mime="image/png", data=PNG,
                      filename="sign.png", size=len(PNG))  # fmt: skip
        db.session.add(media)
        db.session.flush()
        bank = get_or_create_bank(db.session, "SRC")
        stem = f'<p>这个标志表示什么？</p><p><img src="/media/{media.id}" alt="标志"></p>'
        options = [{"key": "o1", "text": "禁止烟火"}, {"key": "o2", "text": "当心触电"}]
        create_question(db.session, bank, QuestionContent("single", stem, options, ["o1"]))
        db.session.commit()
        return media.id


def export(app: Flask, code: str = "SRC") -> bytes:
    with app.app_context():
        return export_bank(db.session, get_bank(db.session, code), "qti")


def test_exported_package_validates_against_the_official_schemas(
    app: Flask, item_schema: etree.XMLSchema, manifest_schema: etree.XMLSchema
):
    fill_bank(app)
    media_id = add_image_question(app)

    package = zipfile.ZipFile(io.BytesIO(export(app)))

    names = package.namelist()
    manifest = etree.fromstring(package.read("imsmanifest.xml"))
    assert manifest_schema.validate(etree.ElementTree(manifest)), manifest_schema.error_log
    items = [n for n in names if n.startswith("items/")]
    assert len(items) == 8
    for name in items:
        item = etree.ElementTree(etree.fromstring(package.read(name)))
        assert item_schema.validate(item), (name, str(item_schema.error_log))
    assert f"media/{media_id}.png" in names
    assert package.read(f"media/{media_id}.png") == PNG


def test_exported_items_say_type_answer_topic_difficulty_and_explanation(app: Flask):
    fill_bank(app)
    package = zipfile.ZipFile(io.BytesIO(export(app)))
    ns = {"q": QTI_NS, "es": ES_NS, "cp": "http://www.imsglobal.org/xsd/imscp_v1p1"}
    manifest = etree.fromstring(package.read("imsmanifest.xml"))
    metas = {
        r.get("href"): r.find("cp:metadata/es:question", ns)
        for r in manifest.iterfind(".//cp:resource", ns)
    }

    judge_href = next(h for h, m in metas.items() if m.get("type") == "judge"
                      and m.get("topic") == "法律法规/安全生产法")  # fmt: skip
    judge = etree.fromstring(package.read(judge_href))
    interaction = judge.find(".//q:choiceInteraction", ns)
    assert [c.get("identifier") for c in interaction] == ["T", "F"]
    assert judge.find("q:responseDeclaration", ns).get("cardinality") == "single"
    assert [v.text for v in judge.iterfind(".//q:correctResponse/q:value", ns)] == ["T"]
    assert metas[judge_href].get("difficulty") == "1"
    assert "第一责任人" in "".join(judge.find("q:modalFeedback", ns).itertext())

    multi_href = next(h for h, m in metas.items() if m.get("type") == "multi")
    multi = etree.fromstring(package.read(multi_href))
    assert multi.find("q:responseDeclaration", ns).get("cardinality") == "multiple"
    assert [v.text for v in multi.iterfind(".//q:correctResponse/q:value", ns)] == [
        "o1", "o2", "o4",
    ]  # fmt: skip


def test_qti_round_trip_gives_back_the_same_questions_and_images(app: Flask):
    fill_bank(app)
    add_image_question(app)
    data = export(app)

    with app.app_context():
        report = import_file(db.session, data, "bank.zip", "DST")
        db.session.commit()

    assert report.clean, [i.as_dict() for i in report.all_issues]
    assert report.imported == 8
    assert bank_snapshot(app, "DST", keys=True) == bank_snapshot(app, "SRC", keys=True)
    from examserver.question_bank.models import Bank, Media

    with app.app_context():
        assert db.session.query(Media).count() == 1  # the same image is stored once
        assert db.session.query(Bank).filter_by(code="DST").one().industry == "危险化学品"


def test_qti_round_trip_into_a_fresh_database(app: Flask, tmp_path: Path):
    from tests.conftest import make_app

    fill_bank(app)
    add_image_question(app)
    data = export(app)
    other = make_app("sqlite:///" + str(tmp_path / "other.db"))

    with other.app_context():
        report = import_file(db.session, data, "bank.zip", "SRC")
        db.session.commit()
        from examserver.question_bank.models import Media

        stored = db.session.query(Media).one()
    try:
        assert report.imported == 8
        assert stored.data == PNG
        images = [q for q in bank_snapshot(other, "SRC") if "<img" in q[1]]
        assert images[0][1] == (
            f'<p>这个标志表示什么？</p><p><img src="/media/{stored.id}" alt="标志"></p>'
        )
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


# ------------------------------------------------------------------------------ the samples
def sample(name: str) -> bytes:
    return shared_file("samples", name).read_bytes()


def test_choice_sample_is_refused_for_its_missing_image():
    parsed = parse_file(sample("choice.xml"), "choice.xml")
    check_rows(None, None, parsed)

    assert not parsed.issues
    (row,) = parsed.rows
    errors = [i for i in row.issues if i.is_error]
    assert [i.code for i in errors] == ["missing_media"]
    assert "images/sign.png" in errors[0].message
    assert errors[0].column == "choice.xml"
    assert not row.ok


def test_choice_sample_imports_with_its_image_in_a_package(app: Flask):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("choice.xml", sample("choice.xml"))
        package.writestr("images/sign.png", PNG)

    with app.app_context():
        report = import_file(db.session, buffer.getvalue(), "choice.zip", "PET")
        db.session.commit()

    assert [i.code for i in report.issues] == ["no_manifest"]  # a warning
    assert report.imported == 1
    ((qtype, stem, options, answer, *_rest),) = bank_snapshot(app, "PET", keys=True)
    assert qtype == "single"
    assert stem.startswith('<p>Look at the text in the picture.</p><p><img src="/media/')
    assert stem.endswith("<p>What does it say?</p>")
    assert options[0] == ("o1", "You must stay with your luggage at all times.")
    assert answer == ("o1",)


def test_choice_multiple_sample_imports_as_multi_and_reports_the_mapping():
    parsed = parse_file(sample("choice_multiple.xml"), "choice_multiple.xml")
    check_rows(None, None, parsed)

    (row,) = parsed.rows
    assert row.ok
    assert row.type == "multi"
    assert [o["text"] for o in row.content.options] == [
        "Hydrogen", "Helium", "Carbon", "Oxygen", "Nitrogen", "Chlorine",
    ]  # fmt: skip
    assert row.answer_display == "AD"  # H and O, from correctResponse
    warnings = [i for i in row.issues if not i.is_error]
    assert [i.code for i in warnings] == ["mapping_not_kept"]
    assert "Cl=-1" in warnings[0].message
    assert "0.5" in warnings[0].message
    assert row.stem == "<p>Which of the following elements are used to form water?</p>"


def test_choice_fixed_sample_reports_that_fixed_positions_are_not_kept():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("items/choice_fixed.xml", sample("choice_fixed.xml"))
        package.writestr("items/images/sign.png", PNG)

    parsed = parse_file(buffer.getvalue(), "fixed.zip")
    check_rows(None, None, parsed)

    (row,) = parsed.rows
    assert row.ok, [i.as_dict() for i in row.issues]
    assert row.type == "single"
    assert len(row.content.options) == 4
    warnings = {i.code: i for i in row.issues if not i.is_error}
    assert set(warnings) == {"fixed_not_kept"}
    assert "ChoiceD" in warnings["fixed_not_kept"].message


def test_choice_fixed_alone_is_refused_for_its_image_and_still_warns():
    parsed = parse_file(sample("choice_fixed.xml"), "choice_fixed.xml")

    codes = {(i.code, i.severity) for i in parsed.rows[0].issues}
    assert codes == {("missing_media", "error"), ("fixed_not_kept", "warning")}


# ------------------------------------------------------------------------------ hostile input
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE assessmentItem [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x" title="x"
  adaptive="false" timeDependent="false"><itemBody><p>&secret;</p></itemBody></assessmentItem>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<assessmentItem><itemBody><p>&lol3;</p></itemBody></assessmentItem>"""


@pytest.mark.parametrize("data", [XXE, LAUGHS])
def test_xml_with_entities_is_refused(data: bytes):
    parsed = parse_file(data, "item.xml")

    assert [i.code for i in parsed.issues] == ["xml_doctype"]
    assert "passwd" not in repr(parsed)


def test_an_item_with_entities_inside_a_package_is_refused_alone(app: Flask):
    fill_bank(app)
    good = export(app)
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(buffer, "w") as target:
        names = sorted(n for n in source.namelist() if n.startswith("items/"))
        for name in source.namelist():
            target.writestr(name, XXE if name == names[0] else source.read(name))

    parsed = parse_file(buffer.getvalue(), "bank.zip")
    check_rows(None, None, parsed)

    bad = [r for r in parsed.rows if not r.ok]
    assert [(r.where["stem"][0], [i.code for i in r.issues]) for r in bad] == [
        (names[0], ["xml_doctype"])
    ]
    assert len(parsed.rows) - len(bad) == 6


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"this is not a zip at all", "bank.zip", "not_a_zip"),
        (b"<notclosed", "item.xml", "bad_xml"),
        (b'<assessmentTest xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"/>', "t.xml", "not_qti"),
    ],
)
def test_broken_qti_files_get_a_clear_error(data: bytes, filename: str, code: str):
    parsed = parse_file(data, filename, "qti")

    assert [i.code for i in parsed.issues] == [code]


def test_a_package_member_that_unpacks_huge_is_refused(monkeypatch: pytest.MonkeyPatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("imsmanifest.xml", b"<manifest/>")
        package.writestr("items/huge.xml", b" " * 3_000_000)
    monkeypatch.setattr(tabular, "MAX_UNPACKED_BYTES", 1_000_000)

    parsed = parse_file(buffer.getvalue(), "bomb.zip")

    assert [i.code for i in parsed.issues] == ["unpacked_too_large"]


def test_paths_outside_the_package_and_unsupported_items_are_refused():
    manifest = b"""<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="m">
      <organizations/><resources>
        <resource identifier="r1" type="imsqti_item_xmlv2p1" href="../../etc/passwd"/>
        <resource identifier="r2" type="imsqti_item_xmlv2p1" href="text.xml"/>
        <resource identifier="r3" type="imsqti_item_xmlv2p1" href="svg.xml"/>
      </resources></manifest>"""
    text_entry = b"""<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"
      identifier="t" title="t" adaptive="false" timeDependent="false">
      <responseDeclaration identifier="R" cardinality="single" baseType="string"/>
      <itemBody><p>Type: <textEntryInteraction responseIdentifier="R"/></p></itemBody>
      </assessmentItem>"""
    svg_item = sample_with_image("evil.svg")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("imsmanifest.xml", manifest)
        package.writestr("text.xml", text_entry)
        package.writestr("svg.xml", svg_item)
        package.writestr("evil.svg", b"<svg onload='alert(1)'/>")

    parsed = parse_file(buffer.getvalue(), "p.zip")

    assert [i.code for i in parsed.issues] == ["bad_path"]
    assert [[i.code for i in r.issues] for r in parsed.rows] == [
        ["unsupported_interaction"],
        ["unsupported_media"],
    ]


def sample_with_image(src: str) -> bytes:
    return sample("choice.xml").replace(b"images/sign.png", src.encode())
