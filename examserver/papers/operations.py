"""Blueprint services: validate and save blueprints, find their question pools, report whether
the bank can feed them, and draw and store papers.

Services flush and never commit: the caller (a request, a CLI command) owns the transaction.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from examserver.db import utcnow
from examserver.papers.draw import (
    BlueprintSpec,
    DrawnPaper,
    PoolQuestion,
    SectionSpec,
    assignable,
    draw_paper,
    expected_common,
    expected_overlap,
    expected_same_position,
)
from examserver.papers.models import Blueprint, BlueprintSection, MultiScoring, Paper, PaperItem
from examserver.question_bank.models import Bank, Question, QuestionStatus, QuestionVersion, Topic
from examserver.question_bank.operations import (
    TOPIC_SEPARATOR,
    mark_versions_used,
    topic_subtree_ids,
)
from examserver.question_bank.types import get_type, type_names
from examserver.sessions.models import ExamSession

log = logging.getLogger("examserver.papers")
_T = TypeVar("_T")

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SECTIONS = 20
MAX_COUNT = 1000
MAX_POINTS = 1000.0
MAX_DURATION = 600
MAX_SEED = 64
MAX_ID = 2**31 - 1  # beyond an INTEGER column: SQLite would raise rather than miss

# Defaults from DOMAIN.md: 100 points, pass at 80, 120 minutes, no submission in the first 30.
DEFAULT_DURATION = 120
DEFAULT_PASS_SCORE = 80.0
DEFAULT_EARLIEST_SUBMIT = 30


# ------------------------------------------------------------------------------ input data
@dataclass
class SectionData:
    """One section as entered; numbers are None where the input was not a number."""

    type: str = "judge"
    count: int | None = 1
    points: float | None = 1.0
    topic_ids: list[int] = field(default_factory=list)
    difficulty_min: int | None = 1
    difficulty_max: int | None = 5
    title: str = ""


@dataclass
class BlueprintData:
    """A blueprint as entered in the form (or built by the demo and the CLI)."""

    code: str = ""
    name: str = ""
    bank_id: int | None = None
    duration_min: int | None = DEFAULT_DURATION
    pass_score: float | None = DEFAULT_PASS_SCORE
    earliest_submit_min: int | None = DEFAULT_EARLIEST_SUBMIT
    shuffle_options: bool = True
    multi_scoring: str = MultiScoring.all_or_nothing.value
    allow_review: bool = False
    issues_card: bool = False
    description: str = ""
    sections: list[SectionData] = field(default_factory=list)

    @property
    def max_score(self) -> float | None:
        """The total of count × points, or None while there are no sections or numbers miss."""
        if not self.sections:
            return None
        total = 0.0
        for section in self.sections:
            if section.count is None or section.points is None:
                return None
            total += section.count * section.points
        return total


@dataclass(frozen=True)
class FieldError:
    """A refused input: the form field it belongs to, a stable code and a message."""

    field: str
    code: str
    message: str


class BlueprintInvalid(ValueError):
    """The blueprint as entered breaks the rules; ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = list(errors)


