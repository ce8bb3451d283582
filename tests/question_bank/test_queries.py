"""The filtered, paged question list query, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from examserver.errors import AppError
from examserver.extensions import db
from examserver.question_bank.models import Bank, Topic
from examserver.question_bank.operations import find_topic
from examserver.question_bank.queries import (
    MAX_PER_PAGE,
    PREVIEW_CHARS,
    QuestionFilters,
    bank_summaries,
    list_questions,
    parse_filters,
    topic_tree,
)
from tests.question_bank.conftest import add_question, use_in_paper


@pytest.fixture
def world(any_db_app: Flask) -> dict[str, int]:
    """Two banks, a knowledge-point tree, questions of every type, one retired, one used."""
    app = any_db_app
    ids = {
        "weld_single": add_question(
            app, "焊接作业前应检查什么？", "single", "WELD", "动火/审批", 2
        ),
        "weld_multi": add_question(app, "动火作业的安全措施有哪些？", "multi", "WELD", "动火", 4),
        "weld_judge": add_question(app, "焊工可以不戴防护面罩。", "judge", "WELD", "防护", 1),
        "weld_percent": add_question(app, "氧气含量低于19.5%时禁止进入", "judge", "WELD"),
        "weld_under": add_question(app, "标识 A_B 的含义", "single", "WELD"),
        "weld_retired": add_question(
            app, "已废止的旧题：动火证有效期", "single", "WELD", "动火", status="retired"
        ),
        "chem": add_question(app, "危险化学品仓库的安全要求", "single", "CHEM", "储存", 5),
        "latin": add_question(app, "Which PPE protects the EYES?", "single", "CHEM"),
    }
    use_in_paper(app, ids["weld_single"])
    use_in_paper(app, ids["weld_single"])
    return ids


def _ids(app: Flask, **kwargs: object) -> list[int]:
    with app.app_context():
        return [row.id for row in list_questions(db.session, QuestionFilters(**kwargs)).items]


def _bank(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.query(Bank).filter_by(code=code).one().id


def _topic(app: Flask, bank_code: str, path: str) -> int:
    with app.app_context():
        bank = db.session.query(Bank).filter_by(code=bank_code).one()
        topic = find_topic(db.session, bank, path)
        assert topic is not None
        return topic.id


def test_filters_by_bank_type_difficulty_and_status(any_db_app: Flask, world) -> None:
    app = any_db_app
    weld = _bank(app, "WELD")
    assert set(_ids(app, bank_id=weld)) == {
        world["weld_single"],
        world["weld_multi"],
        world["weld_judge"],
        world["weld_percent"],
        world["weld_under"],
    }
    assert set(_ids(app, bank_id=weld, type="judge")) == {
        world["weld_judge"],
        world["weld_percent"],
    }
    assert _ids(app, difficulty=5) == [world["chem"]]
    assert _ids(app, bank_id=weld, status="retired") == [world["weld_retired"]]
    assert len(_ids(app, status="all")) == len(world)
    assert len(_ids(app)) == len(world) - 1  # active by default


def test_knowledge_point_filter_includes_descendants(any_db_app: Flask, world) -> None:
    app = any_db_app
    fire = _topic(app, "WELD", "动火")
    approval = _topic(app, "WELD", "动火/审批")
    assert set(_ids(app, topic_id=fire)) == {world["weld_single"], world["weld_multi"]}
    assert set(_ids(app, topic_id=fire, status="all")) == {
        world["weld_single"],
        world["weld_multi"],
        world["weld_retired"],
    }
    assert _ids(app, topic_id=approval) == [world["weld_single"]]


def test_search_is_a_case_insensitive_substring(any_db_app: Flask, world) -> None:
    app = any_db_app
    assert _ids(app, search="动火") == [world["weld_multi"]]
    assert set(_ids(app, search="动火", status="all")) == {
        world["weld_multi"],
        world["weld_retired"],
    }
    assert _ids(app, search="eyes") == [world["latin"]]
    assert _ids(app, search="ppe PROTECTS") == [world["latin"]]
    assert _ids(app, search="不存在的词") == []


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("%", "weld_percent"),
        ("_", "weld_under"),
        ("A_B", "weld_under"),
        ("19.5%时", "weld_percent"),
    ],
)
def test_search_escapes_like_wildcards(any_db_app: Flask, world, term: str, expected: str) -> None:
    assert _ids(any_db_app, search=term) == [world[expected]]


def test_search_with_backslash_and_quote_is_literal(any_db_app: Flask, world) -> None:
    app = any_db_app
    assert _ids(app, search="\\") == []
    assert _ids(app, search="'; drop table question; --") == []
    assert len(_ids(app, status="all")) == len(world)


def test_rows_show_version_usage_path_and_a_plain_preview(any_db_app: Flask, world) -> None:
    app = any_db_app
    long_stem = "<p><strong>长题干</strong>" + "很长" * 200 + "</p>"
    long_id = add_question(app, long_stem, "single", "WELD")
    with app.app_context():
        page = list_questions(db.session, QuestionFilters(status="all", per_page=100))
        rows = {r.id: r for r in page.items}
    used = rows[world["weld_single"]]
    assert used.used_count == 2
    assert used.version_no == 1
    assert used.topic_path == "动火/审批"
    assert used.bank_code == "WELD"
    assert used.difficulty == 2
    assert rows[world["weld_retired"]].status == "retired"
    assert rows[world["weld_percent"]].topic_path == ""
    preview = rows[long_id].stem_preview
    assert preview.startswith("长题干很长")
    assert "<" not in preview
    assert len(preview) == PREVIEW_CHARS
    assert preview.endswith("…")


def test_paging_is_stable_newest_first_and_bounded(any_db_app: Flask, world) -> None:
    app = any_db_app
    every = _ids(app, status="all", per_page=100)
    assert every == sorted(every, reverse=True)
    seen: list[int] = []
    for page_no in (1, 2, 3):
        with app.app_context():
            page = list_questions(
                db.session, QuestionFilters(status="all", per_page=3, page=page_no)
            )
        assert page.total == len(world)
        assert page.pages == 3
        seen.extend(r.id for r in page.items)
    assert seen == every
    with app.app_context():
        beyond = list_questions(db.session, QuestionFilters(status="all", per_page=3, page=99))
    assert beyond.page == 3  # clamped to the last page
    assert [r.id for r in beyond.items] == every[6:]
    assert not beyond.has_next
    assert beyond.has_prev


@pytest.fixture
def statements(any_db_app: Flask) -> Iterator[list[str]]:
    """Record the SQL statements the app's engine runs."""
    seen: list[str] = []
    with any_db_app.app_context():
        engine = db.engine

        def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        yield seen
        event.remove(engine, "before_cursor_execute", record)


