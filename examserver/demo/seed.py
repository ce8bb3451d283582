"""Seed the demo world: staff, three real question banks, blueprints and exam sessions.

Idempotent: everything is found by a natural key (username, bank code, normalized stem,
blueprint code, session code, ID number, admission number) and only what is missing is added;
nothing that exists is changed. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from examserver.auth.models import User
from examserver.auth.operations import create_user
from examserver.db import utcnow
from examserver.identity import make_id_number, sex_of_id_number
from examserver.papers.models import Blueprint, BlueprintSection, MultiScoring
from examserver.question_bank.models import Bank, Question, QuestionStatus
from examserver.question_bank.operations import (
    check_content,
    create_question,
    ensure_topic,
    get_or_create_bank,
)
from examserver.question_bank.richtext import normalized_stem_key, rich_text_from_cell
from examserver.question_bank.types import LETTERS, QuestionContent
from examserver.sessions.models import Candidate, ExamKind, ExamSession, Registration, StartMode

DATA_DIR = Path(__file__).parent / "data"
BANK_FILES = ("hj_rqg.json", "whp_zyfzr.json", "zl_kt.json")
BANK_CODES = ("HJ-RQG", "WHP-ZYFZR", "ZL-KT")  # the codes inside BANK_FILES, in order
DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_DRILL_CANDIDATES = 5000


# ------------------------------------------------------------------ what the world holds
@dataclass(frozen=True)
class StaffSpec:
    username: str
    password: str
    role: str
    display_name: str


STAFF: tuple[StaffSpec, ...] = (
    StaffSpec("admin", "admin-demo-2026", "admin", "系统管理员"),
    StaffSpec("staff", "staff-demo-2026", "staff", "考务专员"),
    StaffSpec("proctor", "proctor-demo-2026", "proctor", "监考员 王建华"),
    StaffSpec("proctor2", "proctor2-demo-2026", "proctor", "监考员 陈丽娟"),
    StaffSpec("inspector", "inspector-demo-2026", "inspector", "巡考员 周国强"),
)


@dataclass(frozen=True)
class SectionSpec:
    title: str
    type: str
    count: int
    points: float


@dataclass(frozen=True)
class BlueprintSpec:
    code: str
    name: str
    bank_code: str
    duration_min: int
    pass_score: float
    earliest_submit_min: int
    sections: tuple[SectionSpec, ...]
    issues_card: bool = False
    shuffle_options: bool = True
    description: str = ""

    @property
    def max_score(self) -> float:
        return float(sum(s.count * s.points for s in self.sections))


def _theory_sections() -> tuple[SectionSpec, ...]:
    return (
        SectionSpec("判断题", "judge", 20, 2),
        SectionSpec("单选题", "single", 15, 2),
        SectionSpec("多选题", "multi", 10, 3),
    )


BLUEPRINTS: tuple[BlueprintSpec, ...] = (
    BlueprintSpec(
        code="HJ-THEORY",
        name="熔化焊接与热切割作业 安全技术理论考试",
        bank_code="HJ-RQG",
        duration_min=120,
        pass_score=80,
        earliest_submit_min=30,
        sections=_theory_sections(),
        description="特种作业人员安全技术理论考试：满分100分，80分及以上合格，考试时间120分钟。",
    ),
    BlueprintSpec(
        code="WHP-ZYFZR-EXAM",
        name="危险化学品生产单位主要负责人 安全生产知识和管理能力考核",
        bank_code="WHP-ZYFZR",
        duration_min=60,
        pass_score=80,
        earliest_submit_min=30,
        sections=_theory_sections(),
        description="主要负责人闭卷机考：满分100分，80分及以上合格，考试时间60分钟。",
    ),
    BlueprintSpec(
        code="ZL-KT-THEORY",
        name="制冷与空调设备运行操作 安全技术理论考试",
        bank_code="ZL-KT",
        duration_min=120,
        pass_score=80,
        earliest_submit_min=30,
        sections=_theory_sections(),
        description="特种作业人员安全技术理论考试：满分100分，80分及以上合格，考试时间120分钟。",
    ),
    BlueprintSpec(
        code="WHP-RETRAIN",
        name="危险化学品生产单位主要负责人 复训考核",
        bank_code="WHP-ZYFZR",
        duration_min=30,
        pass_score=80,
        earliest_submit_min=0,
        issues_card=True,
        sections=(
            SectionSpec("判断题", "judge", 4, 10),
            SectionSpec("单选题", "single", 4, 10),
            SectionSpec("多选题", "multi", 2, 10),
        ),
        description="高危行业复训考核：10题共100分，80分及以上合格，合格即发培训记录卡。",
    ),
)


@dataclass(frozen=True)
class CandidateSpec:
    name: str
    region: str
    birth_date: dt.date
    sequence: int
    employer: str
    job_type: str

    @property
    def id_number(self) -> str:
        return make_id_number(self.region, self.birth_date, self.sequence)


@dataclass(frozen=True)
class SessionSpec:
    code: str
    name: str
    blueprint_code: str
    kind: str
    start_mode: str
    exam_point: str
    room: str
    seats: int
    candidates: tuple[CandidateSpec, ...] = ()
    window_days: int = 1
    notes: str = ""
    admission_digits: int = 2


HJ_JOB = "熔化焊接与热切割作业"
WHP_JOB = "危险化学品生产单位主要负责人"
EXAM_POINT = "市安全生产培训考核中心（演示考点）"

# The 17th digit (the last of the 3-digit sequence) is odd for men and even for women.
SESSIONS: tuple[SessionSpec, ...] = (
    SessionSpec(
        code="DEMO-HJ-01",
        name="熔化焊接与热切割作业 理论考试（演示场次）",
        blueprint_code="HJ-THEORY",
        kind=ExamKind.initial.value,
        start_mode=StartMode.proctor.value,
        exam_point=EXAM_POINT,
        room="第1考场",
        seats=30,
        notes="监考员统一开考；考生凭准考证号和身份证号登录。",
        candidates=(
            CandidateSpec(
                "张伟", "320402", dt.date(1986, 3, 12), 31,
                "常州华泰钢结构工程有限公司", HJ_JOB
            ),
            CandidateSpec(
                "李娜", "320404", dt.date(1992, 7, 25), 42,
                "常州恒通机械制造有限公司", HJ_JOB
            ),
            CandidateSpec(
                "王强", "320411", dt.date(1979, 11, 3), 15,
                "常州新北区建安管道安装有限公司", HJ_JOB
            ),
            CandidateSpec(
                "刘洋", "320412", dt.date(1995, 1, 18), 77,
                "常州武进锅炉辅机有限公司", HJ_JOB
            ),
            CandidateSpec(
                "陈静", "320481", dt.date(1990, 9, 9), 108,
                "溧阳市金诚压力容器有限公司", HJ_JOB
            ),
            CandidateSpec(
                "赵磊", "320413", dt.date(1983, 5, 30), 219,
                "常州华泰钢结构工程有限公司", HJ_JOB
            ),
        ),
    ),
    SessionSpec(
        code="DEMO-WHP-RT",
        name="危险化学品生产单位主要负责人 复训考核（演示场次）",
        blueprint_code="WHP-RETRAIN",
        kind=ExamKind.retraining.value,
        start_mode=StartMode.window.value,
        exam_point=EXAM_POINT,
        room="第2考场",
        seats=20,
        window_days=7,
        notes="时段内随到随考；考试合格即发培训记录卡。",
        candidates=(
            CandidateSpec(
                "周建国", "320402", dt.date(1972, 4, 16), 53,
                "常州市江南精细化工有限公司", WHP_JOB
            ),
            CandidateSpec(
                "吴秀兰", "320404", dt.date(1978, 12, 2), 26,
                "常州滨江新材料科技有限公司", WHP_JOB
            ),
            CandidateSpec(
                "孙志刚", "320411", dt.date(1969, 8, 21), 91,
                "常州新北化工园区氯碱有限公司", WHP_JOB
            ),
            CandidateSpec(
                "郑晓燕", "320412", dt.date(1981, 6, 7), 64,
                "武进联合涂料化学有限公司", WHP_JOB
            ),
            CandidateSpec(
                "马俊杰", "320481", dt.date(1975, 2, 28), 137,
                "溧阳天目湖气体有限公司", WHP_JOB
            ),
        ),
    ),
)

DRILL_SESSION = SessionSpec(
    code="DEMO-DRILL",
    name="熔化焊接与热切割作业 理论考试（压力演练场次）",
    blueprint_code="HJ-THEORY",
    kind=ExamKind.initial.value,
    start_mode=StartMode.window.value,
    exam_point=EXAM_POINT,
    room="演练考场",
    seats=0,
    notes="压力演练用场次，考生为系统生成。",
)


# ------------------------------------------------------------------ the banks' content
@dataclass
class DemoQuestion:
    """One question of a demo bank file, ready for create_question."""

    content: QuestionContent
    topic: str


@dataclass
class DemoBank:
    """A demo bank file: the bank's fields and its questions."""

    code: str
    name: str
    fields: dict[str, str]
    questions: list[DemoQuestion]