class BlueprintError(ValueError):
    """A refused blueprint operation, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FormLike(Protocol):
    def get(self, key: str) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...

    def keys(self) -> Any: ...


_SECTION_FIELD = re.compile(r"^sections-(\d{1,3})-type$")


def blueprint_data_from_form(form: FormLike) -> BlueprintData:
    """Read a submitted blueprint form; a field that is not a number reads as None."""

    def text(name: str, limit: int = 10_000) -> str:
        return str(form.get(name) or "").strip()[:limit]

    def number(name: str, kind: type[int] | type[float]) -> Any:
        try:
            value = kind(text(name, 64))
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    def identifier(raw: Any) -> int:
        # Anything that is not an id reads as one no row has, so validation names the field.
        try:
            value = int(str(raw))
        except ValueError:
            return -1
        return value if 0 < value <= MAX_ID else -1

    indices = sorted(
        {int(m.group(1)) for key in form.keys() if (m := _SECTION_FIELD.match(str(key)))}
    )
    sections: list[SectionData] = []
    for index in indices:
        prefix = f"sections-{index}-"
        sections.append(
            SectionData(
                title=text(prefix + "title", 300),
                type=text(prefix + "type", 32),
                count=number(prefix + "count", int),
                points=number(prefix + "points", float),
                topic_ids=sorted({identifier(t) for t in form.getlist(prefix + "topic_ids")}),
                difficulty_min=number(prefix + "difficulty_min", int),
                difficulty_max=number(prefix + "difficulty_max", int),
            )
        )
    bank_raw = text("bank_id", 32)
    return BlueprintData(
        code=text("code", 200),
        name=text("name", 400),
        bank_id=identifier(bank_raw) if bank_raw else None,
        duration_min=number("duration_min", int),
        pass_score=number("pass_score", float),
        earliest_submit_min=number("earliest_submit_min", int),
        shuffle_options=bool(form.get("shuffle_options")),
        multi_scoring=text("multi_scoring", 64),
        allow_review=bool(form.get("allow_review")),
        issues_card=bool(form.get("issues_card")),
        description=text("description"),
        sections=sections,
    )


def new_blueprint_data(bank_id: int | None = None) -> BlueprintData:
    """Return a new blueprint's starting values: DOMAIN.md's 70 true/false + 30 single choice."""
    return BlueprintData(
        bank_id=bank_id,
        sections=[
            SectionData(type="judge", count=70, points=1.0),
            SectionData(type="single", count=30, points=1.0),
        ],
    )


def blueprint_data_of(blueprint: Blueprint) -> BlueprintData:
    """Return a stored blueprint as form data."""
    return BlueprintData(
        code=blueprint.code,
        name=blueprint.name,
        bank_id=blueprint.bank_id,
        duration_min=blueprint.duration_min,
        pass_score=float(blueprint.pass_score),
        earliest_submit_min=blueprint.earliest_submit_min,
        shuffle_options=blueprint.shuffle_options,
        multi_scoring=blueprint.multi_scoring,
        allow_review=blueprint.allow_review,
        issues_card=blueprint.issues_card,
        description=blueprint.description,
        sections=[
            SectionData(
                title=s.title,
                type=s.type,
                count=s.count,
                points=float(s.points),
                topic_ids=list(s.topic_ids or []),
                difficulty_min=s.difficulty_min,
                difficulty_max=s.difficulty_max,
            )
            for s in blueprint.sections
        ],
    )


# ------------------------------------------------------------------------------ validation
def validate_blueprint(
    session: Session, data: BlueprintData, blueprint: Blueprint | None = None
) -> list[FieldError]:
    """Return every rule the blueprint breaks, each beside its form field."""
    errors: list[FieldError] = []

    def refuse(field_name: str, code: str, message: str) -> None:
        errors.append(FieldError(field_name, code, message))

    if not CODE_PATTERN.match(data.code):
        refuse("code", "bad_code",
               _("Use 1 to 64 letters, digits, hyphens or underscores."))
    else:
        clash = session.scalar(select(Blueprint.id).where(Blueprint.code == data.code))
        if clash is not None and (blueprint is None or clash != blueprint.id):
            refuse("code", "code_taken", _("Another blueprint already has this code."))
    if not data.name:
        refuse("name", "name_required", _("Enter a name."))
    elif len(data.name) > 200:
        refuse("name", "name_too_long", _("Use at most 200 characters."))
    if len(data.description) > 5000:
        refuse("description", "description_too_long", _("Use at most 5000 characters."))
    bank = session.get(Bank, data.bank_id) if data.bank_id is not None else None
    if bank is None:
        refuse("bank_id", "unknown_bank", _("Choose a question bank."))
    if data.multi_scoring not in {m.value for m in MultiScoring}:
        refuse("multi_scoring", "bad_multi_scoring", _("Choose a scoring rule."))
    _validate_sections(session, data, bank, refuse)
    for name in ("duration_min", "pass_score", "earliest_submit_min"):
        if getattr(data, name) is None:
            refuse(name, "not_a_number", _("Enter a number."))
    if data.duration_min is not None and not 1 <= data.duration_min <= MAX_DURATION:
        refuse("duration_min", "bad_duration",
               _("The duration must be 1 to %(max)d minutes.", max=MAX_DURATION))
    if data.earliest_submit_min is not None:
        upper = data.duration_min if data.duration_min is not None else MAX_DURATION
        if not 0 <= data.earliest_submit_min <= upper:
            refuse("earliest_submit_min", "bad_earliest_submit",
                   _("The earliest submission must be between 0 and the duration."))
    if data.pass_score is not None:
        # Against a maximum computed from refused counts or points the check would only mislead.
        sections_refused = any(e.field.startswith("sections") for e in errors)
        max_score = None if sections_refused else data.max_score
        upper_score = max_score if max_score is not None else float("inf")
        if not 0 <= data.pass_score <= upper_score or round(data.pass_score, 2) != data.pass_score:
            refuse("pass_score", "bad_pass_score",
                   _("The pass mark must be between 0 and the maximum score (%(max)s).",
                     max=_number(max_score) if max_score is not None else "?"))
    return errors


def _validate_sections(
    session: Session, data: BlueprintData, bank: Bank | None, refuse: Any
) -> None:
    if not data.sections:
        refuse("sections", "no_sections", _("Add at least one section."))
        return
    if len(data.sections) > MAX_SECTIONS:
        refuse("sections", "too_many_sections",
               _("Use at most %(max)d sections.", max=MAX_SECTIONS))
    known_types = set(type_names())
    wanted_topics = {t for s in data.sections for t in s.topic_ids}
    topic_banks: dict[int, int] = {}
    if wanted_topics:
        query = select(Topic.id, Topic.bank_id).where(Topic.id.in_(wanted_topics))
        topic_banks = {row.id: row.bank_id for row in session.execute(query)}
    for index, section in enumerate(data.sections):
        prefix = f"sections-{index}-"
        if len(section.title) > 200:
            refuse(prefix + "title", "title_too_long", _("Use at most 200 characters."))
        for name in ("count", "points", "difficulty_min", "difficulty_max"):
            if getattr(section, name) is None:
                refuse(prefix + name, "not_a_number", _("Enter a number."))
        if section.type not in known_types:
            refuse(prefix + "type", "unknown_type", _("Choose a question type."))
        if section.count is not None and not 1 <= section.count <= MAX_COUNT:
            refuse(prefix + "count", "bad_count",
                   _("The count must be 1 to %(max)d.", max=MAX_COUNT))
        if section.points is not None and (
            not 0 < section.points <= MAX_POINTS or round(section.points, 2) != section.points
        ):
            refuse(prefix + "points", "bad_points",
                   _("Points must be above 0 and at most %(max)d, with at most two decimals.",
                     max=int(MAX_POINTS)))
        low, high = section.difficulty_min, section.difficulty_max
        bad_range = False
        for name, value in (("difficulty_min", low), ("difficulty_max", high)):
            if value is not None and not 1 <= value <= 5:
                refuse(prefix + name, "bad_difficulty", _("Difficulty is 1 to 5."))
                bad_range = True
        if not bad_range and low is not None and high is not None and low > high:
            refuse(prefix + "difficulty_max", "difficulty_range",
                   _("The highest difficulty must not be below the lowest."))
        for topic_id in section.topic_ids:
            owner = topic_banks.get(topic_id)
            if owner is None or (bank is not None and owner != bank.id):
                refuse(prefix + "topic_ids", "topic_elsewhere",
                       _("A knowledge point does not belong to the blueprint's bank."))
                break


def _number(value: float) -> str:
    return f"{value:g}"


# ------------------------------------------------------------------------------- saving
def create_blueprint(session: Session, data: BlueprintData) -> Blueprint:
    """Add a blueprint, or raise BlueprintInvalid; flushes."""
    errors = validate_blueprint(session, data)
    if errors:
        raise BlueprintInvalid(errors)
    blueprint = Blueprint(code=data.code)
    _fill(blueprint, data)
    session.add(blueprint)
    session.flush()
    _fill_sections(session, blueprint, data)
    session.flush()
    return blueprint


def update_blueprint(session: Session, blueprint: Blueprint, data: BlueprintData) -> Blueprint:
    """Save an edit, or raise BlueprintInvalid. Papers already drawn keep their questions."""
    errors = validate_blueprint(session, data, blueprint)
    if errors:
        raise BlueprintInvalid(errors)
    blueprint.code = data.code
    _fill(blueprint, data)
    blueprint.updated_at = utcnow()
    _fill_sections(session, blueprint, data)
    session.flush()
    return blueprint


def _fill(blueprint: Blueprint, data: BlueprintData) -> None:
    blueprint.name = data.name
    blueprint.bank_id = _given(data.bank_id)
    blueprint.duration_min = _given(data.duration_min)
    blueprint.pass_score = _given(data.pass_score)
    blueprint.earliest_submit_min = _given(data.earliest_submit_min)
    blueprint.shuffle_options = data.shuffle_options
    blueprint.multi_scoring = data.multi_scoring
    blueprint.allow_review = data.allow_review
    blueprint.issues_card = data.issues_card
    blueprint.description = data.description


def _fill_sections(session: Session, blueprint: Blueprint, data: BlueprintData) -> None:
    # Rows are updated in place by position: deleting and re-inserting in one flush would meet
    # the (blueprint, position) unique constraint before the delete.
    existing = list(blueprint.sections)
    for position, section in enumerate(data.sections):
        if position < len(existing):
            row = existing[position]
        else:
            row = BlueprintSection(position=position)
            blueprint.sections.append(row)
        row.position = position
        row.title = section.title
        row.type = section.type
        row.count = _given(section.count)
        row.points = _given(section.points)
        row.topic_ids = list(section.topic_ids)
        row.difficulty_min = _given(section.difficulty_min)
        row.difficulty_max = _given(section.difficulty_max)
    for row in existing[len(data.sections):]:
        blueprint.sections.remove(row)
    session.flush()


def _given(value: _T | None) -> _T:
    """Return a value validation has checked is there."""
    if value is None:
        raise BlueprintInvalid([FieldError("", "missing", "a validated value is missing")])
    return value


def paper_count(session: Session, blueprint: Blueprint) -> int:
    """Return how many papers were drawn from the blueprint."""
    return int(
        session.scalar(
            select(func.count()).select_from(Paper).where(Paper.blueprint_id == blueprint.id)
        )
        or 0
    )


def session_count(session: Session, blueprint: Blueprint) -> int:
    """Return how many exam sessions use the blueprint."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ExamSession)
            .where(ExamSession.blueprint_id == blueprint.id)
        )
        or 0
    )