def test_a_page_costs_a_fixed_number_of_statements(any_db_app: Flask, world, statements) -> None:
    app = any_db_app
    for i in range(30):
        add_question(app, f"第{i}题 气瓶间距", "single", "WELD", f"气瓶/第{i % 4}类")
    topic, bank = _topic(app, "WELD", "气瓶"), _bank(app, "WELD")
    filters = QuestionFilters(bank_id=bank, topic_id=topic, per_page=25, search="气瓶")
    with app.app_context():
        statements.clear()
        page = list_questions(db.session, filters)
        assert len(page.items) == 25
        # bank check, topic check, count, page, knowledge-point paths: never one per row
        assert len(statements) <= 5, statements


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"page": "-1"}, "-1"),
        ({"page": "0"}, "0"),
        ({"page": "abc"}, "abc"),
        ({"page": "99999999999"}, "99999999999"),
        ({"difficulty": "9"}, "9"),
        ({"difficulty": "x"}, "x"),
        ({"type": "xyz"}, "xyz"),
        ({"bank": "nonexistent"}, "nonexistent"),
        ({"topic": "1.5"}, "1.5"),
        ({"status": "deleted"}, "deleted"),
        ({"q": "长" * 201}, "200"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(app: Flask, args, fragment) -> None:
    with app.test_request_context():
        with pytest.raises(AppError) as caught:
            parse_filters(MultiDict(args))
    assert caught.value.code == "bad_filter"
    assert caught.value.status == 400
    assert fragment in caught.value.message


def test_unknown_bank_and_foreign_topic_are_refused(any_db_app: Flask, world) -> None:
    app = any_db_app
    chem_topic = _topic(app, "CHEM", "储存")
    with app.test_request_context():
        for filters in (
            QuestionFilters(bank_id=99999),
            QuestionFilters(topic_id=99999),
            QuestionFilters(bank_id=_bank(app, "WELD"), topic_id=chem_topic),
        ):
            with pytest.raises(AppError) as caught:
                list_questions(db.session, filters)
            assert caught.value.code == "bad_filter"


def test_parse_filters_reads_every_field_and_bounds_the_page_size(tmp_path) -> None:
    from tests.conftest import make_app

    app = make_app("sqlite:///" + str(tmp_path / "p.db"), QUESTIONS_PER_PAGE=100000)
    with app.test_request_context():
        filters = parse_filters(
            MultiDict(
                {
                    "bank": "3",
                    "type": "multi",
                    "topic": "7",
                    "difficulty": "4",
                    "status": "all",
                    "q": "  动火   作业 ",
                    "page": "2",
                }
            )
        )
    assert filters == QuestionFilters(
        bank_id=3,
        type="multi",
        topic_id=7,
        difficulty=4,
        status="all",
        search="动火 作业",
        page=2,
        per_page=MAX_PER_PAGE,
    )
    assert filters.query_args(page=3)["page"] == 3
    with app.test_request_context():
        assert parse_filters(MultiDict()).status == "active"


def test_topic_tree_and_bank_summaries(any_db_app: Flask, world) -> None:
    app = any_db_app
    with app.app_context():
        weld = db.session.query(Bank).filter_by(code="WELD").one()
        nodes = topic_tree(db.session, weld.id)
        by_path = {n.path: n for n in nodes}
        assert by_path["动火"].subtree_questions == 3  # 2 own (one retired) + 1 below
        assert by_path["动火/审批"].depth == 1
        assert nodes.index(by_path["动火"]) + 1 == nodes.index(by_path["动火/审批"])
        assert db.session.query(Topic).filter_by(bank_id=weld.id).count() == len(nodes)
        summaries = {s.bank.code: s for s in bank_summaries(db.session)}
    assert summaries["WELD"].active == 5
    assert summaries["WELD"].retired == 1
    assert summaries["WELD"].by_type == {"judge": 2, "single": 2, "multi": 1}
    assert summaries["CHEM"].total == 2
