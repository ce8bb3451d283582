"""The demo world: its question content, idempotent seeding and the ``examserver demo`` command."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from examserver.demo.seed import (
    BANK_CODES,
    BLUEPRINTS,
    DRILL_SESSION,
    SESSIONS,
    STAFF,
    blueprint_shortfalls,
    demo_banks,
    seed_demo,
    session_window,
)
from examserver.extensions import db
from examserver.identity import is_valid_id_number, sex_of_id_number
from examserver.papers.models import Blueprint
from examserver.question_bank.models import Question, QuestionStatus
from examserver.question_bank.operations import check_content, retire_questions
from examserver.question_bank.richtext import normalized_stem_key, plain_text
from examserver.sessions.models import Candidate, ExamSession, Registration

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# 10:30 in Shanghai on 2026-03-10.
MORNING = dt.datetime(2026, 3, 10, 2, 30, tzinfo=dt.UTC)
CLI_ENV = {
    "EXAMSERVER_ASYNC_MODE": "threading",
    "EXAMSERVER_SECRET_KEY": "test-secret",
    "EXAMSERVER_SQLITE_SYNCHRONOUS": "NORMAL",
}


# ------------------------------------------------------------------ content
@pytest.fixture(scope="module")
def banks():
    return demo_banks()


def test_there_are_three_banks_and_at_least_150_questions(banks) -> None:
    assert [b.code for b in banks] == list(BANK_CODES)
    assert sum(len(b.questions) for b in banks) >= 150
    for bank in banks:
        assert len(bank.questions) >= 50, bank.code
        assert bank.name
        assert bank.fields["industry"]
        assert bank.fields["job_type"]


def test_every_bank_has_all_three_types_in_useful_numbers(banks) -> None:
    for bank in banks:
        types = Counter(q.content.type for q in bank.questions)
        assert set(types) == {"judge", "single", "multi"}, bank.code
        assert min(types.values()) >= 10, (bank.code, types)


def test_every_question_passes_its_type_check(banks) -> None:
    for bank in banks:
        for q in bank.questions:
            checked = check_content(q.content)
            assert checked.answer == q.content.answer, plain_text(q.content.stem)


def test_questions_are_well_formed(banks) -> None:
    for bank in banks:
        for q in bank.questions:
            c = q.content
            where = (bank.code, plain_text(c.stem))
            assert 1 <= c.difficulty <= 5, where
            parts = q.topic.split("/")
            assert len(parts) == 2, where
            assert all(p.strip() for p in parts), where
            assert plain_text(c.explanation), where
            assert "（ ）" in plain_text(c.stem) or c.type == "judge", where
            texts = [plain_text(o["text"]) for o in c.options]
            assert len(set(texts)) == len(texts), where
            if c.type == "multi":
                assert 4 <= len(c.options) <= 5, where
                assert 2 <= len(c.answer) <= len(c.options), where
            if c.type == "single":
                assert len(c.options) == 4, where


def test_no_two_questions_share_a_normalized_stem(banks) -> None:
    keys = Counter(normalized_stem_key(q.content.stem) for b in banks for q in b.questions)
    assert [k for k, n in keys.items() if n > 1] == []


def test_answers_are_spread_over_positions_and_truth_values(banks) -> None:
    for bank in banks:
        judge = Counter(q.content.answer[0] for q in bank.questions if q.content.type == "judge")
        assert min(judge["F"], judge["T"]) >= 5, (bank.code, judge)
        single = Counter(q.content.answer[0] for q in bank.questions if q.content.type == "single")
        assert len(single) == 4, (bank.code, single)
        assert max(single.values()) <= 0.5 * sum(single.values()), (bank.code, single)
        multi = [q for q in bank.questions if q.content.type == "multi"]
        assert any(len(q.content.answer) < len(q.content.options) for q in multi)


def test_blueprints_add_up_to_100_points_and_fit_the_banks(banks) -> None:
    available = {b.code: Counter(q.content.type for q in b.questions) for b in banks}
    for spec in BLUEPRINTS:
        assert spec.max_score == 100, spec.code
        assert spec.pass_score == 80, spec.code
        assert {s.type for s in spec.sections} == {"judge", "single", "multi"}, spec.code
        for section in spec.sections:
            # Leave room: a blueprint that takes the whole bank draws the same paper for all.
            assert section.count <= 0.75 * available[spec.bank_code][section.type], spec.code
    retrain = next(s for s in BLUEPRINTS if s.code == "WHP-RETRAIN")
    assert retrain.issues_card
    assert retrain.earliest_submit_min == 0
    assert sum(s.count for s in retrain.sections) == 10


def test_demo_candidates_have_valid_id_numbers() -> None:
    for spec in SESSIONS:
        assert 4 <= len(spec.candidates) <= 6, spec.code
        for c in spec.candidates:
            assert is_valid_id_number(c.id_number), c.name


# ------------------------------------------------------------------ seeding
def _row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def test_seeding_twice_changes_nothing(any_db_app: Flask) -> None:
    with any_db_app.app_context():
        first = seed_demo(db.session, now=MORNING)
        db.session.commit()
        counts = _row_counts()
        assert counts["question"] == sum(len(b.questions) for b in demo_banks())
        assert counts["user"] == len(STAFF)
        assert counts["blueprint"] == len(BLUEPRINTS)
        assert counts["exam_session"] == len(SESSIONS)
        assert first.added["questions"] == counts["question"]

        second = seed_demo(db.session, now=MORNING + dt.timedelta(days=1))
        db.session.commit()
        assert _row_counts() == counts
        assert second.added == {}
        assert second.as_dict("http://x/") == first.as_dict("http://x/")


def test_seeded_blueprints_can_be_filled_from_active_questions(app: Flask) -> None:
    with app.app_context():
        seed_demo(db.session, now=MORNING)
        db.session.commit()
        assert blueprint_shortfalls(db.session) == []
        for blueprint in db.session.scalars(select(Blueprint)):
            assert blueprint.max_score == 100
            for section in blueprint.sections:
                have = db.session.scalar(
                    select(func.count())
                    .select_from(Question)
                    .where(
                        Question.bank_id == blueprint.bank_id,
                        Question.status == QuestionStatus.active.value,
                        Question.type == section.type,
                        Question.difficulty.between(
                            section.difficulty_min, section.difficulty_max
                        ),
                    )
                )
                assert have >= section.count, (blueprint.code, section.type)


def test_a_retired_demo_question_is_not_added_again(app: Flask) -> None:
    with app.app_context():
        seed_demo(db.session, now=MORNING)
        db.session.commit()
        victim = db.session.scalars(select(Question.id).order_by(Question.id)).first()
        assert retire_questions(db.session, [victim]) == 1
        db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(Question))
        world = seed_demo(db.session, now=MORNING)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Question)) == total
        assert db.session.get(Question, victim).status == QuestionStatus.retired.value
        hj = next(b for b in world.banks if b.code == "HJ-RQG")
        assert hj.questions == total - 1 - sum(
            b.questions for b in world.banks if b.code != "HJ-RQG"
        )


def test_sessions_are_today_in_shanghai_and_never_re_timed(app: Flask) -> None:
    with app.app_context():
        seed_demo(db.session, now=MORNING)
        db.session.commit()
        proctor = db.session.scalar(select(ExamSession).where(ExamSession.code == "DEMO-HJ-01"))
        window = db.session.scalar(select(ExamSession).where(ExamSession.code == "DEMO-WHP-RT"))
        assert (proctor.start_mode, proctor.kind) == ("proctor", "initial")
        assert (window.start_mode, window.kind) == ("window", "retraining")
        assert window.blueprint.code == "WHP-RETRAIN"
        assert window.blueprint.issues_card
        assert proctor.opens_at == dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
        assert proctor.closes_at == dt.datetime(2026, 3, 10, 16, 0, tzinfo=dt.UTC)
        assert window.opens_at == dt.datetime(2026, 3, 9, 16, 0, tzinfo=dt.UTC)
        assert window.closes_at == dt.datetime(2026, 3, 16, 16, 0, tzinfo=dt.UTC)
        assert window.opens_at <= MORNING < window.closes_at

        seed_demo(db.session, now=MORNING + dt.timedelta(days=3))
        db.session.commit()
        db.session.refresh(proctor)
        assert proctor.opens_at == dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)


def test_a_late_evening_proctor_session_stays_open_four_hours() -> None:
    spec = next(s for s in SESSIONS if s.start_mode == "proctor")
    late = dt.datetime(2026, 3, 10, 15, 40, tzinfo=dt.UTC)  # 23:40 in Shanghai
    opens, closes = session_window(spec, late, SHANGHAI)
    assert opens == dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
    assert closes == opens + dt.timedelta(hours=4)
    assert opens.astimezone(SHANGHAI).date() == late.astimezone(SHANGHAI).date()


def test_registered_candidates_are_valid_and_consistent(app: Flask) -> None:
    with app.app_context():
        world = seed_demo(db.session, now=MORNING)
        db.session.commit()
        assert [s.code for s in world.sessions] == [s.code for s in SESSIONS]
        for info in world.sessions:
            assert 4 <= len(info.candidates) <= 6
            for c in info.candidates:
                assert c.admission_no.startswith(info.code + "-")
                candidate = db.session.scalar(
                    select(Candidate).where(Candidate.id_number == c.id_number)
                )
                assert is_valid_id_number(candidate.id_number)
                assert candidate.sex == sex_of_id_number(candidate.id_number)
                assert candidate.employer
                assert candidate.job_type
        seats = db.session.scalars(select(Registration.seat)).all()
        assert 0 not in seats


def test_drill_candidates_are_generated_once(app: Flask) -> None:
    with app.app_context():
        seed_demo(db.session, now=MORNING, drill_candidates=40)
        db.session.commit()
        world = seed_demo(db.session, now=MORNING, drill_candidates=40)
        db.session.commit()
        assert world.added == {}
        drill = next(s for s in world.sessions if s.code == DRILL_SESSION.code)
        assert len(drill.candidates) == 40
        assert len({c.id_number for c in drill.candidates}) == 40
        assert drill.candidates[0].admission_no == "DEMO-DRILL-0001"
        for c in drill.candidates:
            candidate = db.session.scalar(
                select(Candidate).where(Candidate.id_number == c.id_number)
            )
            assert is_valid_id_number(c.id_number)
            assert candidate.sex == sex_of_id_number(c.id_number)


def test_seeding_refuses_bad_arguments(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(ValueError, match="drill_candidates"):
            seed_demo(db.session, drill_candidates=-1)
        with pytest.raises(ValueError, match="timezone-aware"):
            seed_demo(db.session, now=dt.datetime(2026, 3, 10, 10, 0))
        assert db.session.scalar(select(func.count()).select_from(Question)) == 0


# ------------------------------------------------------------------ the command
def test_demo_command_prints_one_json_object_and_is_repeatable(runner, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "demo.db"
    args = ["demo", "--db", str(target), "--seed-only", "--json"]
    first = runner.invoke(args=args, env=CLI_ENV)
    assert first.exit_code == 0, first.output
    world = json.loads(first.stdout)
    assert set(world) == {"logins", "banks", "sessions", "url"}
    assert world["url"] == "http://127.0.0.1:5000/"
    assert {(x["username"], x["role"]) for x in world["logins"]} == {
        ("admin", "admin"), ("staff", "staff"), ("proctor", "proctor"),
        ("proctor2", "proctor"), ("inspector", "inspector"),
    }
    assert all(len(x["password"]) >= 8 for x in world["logins"])
    assert [b["code"] for b in world["banks"]] == list(BANK_CODES)
    assert sum(b["questions"] for b in world["banks"]) >= 150
    modes = {s["code"]: s["start_mode"] for s in world["sessions"]}
    assert modes == {"DEMO-HJ-01": "proctor", "DEMO-WHP-RT": "window"}
    for session in world["sessions"]:
        assert isinstance(session["id"], int)
        assert set(session["blueprint"]) == {"code", "name"}
        assert session["candidates"]
        for c in session["candidates"]:
            assert set(c) == {"admission_no", "id_number", "name"}
            assert is_valid_id_number(c["id_number"])
    assert "admin-demo-2026" in first.stderr  # the human-readable block goes to stderr

    second = runner.invoke(args=args, env=CLI_ENV)
    assert second.exit_code == 0, second.output
    assert second.stdout == first.stdout


def test_demo_command_without_json_prints_the_logins_and_they_work(
    runner, tmp_path: Path
) -> None:
    from examserver import create_app
    from examserver.auth.models import User

    target = tmp_path / "demo.db"
    result = runner.invoke(args=["demo", "--db", str(target), "--seed-only"], env=CLI_ENV)
    assert result.exit_code == 0, result.output
    for spec in STAFF:
        assert spec.password in result.stdout
    assert "DEMO-HJ-01-01" in result.stdout

    seeded = create_app(
        {"DATABASE_URL": "sqlite:///" + str(target), "SECRET_KEY": "k", "ASYNC_MODE": "threading"}
    )
    with seeded.app_context():
        for spec in STAFF:
            user = db.session.scalar(select(User).where(User.username == spec.username))
            assert user.role == spec.role
            assert user.check_password(spec.password)
        db.session.remove()
        db.engine.dispose()


def test_demo_command_reports_an_unusable_database(runner, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(
        args=["demo", "--db", str(blocker / "demo.db"), "--seed-only", "--json"], env=CLI_ENV
    )
    assert result.exit_code != 0
    assert "database_upgrade_failed" in result.output
    assert result.stdout == ""