def delete_blueprint(session: Session, blueprint: Blueprint) -> None:
    """Delete a blueprint no paper and no exam session uses; flushes."""
    if paper_count(session, blueprint):
        raise BlueprintError(
            "blueprint_has_papers",
            _("Papers were drawn from this blueprint: it cannot be deleted."),
        )
    if session_count(session, blueprint):
        raise BlueprintError(
            "blueprint_has_sessions",
            _("Exam sessions use this blueprint: it cannot be deleted."),
        )
    session.delete(blueprint)
    session.flush()


# ---------------------------------------------------------------------------------- pools
def spec_of(blueprint: Blueprint) -> BlueprintSpec:
    """Return what the draw needs to know of a blueprint."""
    return BlueprintSpec(
        sections=tuple(
            SectionSpec(type=s.type, count=s.count, points=float(s.points))
            for s in blueprint.sections
        ),
        shuffle_options=blueprint.shuffle_options,
    )


def _section_filter(
    session: Session, blueprint: Blueprint, section: BlueprintSection
) -> list[ColumnElement[bool]]:
    """The conditions an active question meets to be eligible for ``section``."""
    conditions: list[ColumnElement[bool]] = [
        Question.bank_id == blueprint.bank_id,
        Question.status == QuestionStatus.active.value,
        Question.current_version_id.is_not(None),
        Question.type == section.type,
        Question.difficulty >= section.difficulty_min,
        Question.difficulty <= section.difficulty_max,
    ]
    if section.topic_ids:
        subtree = topic_subtree_ids(session, section.topic_ids)
        conditions.append(Question.topic_id.in_(sorted(subtree)))
    return conditions