def question_from_json(raw: dict[str, Any]) -> DemoQuestion:
    """Turn one question of a bank file into content; answers are letters over the options."""
    qtype = raw["type"]
    if qtype == "judge":
        if not isinstance(raw["answer"], bool):
            raise ValueError(f"judge answer must be true or false: {raw['stem']!r}")
        options = [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
        answer = ["T" if raw["answer"] else "F"]
    else:
        texts = raw["options"]
        options = [
            {"key": f"o{i + 1}", "text": rich_text_from_cell(text)} for i, text in enumerate(texts)
        ]
        answer = []
        for letter in raw["answer"]:
            position = LETTERS.find(letter)
            if not 0 <= position < len(texts):
                raise ValueError(f"answer letter {letter!r} has no option: {raw['stem']!r}")
            answer.append(f"o{position + 1}")
    content = QuestionContent(
        type=qtype,
        stem=rich_text_from_cell(raw["stem"]),
        options=options,
        answer=answer,
        explanation=rich_text_from_cell(raw.get("explanation", "")),
        difficulty=int(raw["difficulty"]),
    )
    return DemoQuestion(content=content, topic=raw["topic"])


def load_bank_file(path: Path) -> DemoBank:
    """Read one demo bank file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    bank = data["bank"]
    fields = {k: bank.get(k, "") for k in ("industry", "category", "job_type", "description")}
    questions = [question_from_json(q) for q in data["questions"]]
    return DemoBank(code=bank["code"], name=bank["name"], fields=fields, questions=questions)


def demo_banks() -> list[DemoBank]:
    """Return the content of every demo bank file."""
    return [load_bank_file(DATA_DIR / name) for name in BANK_FILES]


# ------------------------------------------------------------------ the result
@dataclass
class LoginInfo:
    username: str
    password: str
    role: str


@dataclass
class BankInfo:
    code: str
    name: str
    questions: int


@dataclass
class BlueprintRef:
    code: str
    name: str


@dataclass
class CandidateInfo:
    admission_no: str
    id_number: str
    name: str


@dataclass
class SessionInfo:
    id: int
    code: str
    name: str
    start_mode: str
    blueprint: BlueprintRef
    candidates: list[CandidateInfo]


@dataclass
class DemoWorld:
    """What the demo holds after seeding; ``as_dict`` is the ``--json`` output."""

    logins: list[LoginInfo]
    banks: list[BankInfo]
    sessions: list[SessionInfo]
    # Rows added by this run, per kind; not part of the JSON (a re-run must print the same).
    added: dict[str, int] = field(default_factory=dict)

    def as_dict(self, url: str | None = None) -> dict[str, Any]:
        return {
            "logins": [asdict(x) for x in self.logins],
            "banks": [asdict(x) for x in self.banks],
            "sessions": [asdict(x) for x in self.sessions],
            "url": url,
        }


# ------------------------------------------------------------------ seeding
def seed_demo(
    session: Session,
    now: dt.datetime | None = None,
    drill_candidates: int = 0,
    timezone: str = DEFAULT_TIMEZONE,
) -> DemoWorld:
    """Add whatever of the demo world is missing and describe it; flushes, never commits."""
    if not 0 <= drill_candidates <= MAX_DRILL_CANDIDATES:
        raise ValueError(f"drill_candidates must be 0-{MAX_DRILL_CANDIDATES}")
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = _zone(timezone)
    added: dict[str, int] = {}

    def count(kind: str, n: int = 1) -> None:
        if n:
            added[kind] = added.get(kind, 0) + n

    for spec in STAFF:
        if session.scalar(select(User.id).where(User.username == spec.username)) is None:
            user = create_user(session, spec.username, spec.password, spec.role, spec.display_name)
            if spec.role == "inspector":
                user.exam_point = EXAM_POINT  # the patrol inspector watches the demo exam point
            count("users")

    banks: dict[str, Bank] = {}
    for demo in demo_banks():
        bank, new = _seed_bank(session, demo)
        banks[bank.code] = bank
        count("questions", new)

    blueprints: dict[str, Blueprint] = {}
    for bp_spec in BLUEPRINTS:
        blueprint = session.scalar(select(Blueprint).where(Blueprint.code == bp_spec.code))
        if blueprint is None:
            blueprint = _create_blueprint(session, bp_spec, banks[bp_spec.bank_code])
            count("blueprints")
        blueprints[bp_spec.code] = blueprint

    specs = list(SESSIONS)
    if drill_candidates:
        specs.append(_drill_spec(drill_candidates))
    for s_spec in specs:
        count("registrations", _seed_session(session, s_spec, blueprints, now, tz, count))
    session.flush()

    # Open the sessions: every candidate's paper is drawn now, not while a room waits; the
    # demo proctors are assigned to every demo room.
    from examserver.delivery.service import open_session
    from examserver.proctor.service import assign

    proctors = session.scalars(
        select(User).where(User.username.in_([s.username for s in STAFF if s.role == "proctor"]))
    ).all()
    for s_spec in specs:
        exam_session = session.scalar(select(ExamSession).where(ExamSession.code == s_spec.code))
        if exam_session is not None:
            count("papers", open_session(session, exam_session, now))
            for proctor in proctors:
                assign(session, exam_session, proctor)
    session.flush()
    return describe_demo(session, added)


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == DEFAULT_TIMEZONE:  # no tz database on this machine; China has no DST
            return dt.timezone(dt.timedelta(hours=8), "CST")
        raise


def _seed_bank(session: Session, demo: DemoBank) -> tuple[Bank, int]:
    bank = get_or_create_bank(session, demo.code, demo.name, **demo.fields)
    # Retired questions count too: an admin's retirement must not be undone by a re-run.
    known = set(session.scalars(select(Question.stem_key).where(Question.bank_id == bank.id)))
    added = 0
    for item in demo.questions:
        content = check_content(item.content)
        key = normalized_stem_key(content.stem)
        if key in known:
            continue
        create_question(session, bank, content, topic=ensure_topic(session, bank, item.topic))
        known.add(key)
        added += 1
    return bank, added


def _create_blueprint(session: Session, spec: BlueprintSpec, bank: Bank) -> Blueprint:
    blueprint = Blueprint(
        code=spec.code,
        name=spec.name,
        bank_id=bank.id,
        duration_min=spec.duration_min,
        pass_score=spec.pass_score,
        earliest_submit_min=spec.earliest_submit_min,
        shuffle_options=spec.shuffle_options,
        multi_scoring=MultiScoring.all_or_nothing.value,
        issues_card=spec.issues_card,
        description=spec.description,
    )
    blueprint.sections = [
        BlueprintSection(
            position=i,
            title=s.title,
            type=s.type,
            count=s.count,
            points=s.points,
            topic_ids=[],
            difficulty_min=1,
            difficulty_max=5,
        )
        for i, s in enumerate(spec.sections)
    ]
    session.add(blueprint)
    session.flush()
    return blueprint


def session_window(
    spec: SessionSpec, now: dt.datetime, tz: dt.tzinfo
) -> tuple[dt.datetime, dt.datetime]:
    """Return (opens_at, closes_at) in UTC so that the session is on ``now``'s local day.

    A proctor-mode session opens at the start of the current hour and stays open until the
    end of the local day (at least 4 hours); a window-mode one covers whole local days.
    """
    local = now.astimezone(tz)
    midnight = dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    if spec.start_mode == StartMode.window.value:
        opens = midnight
        closes = _add_local_days(midnight, spec.window_days, tz)
    else:
        opens = local.replace(minute=0, second=0, microsecond=0)
        closes = max(_add_local_days(midnight, 1, tz), opens + dt.timedelta(hours=4))
    return opens.astimezone(dt.UTC), closes.astimezone(dt.UTC)


def _add_local_days(midnight: dt.datetime, days: int, tz: dt.tzinfo) -> dt.datetime:
    day = midnight.date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def _seed_session(
    session: Session,
    spec: SessionSpec,
    blueprints: dict[str, Blueprint],
    now: dt.datetime,
    tz: dt.tzinfo,
    count: Callable[..., None],
) -> int:
    exam = session.scalar(select(ExamSession).where(ExamSession.code == spec.code))
    if exam is None:
        opens, closes = session_window(spec, now, tz)
        exam = ExamSession(
            code=spec.code,
            name=spec.name,
            blueprint_id=blueprints[spec.blueprint_code].id,
            kind=spec.kind,
            start_mode=spec.start_mode,
            exam_point=spec.exam_point,
            room=spec.room,
            seats=max(spec.seats, len(spec.candidates)),
            opens_at=opens,
            closes_at=closes,
            notes=spec.notes,
        )
        session.add(exam)
        session.flush()
        count("sessions")
    added = 0
    for seat, c_spec in enumerate(spec.candidates, start=1):
        candidate = _ensure_candidate(session, c_spec, count)
        admission_no = f"{spec.code}-{seat:0{spec.admission_digits}d}"
        taken = session.scalar(
            select(Registration.id).where(
                (Registration.admission_no == admission_no)
                | (
                    (Registration.session_id == exam.id)
                    & (Registration.candidate_id == candidate.id)
                )
            )
        )
        if taken is not None:
            continue
        session.add(
            Registration(
                session_id=exam.id, candidate_id=candidate.id, admission_no=admission_no, seat=seat
            )
        )
        added += 1
    session.flush()
    return added


def _ensure_candidate(
    session: Session, spec: CandidateSpec, count: Callable[..., None]
) -> Candidate:
    id_number = spec.id_number
    candidate = session.scalar(select(Candidate).where(Candidate.id_number == id_number))
    if candidate is None:
        candidate = Candidate(
            id_number=id_number,
            name=spec.name,
            sex=sex_of_id_number(id_number),
            employer=spec.employer,
            job_type=spec.job_type,
        )
        session.add(candidate)
        session.flush()
        count("candidates")
    return candidate


DRILL_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
DRILL_GIVEN = ("建国", "秀英", "志强", "丽华", "海涛", "春梅", "文斌", "桂芳", "明亮", "晓燕",
               "国平", "玉兰", "永刚", "红霞", "德明", "美玲", "振华", "淑珍", "立新", "雪梅")
DRILL_EMPLOYERS = ("常州华泰钢结构工程有限公司", "常州恒通机械制造有限公司",
                   "常州武进锅炉辅机有限公司", "溧阳市金诚压力容器有限公司")


def drill_candidate(index: int) -> CandidateSpec:
    """Return the ``index``-th (1-based) generated drill candidate; deterministic."""
    surname = DRILL_SURNAMES[(index * 7) % len(DRILL_SURNAMES)]
    given = DRILL_GIVEN[index % len(DRILL_GIVEN)]
    # Given names alternate male/female in DRILL_GIVEN; the sequence's parity follows.
    male = index % 2 == 0
    sequence = (index * 2 + (1 if male else 0)) % 1000
    return CandidateSpec(
        name=surname + given,
        region="320411",
        birth_date=dt.date(1972, 1, 1) + dt.timedelta(days=index),
        sequence=sequence,
        employer=DRILL_EMPLOYERS[index % len(DRILL_EMPLOYERS)],
        job_type=HJ_JOB,
    )


def _drill_spec(n: int) -> SessionSpec:
    return SessionSpec(
        code=DRILL_SESSION.code,
        name=DRILL_SESSION.name,
        blueprint_code=DRILL_SESSION.blueprint_code,
        kind=DRILL_SESSION.kind,
        start_mode=DRILL_SESSION.start_mode,
        exam_point=DRILL_SESSION.exam_point,
        room=DRILL_SESSION.room,
        seats=n,
        notes=DRILL_SESSION.notes,
        admission_digits=4,
        candidates=tuple(drill_candidate(i) for i in range(1, n + 1)),
    )


# ------------------------------------------------------------------ description
def describe_demo(session: Session, added: dict[str, int] | None = None) -> DemoWorld:
    """Describe the demo world as it is in the database now."""
    logins = [LoginInfo(s.username, s.password, s.role) for s in STAFF]
    banks = []
    for code in BANK_CODES:
        bank = session.scalar(select(Bank).where(Bank.code == code))
        if bank is None:
            continue
        active = session.scalar(
            select(func.count())
            .select_from(Question)
            .where(Question.bank_id == bank.id, Question.status == QuestionStatus.active.value)
        )
        banks.append(BankInfo(bank.code, bank.name, int(active or 0)))
    sessions = []
    for code in [s.code for s in SESSIONS] + [DRILL_SESSION.code]:
        exam = session.scalar(select(ExamSession).where(ExamSession.code == code))
        if exam is None:
            continue
        rows = session.execute(
            select(Registration.admission_no, Candidate.id_number, Candidate.name)
            .join(Candidate, Candidate.id == Registration.candidate_id)
            .where(Registration.session_id == exam.id)
            .order_by(Registration.seat, Registration.id)
        ).all()
        sessions.append(
            SessionInfo(
                id=exam.id,
                code=exam.code,
                name=exam.name,
                start_mode=exam.start_mode,
                blueprint=BlueprintRef(exam.blueprint.code, exam.blueprint.name),
                candidates=[CandidateInfo(a, i, n) for a, i, n in rows],
            )
        )
    return DemoWorld(logins=logins, banks=banks, sessions=sessions, added=dict(added or {}))


def blueprint_shortfalls(session: Session, codes: Sequence[str] | None = None) -> list[str]:
    """Return one line per demo blueprint section the bank cannot fill with active questions."""
    problems = []
    for spec in BLUEPRINTS:
        if codes is not None and spec.code not in codes:
            continue
        bank = session.scalar(select(Bank).where(Bank.code == spec.bank_code))
        for s in spec.sections:
            have = 0
            if bank is not None:
                have = int(
                    session.scalar(
                        select(func.count())
                        .select_from(Question)
                        .where(
                            Question.bank_id == bank.id,
                            Question.status == QuestionStatus.active.value,
                            Question.type == s.type,
                        )
                    )
                    or 0
                )
            if have < s.count:
                problems.append(f"{spec.code} {s.type}: needs {s.count}, bank has {have}")
    return problems
