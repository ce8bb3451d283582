"""Blueprint services on a real database: validation, feasibility, drawing and storing papers."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from examserver.extensions import db
from examserver.papers import operations as ops
from examserver.papers.draw import DrawError
from examserver.papers.models import Blueprint, BlueprintSection, Paper, PaperItem
from examserver.question_bank.models import Question, QuestionVersion
from examserver.question_bank.operations import (
    ensure_topic,
    get_bank,
    get_or_create_bank,
    retire_questions,
    update_question,
)
from examserver.question_bank.types import QuestionContent
from tests.papers.conftest import add_questions, blueprint_data

SectionData = ops.SectionData


def section(**fields: Any) -> SectionData:
    return SectionData(**{"type": "judge", "count": 1, "points": 1.0, **fields})


# ------------------------------------------------------------------------------- validation
@pytest.fixture
def two_banks(app: Flask) -> dict[str, int]:
    """Bank B1 with a knowledge point, bank B2 with another."""
    with app.test_request_context():
        b1 = get_or_create_bank(db.session, "B1")
        b2 = get_or_create_bank(db.session, "B2")
        mine = ensure_topic(db.session, b1, "法律法规/安全生产法")
        other = ensure_topic(db.session, b2, "焊接工艺")
        db.session.commit()
        return {"b1": b1.id, "b2": b2.id, "mine": mine.id, "other": other.id}


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty code", {"code": ""}, "code", "bad_code"),
    ("code with a space", {"code": "bad code"}, "code", "bad_code"),
    ("code too long", {"code": "x" * 65}, "code", "bad_code"),
    ("no name", {"name": ""}, "name", "name_required"),
    ("long name", {"name": "名" * 201}, "name", "name_too_long"),
    ("no bank", {"bank_id": None}, "bank_id", "unknown_bank"),
    ("unknown bank", {"bank_id": 9999}, "bank_id", "unknown_bank"),
    ("no sections", {"sections": []}, "sections", "no_sections"),
    ("too many sections", {"sections": [section() for _ in range(21)], "pass_score": 1.0},
     "sections", "too_many_sections"),
    # The pass mark (4) is not also refused against a maximum made of a refused count.
    ("count 0", {"sections": [section(count=0)]}, "sections-0-count", "bad_count"),
    ("count missing", {"sections": [section(count=None)]}, "sections-0-count", "not_a_number"),
    ("points 0", {"sections": [section(points=0.0)], "pass_score": 0.0}, "sections-0-points",
     "bad_points"),
    ("points with 3 decimals", {"sections": [section(points=1.005)], "pass_score": 1.0},
     "sections-0-points", "bad_points"),
    ("unknown type", {"sections": [section(type="essay")], "pass_score": 1.0},
     "sections-0-type", "unknown_type"),
    ("difficulty 0", {"sections": [section(difficulty_min=0)], "pass_score": 1.0},
     "sections-0-difficulty_min", "bad_difficulty"),
    ("difficulty 6", {"sections": [section(difficulty_max=6)], "pass_score": 1.0},
     "sections-0-difficulty_max", "bad_difficulty"),
    ("difficulty reversed", {"sections": [section(difficulty_min=4, difficulty_max=2)],
                             "pass_score": 1.0}, "sections-0-difficulty_max", "difficulty_range"),
    ("topic of another bank", {"sections": [section(topic_ids=["other"])], "pass_score": 1.0},
     "sections-0-topic_ids", "topic_elsewhere"),
    ("unknown topic", {"sections": [section(topic_ids=[987654])], "pass_score": 1.0},
     "sections-0-topic_ids", "topic_elsewhere"),
    ("pass above max", {"pass_score": 5.5}, "pass_score", "bad_pass_score"),
    ("negative pass", {"pass_score": -1.0}, "pass_score", "bad_pass_score"),
    ("pass missing", {"pass_score": None}, "pass_score", "not_a_number"),
    ("duration 0", {"duration_min": 0, "earliest_submit_min": 0}, "duration_min", "bad_duration"),
    ("duration 601", {"duration_min": 601}, "duration_min", "bad_duration"),
    ("earliest submit after the end", {"earliest_submit_min": 61}, "earliest_submit_min",
     "bad_earliest_submit"),
    ("negative earliest submit", {"earliest_submit_min": -1}, "earliest_submit_min",
     "bad_earliest_submit"),
    ("unknown scoring rule", {"multi_scoring": "half"}, "multi_scoring", "bad_multi_scoring"),
]


@pytest.mark.parametrize(("change", "field", "code"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_rule_has_its_code_beside_its_field(
    app: Flask, two_banks: dict[str, int], change: dict[str, Any], field: str, code: str
) -> None:
    change = dict(change)
    if "sections" in change:
        change["sections"] = [
            dataclasses.replace(
                s, topic_ids=[two_banks[t] if isinstance(t, str) else t for t in s.topic_ids]
            )
            for s in change["sections"]
        ]
    bank_id = change.pop("bank_id", two_banks["b1"])
    with app.test_request_context():
        data = blueprint_data(bank_id, **change)
        errors = ops.validate_blueprint(db.session, data)
        assert [(e.field, e.code) for e in errors] == [(field, code)]
        assert all(e.message for e in errors)
        with pytest.raises(ops.BlueprintInvalid):
            ops.create_blueprint(db.session, data)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Blueprint)) == 0


def test_a_valid_blueprint_is_saved_with_its_sections_in_order(
    app: Flask, two_banks: dict[str, int]
) -> None:
    with app.test_request_context():
        data = blueprint_data(
            two_banks["b1"],
            multi_scoring="partial",
            sections=[
                section(type="single", count=2, points=2.5, title="单选",
                        topic_ids=[two_banks["mine"]], difficulty_min=2, difficulty_max=4),
                section(type="judge", count=3, points=1.0),
            ],
            pass_score=8.0,
        )
        assert ops.validate_blueprint(db.session, data) == []
        blueprint = ops.create_blueprint(db.session, data)
        db.session.commit()
        saved = db.session.get(Blueprint, blueprint.id)
        assert [(s.position, s.type, s.count, s.points, s.title) for s in saved.sections] == [
            (0, "single", 2, 2.5, "单选"),
            (1, "judge", 3, 1.0, ""),
        ]
        assert saved.sections[0].topic_ids == [two_banks["mine"]]
        assert (saved.sections[0].difficulty_min, saved.sections[0].difficulty_max) == (2, 4)
        assert saved.max_score == 8.0
        assert saved.multi_scoring == "partial"
        assert ops.blueprint_data_of(saved) == data


def test_the_code_is_unique_but_an_edit_keeps_its_own(
    app: Flask, two_banks: dict[str, int]
) -> None:
    with app.test_request_context():
        first = ops.create_blueprint(db.session, blueprint_data(two_banks["b1"]))
        db.session.commit()
        errors = ops.validate_blueprint(db.session, blueprint_data(two_banks["b1"]))
        assert [(e.field, e.code) for e in errors] == [("code", "code_taken")]
        assert ops.validate_blueprint(db.session, blueprint_data(two_banks["b1"]), first) == []


def test_an_edit_replaces_the_sections(app: Flask, two_banks: dict[str, int]) -> None:
    with app.test_request_context():
        blueprint = ops.create_blueprint(db.session, blueprint_data(two_banks["b1"]))
        db.session.commit()
        data = blueprint_data(
            two_banks["b1"],
            code="BP-2",
            sections=[section(type="single", count=4, points=0.5),
                      section(type="judge", count=1, points=1.0),
                      section(type="multi", count=1, points=2.0)],
            pass_score=3.0,
        )
        ops.update_blueprint(db.session, blueprint, data)
        db.session.commit()
        rows = db.session.execute(
            select(BlueprintSection.position, BlueprintSection.type, BlueprintSection.count)
            .where(BlueprintSection.blueprint_id == blueprint.id)
            .order_by(BlueprintSection.position)
        ).all()
        assert [tuple(r) for r in rows] == [(0, "single", 4), (1, "judge", 1), (2, "multi", 1)]
        ops.update_blueprint(db.session, blueprint, blueprint_data(two_banks["b1"], code="BP-2",
                                                                   sections=[section()],
                                                                   pass_score=1.0))
        db.session.commit()
        count = db.session.scalar(select(func.count()).select_from(BlueprintSection))
        assert count == 1
        assert db.session.get(Blueprint, blueprint.id).code == "BP-2"


def test_an_invalid_edit_changes_nothing(app: Flask, two_banks: dict[str, int]) -> None:
    with app.test_request_context():
        blueprint = ops.create_blueprint(db.session, blueprint_data(two_banks["b1"]))
        db.session.commit()
        with pytest.raises(ops.BlueprintInvalid):
            ops.update_blueprint(db.session, blueprint, blueprint_data(
                two_banks["b1"], name="changed", sections=[section(count=0)]))
        db.session.rollback()
        saved = db.session.get(Blueprint, blueprint.id)
        assert saved.name == "测试组卷规则"
        assert [s.count for s in saved.sections] == [3, 2]


def test_the_form_is_read_in_the_order_of_its_sections() -> None:
    form = MultiDict([
        ("code", " BP-9 "), ("name", "规则"), ("bank_id", "3"), ("duration_min", "90"),
        ("pass_score", "60.5"), ("earliest_submit_min", "abc"), ("shuffle_options", "1"),
        ("multi_scoring", "partial"),
        ("sections-5-type", "multi"), ("sections-5-count", "2"), ("sections-5-points", "2"),
        ("sections-5-difficulty_min", "1"), ("sections-5-difficulty_max", "5"),
        ("sections-0-type", "judge"), ("sections-0-count", "x"), ("sections-0-points", "1"),
        ("sections-0-topic_ids", "4"), ("sections-0-topic_ids", "7"),
        ("sections-0-topic_ids", "nope"),
        ("sections-0-difficulty_min", "2"), ("sections-0-difficulty_max", "3"),
    ])
    data = ops.blueprint_data_from_form(form)
    assert (data.code, data.bank_id, data.duration_min, data.pass_score) == ("BP-9", 3, 90, 60.5)
    assert data.earliest_submit_min is None
    assert data.shuffle_options
    assert not data.allow_review
    assert not data.issues_card
    assert [s.type for s in data.sections] == ["judge", "multi"]
    assert data.sections[0].count is None
    assert data.sections[0].topic_ids == [-1, 4, 7]
    assert data.sections[1].count == 2


# ------------------------------------------------------------------------------ feasibility
@pytest.fixture
def stocked_bank(any_db_app: Flask) -> dict[str, Any]:
    """B1: judge questions in and out of 法规/安全生产法, and others that must not count."""
    law, chapter = "法规/安全生产法", "法规/安全生产法/第一章"

    def make_questions(n: int, qtype: str, **fields: Any) -> list[int]:
        return add_questions(any_db_app, n, qtype, **fields)

    ids = {
        "law": make_questions(2, "judge", topic=law, difficulty=3),
        "chapter": make_questions(1, "judge", topic=chapter, difficulty=2, tag="c"),
        "tech": make_questions(2, "judge", topic="技术", difficulty=3, tag="t"),
        "hard": make_questions(1, "judge", topic=chapter, difficulty=5, tag="h"),
        "retired": make_questions(1, "judge", topic=law, difficulty=3, tag="r"),
        "single": make_questions(1, "single", topic=law, difficulty=3),
        "elsewhere": make_questions(2, "judge", topic=law, bank_code="B2", tag="e"),
    }
    with any_db_app.test_request_context():
        retire_questions(db.session, ids["retired"])
        bank = get_bank(db.session, "B1")
        law_topic = ensure_topic(db.session, bank, law)
        db.session.commit()
        return {"ids": ids, "bank_id": bank.id, "law": law_topic.id}


def _blueprint(app: Flask, bank_id: int, sections: list[SectionData]) -> int:
    with app.test_request_context():
        data = blueprint_data(bank_id, sections=sections, pass_score=1.0)
        blueprint = ops.create_blueprint(db.session, data)
        db.session.commit()
        return blueprint.id


def test_feasibility_counts_active_questions_of_type_topic_subtree_and_difficulty(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [
        section(type="judge", count=2, topic_ids=[stocked_bank["law"]], difficulty_max=4),
        section(type="single", count=2),
    ])
    with any_db_app.test_request_context():
        report = ops.feasibility(db.session, db.session.get(Blueprint, blueprint_id))
    judge, single = report.sections
    assert (judge.eligible, judge.needed, judge.available, judge.ok) == (3, 2, 2, True)
    assert (single.eligible, single.needed, single.available, single.ok) == (1, 2, 1, False)
    assert single.missing == 1
    assert (judge.shared, single.shared) == (0, 0)
    assert not report.ok
    assert report.level == "bad"
    assert report.expected_overlap is None

    with any_db_app.test_request_context():
        ids = ops.section_question_ids(db.session, db.session.get(Blueprint, blueprint_id))
    ids_expected = sorted(stocked_bank["ids"]["law"] + stocked_bank["ids"]["chapter"])
    assert ids[0] == ids_expected


def test_feasibility_counts_a_question_two_sections_share_once(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    # Section 1: the 3 law questions of difficulty ≤ 4; section 2: every active judge question
    # (6), 3 of them shared. Needs 3 + 4 = 7 > 6 distinct questions: section 2 is short.
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [
        section(type="judge", count=3, topic_ids=[stocked_bank["law"]], difficulty_max=4),
        section(type="judge", count=4),
    ])
    with any_db_app.test_request_context():
        report = ops.feasibility(db.session, db.session.get(Blueprint, blueprint_id))
    first, second = report.sections
    assert (first.eligible, first.shared, first.overlaps_with) == (3, 3, (1,))
    assert (second.eligible, second.shared, second.overlaps_with) == (6, 3, (0,))
    assert (first.available, second.available) == (3, 3)
    assert first.ok
    assert not second.ok


def test_feasibility_estimates_how_far_apart_papers_are(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [
        section(type="judge", count=2, topic_ids=[stocked_bank["law"]]),  # 2 of 4
        section(type="single", count=1),  # 1 of 1
    ])
    with any_db_app.test_request_context():
        report = ops.feasibility(db.session, db.session.get(Blueprint, blueprint_id))
    assert report.ok
    assert report.expected_common == pytest.approx(2 * 2 / 4 + 1)
    assert report.expected_overlap == pytest.approx(2 / 3)
    assert report.expected_same_position == pytest.approx(2 / 4 + 1)
    assert report.level == "warn"
    assert "67%" in report.verdict


# ------------------------------------------------------------------------------------ draw
def test_draw_paper_for_stores_the_exact_versions_and_marks_them_used(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [
        section(type="judge", count=2, topic_ids=[stocked_bank["law"]], difficulty_max=4),
        section(type="single", count=1, points=2.0),
    ])
    with any_db_app.test_request_context():
        blueprint = db.session.get(Blueprint, blueprint_id)
        expected = ops.draw_unstored(db.session, blueprint, "seat-1")
        paper = ops.draw_paper_for(db.session, blueprint, "seat-1")
        db.session.commit()
        paper_id = paper.id

    with any_db_app.test_request_context():
        paper = db.session.get(Paper, paper_id)
        assert paper.seed == "seat-1"
        assert paper.blueprint_id == blueprint_id
        items = [(i.position, i.section_index, i.question_version_id, tuple(i.option_order),
                  i.points) for i in paper.items]
        assert items == [(i.position, i.section_index, i.version_id, i.option_order, i.points)
                         for i in expected.items]
        assert ops.paper_layout(paper) == expected.version_ids
        used = dict(
            db.session.execute(select(QuestionVersion.id, QuestionVersion.used_count)).all()
        )
        assert {vid for vid, n in used.items() if n} == set(expected.version_ids)
        assert all(used[vid] == 1 for vid in expected.version_ids)
        # Each version is the current version of an eligible question.
        current = dict(db.session.execute(select(Question.current_version_id, Question.id)).all())
        eligible = set(stocked_bank["ids"]["law"] + stocked_bank["ids"]["chapter"]
                       + stocked_bank["ids"]["single"])
        assert {current[v] for v in expected.version_ids} <= eligible


def test_an_edit_after_the_draw_leaves_the_paper_on_its_version(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [section(type="single")])
    with any_db_app.test_request_context():
        paper = ops.draw_paper_for(db.session, db.session.get(Blueprint, blueprint_id), "s")
        db.session.commit()
        question = db.session.get(Question, stocked_bank["ids"]["single"][0])
        old = question.current_version_id
        assert ops.paper_layout(paper) == [old]
        version = update_question(db.session, question, QuestionContent(
            type="single", stem="新题干", options=[{"key": "o1", "text": "甲"},
                                                 {"key": "o2", "text": "乙"}], answer=["o1"]))
        db.session.commit()
        assert version.id != old
        stored = db.session.scalars(select(PaperItem.question_version_id)).all()
        assert stored == [old]
        # The next paper shows the new version, and counts the question as used once already.
        exposure = ops.question_exposure(db.session, stocked_bank["bank_id"])
        assert exposure[version.id] == 1


def test_the_least_used_questions_go_to_the_next_paper(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [
        section(type="judge", count=2, topic_ids=[stocked_bank["law"]]),  # 2 of 4
    ])
    with any_db_app.test_request_context():
        blueprint = db.session.get(Blueprint, blueprint_id)
        first = ops.draw_paper_for(db.session, blueprint, "a")
        second = ops.draw_paper_for(db.session, blueprint, "b")
        db.session.commit()
        assert not set(ops.paper_layout(first)) & set(ops.paper_layout(second))
        # Without exposure control the seed alone decides.
        again = ops.draw_unstored(db.session, blueprint, "a", exposure_control=False)
        assert again.version_ids == ops.paper_layout(first)


def test_neighbours_papers_are_kept_apart(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [
        section(type="judge", count=4, topic_ids=[stocked_bank["law"]]),  # 4 of 4
    ])
    with any_db_app.test_request_context():
        blueprint = db.session.get(Blueprint, blueprint_id)
        left = ops.draw_paper_for(db.session, blueprint, "left")
        mine = ops.draw_paper_for(db.session, blueprint, "mine", avoid=[ops.paper_layout(left)])
        db.session.commit()
        assert sorted(ops.paper_layout(mine)) == sorted(ops.paper_layout(left))
        assert all(a != b for a, b in zip(ops.paper_layout(mine), ops.paper_layout(left),
                                          strict=True))


def test_a_short_bank_refuses_the_draw_and_stores_nothing(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [section(type="single",
                                                                            count=2)])
    with any_db_app.test_request_context():
        with pytest.raises(DrawError) as info:
            ops.draw_paper_for(db.session, db.session.get(Blueprint, blueprint_id), "s")
        assert (info.value.code, info.value.section_index, info.value.needed,
                info.value.available) == ("pool_too_small", 0, 2, 1)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Paper)) == 0
        assert db.session.scalar(select(func.sum(QuestionVersion.used_count))) == 0


def test_a_seed_is_1_to_64_characters(any_db_app: Flask, stocked_bank: dict[str, Any]) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [section(type="single")])
    with any_db_app.test_request_context():
        blueprint = db.session.get(Blueprint, blueprint_id)
        for seed in ("", "x" * 65):
            with pytest.raises(ops.BlueprintError) as info:
                ops.draw_paper_for(db.session, blueprint, seed)
            assert info.value.code == "bad_seed"


def test_a_blueprint_with_papers_is_not_deleted(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    used_id = _blueprint(any_db_app, stocked_bank["bank_id"], [section(type="single")])
    with any_db_app.test_request_context():
        spare = ops.create_blueprint(db.session, dataclasses.replace(
            blueprint_data(stocked_bank["bank_id"], sections=[section()], pass_score=1.0),
            code="SPARE"))
        used = db.session.get(Blueprint, used_id)
        ops.draw_paper_for(db.session, used, "s")
        db.session.commit()
        with pytest.raises(ops.BlueprintError) as info:
            ops.delete_blueprint(db.session, used)
        assert info.value.code == "blueprint_has_papers"
        db.session.rollback()
        ops.delete_blueprint(db.session, spare)
        db.session.commit()
        assert db.session.scalars(select(Blueprint.code)).all() == ["BP-1"]
        assert db.session.scalar(select(func.count()).select_from(BlueprintSection)) == 1


def test_a_drawer_draws_a_room_with_the_pools_loaded_once(
    any_db_app: Flask, stocked_bank: dict[str, Any]
) -> None:
    blueprint_id = _blueprint(any_db_app, stocked_bank["bank_id"], [
        section(type="judge", count=2, topic_ids=[stocked_bank["law"]]),  # 2 of 4
    ])
    with any_db_app.test_request_context():
        drawer = ops.PaperDrawer(db.session, db.session.get(Blueprint, blueprint_id))
        layouts: list[list[int]] = []
        for seat in range(4):
            paper = drawer.draw(f"seat-{seat}", avoid=layouts[-1:])
            layouts.append(ops.paper_layout(paper))
        db.session.commit()
        # Least used first: seats 1-2 cover the pool, and so do seats 3-4.
        assert len(set(layouts[0] + layouts[1])) == 4
        assert len(set(layouts[2] + layouts[3])) == 4
        used = db.session.scalars(
            select(QuestionVersion.used_count).where(QuestionVersion.used_count > 0)
        ).all()
        assert sorted(used) == [2, 2, 2, 2]
        assert db.session.scalar(select(func.count()).select_from(Paper)) == 4