def section_question_ids(session: Session, blueprint: Blueprint) -> list[list[int]]:
    """Return, per section, the ids of the active questions eligible for it."""
    return [
        list(
            session.scalars(
                select(Question.id)
                .where(*_section_filter(session, blueprint, section))
                .order_by(Question.id)
            )
        )
        for section in blueprint.sections
    ]


def section_pools(session: Session, blueprint: Blueprint) -> list[list[PoolQuestion]]:
    """Return, per section, the current versions of the active questions eligible for it."""
    pools: list[list[PoolQuestion]] = []
    for section in blueprint.sections:
        rows = session.execute(
            select(Question.id, QuestionVersion.id, QuestionVersion.type, QuestionVersion.options)
            .join(QuestionVersion, QuestionVersion.id == Question.current_version_id)
            .where(*_section_filter(session, blueprint, section))
            .order_by(QuestionVersion.id)
        )
        pools.append(
            [
                PoolQuestion(
                    version_id=version_id,
                    question_id=question_id,
                    type=qtype,
                    option_keys=tuple(str(o["key"]) for o in options or []),
                )
                for question_id, version_id, qtype, options in rows
            ]
        )
    return pools


def question_exposure(session: Session, bank_id: int) -> dict[int, int]:
    """Return how often each active question of a bank was used, keyed by its current version.

    Counted over all the question's versions, so an edit does not make a question look fresh.
    """
    used = (
        select(QuestionVersion.question_id, func.sum(QuestionVersion.used_count).label("used"))
        .group_by(QuestionVersion.question_id)
        .subquery()
    )
    rows = session.execute(
        select(Question.current_version_id, used.c.used)
        .join(used, used.c.question_id == Question.id)
        .where(Question.bank_id == bank_id, Question.current_version_id.is_not(None))
    )
    return {int(vid): int(count or 0) for vid, count in rows if vid is not None and count}


# ---------------------------------------------------------------------------- feasibility
@dataclass(frozen=True)
class SectionFeasibility:
    """Whether the bank can feed one section, and what it shares with other sections."""

    index: int
    title: str
    type: str
    needed: int
    eligible: int
    shared: int  # eligible questions that other sections may draw too
    overlaps_with: tuple[int, ...]  # indices of those sections
    available: int  # questions this section gets when no question serves twice
    effective_pool: int  # pool size used for the paper-distance estimate

    @property
    def ok(self) -> bool:
        return self.available >= self.needed

    @property
    def missing(self) -> int:
        return max(0, self.needed - self.available)


@dataclass(frozen=True)
class FeasibilityReport:
    """Whether the bank holds enough active questions, and how far apart papers will be."""

    sections: tuple[SectionFeasibility, ...]
    total_needed: int
    expected_common: float | None  # questions two candidates' papers share
    expected_overlap: float | None  # share of a paper's questions another paper also has
    expected_same_position: float | None  # same question at the same position on two papers
    level: str  # ok | warn | bad, for the badge
    verdict: str

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sections) and bool(self.sections)


def feasibility(session: Session, blueprint: Blueprint) -> FeasibilityReport:
    """Check every section against the bank's active questions and estimate paper distance."""
    id_pools = section_question_ids(session, blueprint)
    sections = list(blueprint.sections)
    needs = [s.count for s in sections]
    available = assignable(needs, id_pools)
    sets = [set(pool) for pool in id_pools]
    rows: list[SectionFeasibility] = []
    for index, section in enumerate(sections):
        others = [j for j in range(len(sections)) if j != index and sets[j] & sets[index]]
        shared = set().union(*(sets[j] & sets[index] for j in others)) if others else set()
        # Questions other sections take out of a shared pool are lost to this one; the draw
        # prefers no section, so assume each takes its full share of what it shares.
        lost = sum(min(needs[j], len(sets[j] & sets[index])) for j in others)
        effective = max(min(needs[index], len(sets[index])), len(sets[index]) - lost)
        rows.append(
            SectionFeasibility(
                index=index,
                title=section.title,
                type=section.type,
                needed=needs[index],
                eligible=len(sets[index]),
                shared=len(shared),
                overlaps_with=tuple(others),
                available=available[index],
                effective_pool=effective,
            )
        )
    return _report(rows)


def _report(rows: list[SectionFeasibility]) -> FeasibilityReport:
    total = sum(r.needed for r in rows)
    if not rows:
        verdict = _("The blueprint has no sections.")
        return FeasibilityReport((), 0, None, None, None, "bad", verdict)
    if not all(r.ok for r in rows):
        short = [r for r in rows if not r.ok]
        verdict = _(
            "The bank does not hold enough active questions: %(n)d section(s) short by "
            "%(missing)d question(s) in all.",
            n=len(short),
            missing=sum(r.missing for r in short),
        )
        return FeasibilityReport(tuple(rows), total, None, None, None, "bad", verdict)
    counts = [r.needed for r in rows]
    sizes = [r.effective_pool for r in rows]
    common = expected_common(counts, sizes)
    overlap = expected_overlap(counts, sizes)
    same = expected_same_position(counts, sizes)
    percent = round(overlap * 100)
    if overlap >= 0.999:
        level = "bad"
        verdict = _(
            "Every candidate gets the same questions; only their order differs. "
            "Add questions to the bank."
        )
    elif overlap > 0.5:
        level = "warn"
        verdict = _(
            "Two candidates' papers will share about %(percent)d%% of their questions: "
            "papers are close. Add questions to the bank.",
            percent=percent,
        )
    elif overlap > 0.25:
        level = "warn"
        verdict = _(
            "Two candidates' papers will share about %(percent)d%% of their questions.",
            percent=percent,
        )
    else:
        level = "ok"
        verdict = _(
            "Two candidates' papers will share about %(percent)d%% of their questions: "
            "papers differ well.",
            percent=percent,
        )
    return FeasibilityReport(tuple(rows), total, common, overlap, same, level, verdict)


# ----------------------------------------------------------------------------------- draw
def _check_seed(seed: str) -> None:
    if not seed or len(seed) > MAX_SEED:
        raise BlueprintError("bad_seed", _("A seed is 1 to 64 characters."))


class PaperDrawer:
    """Draws the papers of one blueprint with its pools loaded once, e.g. for every candidate
    of a session when it opens. Exposure is kept up to date between the papers it stores."""

    def __init__(self, session: Session, blueprint: Blueprint, exposure_control: bool = True):
        self.session = session
        self.blueprint = blueprint
        self.spec = spec_of(blueprint)
        self.pools = section_pools(session, blueprint)
        self.exposure: dict[int, int] | None = (
            question_exposure(session, blueprint.bank_id) if exposure_control else None
        )

    def preview(self, seed: str, avoid: Sequence[Sequence[int]] | None = None) -> DrawnPaper:
        """Draw a paper without storing it; raises DrawError or BlueprintError (bad_seed)."""
        _check_seed(seed)
        return draw_paper(self.spec, self.pools, seed, self.exposure, avoid)

    def draw(self, seed: str, avoid: Sequence[Sequence[int]] | None = None) -> Paper:
        """Draw a paper and store it (see ``draw_paper_for``); flushes."""
        drawn = self.preview(seed, avoid)
        paper = store_paper(self.session, self.blueprint, drawn)
        if self.exposure is not None:
            for item in drawn.items:
                self.exposure[item.version_id] = self.exposure.get(item.version_id, 0) + 1
        return paper


def draw_unstored(
    session: Session,
    blueprint: Blueprint,
    seed: str,
    avoid: Sequence[Sequence[int]] | None = None,
    exposure_control: bool = True,
) -> DrawnPaper:
    """Draw a paper from the bank's current active questions without storing anything.

    Raises DrawError (``pool_too_small`` …) when the bank cannot feed the blueprint, and
    BlueprintError (``bad_seed``) for a seed that is not 1 to 64 characters.
    """
    _check_seed(seed)
    return PaperDrawer(session, blueprint, exposure_control).preview(seed, avoid)


def store_paper(session: Session, blueprint: Blueprint, drawn: DrawnPaper) -> Paper:
    """Store a drawn paper and freeze the versions it shows (used_count + 1); flushes."""
    _check_seed(drawn.seed)
    paper = Paper(blueprint_id=blueprint.id, seed=drawn.seed)
    for item in drawn.items:
        paper.items.append(
            PaperItem(
                position=item.position,
                section_index=item.section_index,
                question_version_id=item.version_id,
                option_order=list(item.option_order),
                points=item.points,
            )
        )
    session.add(paper)
    session.flush()
    mark_versions_used(session, [item.version_id for item in drawn.items])
    session.flush()
    if drawn.neighbour_clashes:
        log.warning(
            "paper %s (blueprint %s, seed %r): neighbours share questions at positions %s",
            paper.id, blueprint.code, drawn.seed, list(drawn.neighbour_clashes),
        )
    return paper


def draw_paper_for(
    session: Session,
    blueprint: Blueprint,
    seed: str,
    avoid: Sequence[Sequence[int]] | None = None,
    exposure_control: bool = True,
) -> Paper:
    """Draw a paper for one candidate and store it; flushes, the caller commits.

    ``avoid`` holds the neighbouring seats' papers (``paper_layout(p)`` of each): no question
    will sit at the position a neighbour has it at, where the bank allows. The least-used
    questions are preferred unless ``exposure_control`` is off. For many candidates at once,
    ``PaperDrawer`` loads the pools once.
    """
    _check_seed(seed)
    return PaperDrawer(session, blueprint, exposure_control).draw(seed, avoid)


def paper_layout(paper: Paper) -> list[int]:
    """Return a stored paper's version ids in position order (an ``avoid`` entry)."""
    return [item.question_version_id for item in sorted(paper.items, key=lambda i: i.position)]


def candidate_questions(session: Session, drawn: DrawnPaper) -> list[dict[str, Any]]:
    """Return the drawn paper as a candidate's terminal would show it: no keys, numbered."""
    ids = [item.version_id for item in drawn.items]
    versions = {
        v.id: v for v in session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
    }
    result: list[dict[str, Any]] = []
    for item in drawn.items:
        version = versions[item.version_id]
        view = get_type(version.type).candidate_view(
            version.id, version.stem, version.options, item.option_order
        )
        result.append(
            {
                **view.as_dict(),
                "number": item.position,
                "section_index": item.section_index,
                "points": item.points,
            }
        )
    return result


# ------------------------------------------------------------------------------- for pages
def topic_tree(
    session: Session, bank_ids: Sequence[int] | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Return each bank's knowledge points in tree order: {bank_id: [{id, name, path, depth}]}."""
    query = select(Topic).order_by(Topic.name, Topic.id)
    if bank_ids is not None:
        query = query.where(Topic.bank_id.in_(list(bank_ids)))
    topics = list(session.scalars(query))
    children: dict[int | None, list[Topic]] = {}
    for topic in topics:
        children.setdefault(topic.parent_id, []).append(topic)
    result: dict[int, list[dict[str, Any]]] = {}

    def walk(parent_id: int | None, prefix: str, depth: int) -> None:
        for topic in children.get(parent_id, []):
            path = f"{prefix}{TOPIC_SEPARATOR}{topic.name}" if prefix else topic.name
            result.setdefault(topic.bank_id, []).append(
                {"id": topic.id, "name": topic.name, "path": path, "depth": depth}
            )
            walk(topic.id, path, depth + 1)

    walk(None, "", 0)
    return result


def list_blueprints(session: Session) -> list[Blueprint]:
    """Return all blueprints by code."""
    return list(session.scalars(select(Blueprint).order_by(Blueprint.code)))
