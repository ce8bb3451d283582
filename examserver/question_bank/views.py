"""Admin pages of the question bank: the question list, the editor, banks and knowledge points.

Every view here is for the bank editors (admin, staff). Views validate, call the services of
``operations`` (which flush) and own the transaction: they commit on success only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from examserver.auth.access import BANK_EDITORS, roles_required
from examserver.errors import AppError
from examserver.extensions import db
from examserver.question_bank import operations as ops
from examserver.question_bank import queries
from examserver.question_bank.forms import (
    BankForm,
    EditorEntry,
    check_topic_name,
    parse_editor,
    problems_by_field,
)
from examserver.question_bank.models import (
    Bank,
    Media,
    Question,
    QuestionStatus,
    QuestionVersion,
    Topic,
)
from examserver.question_bank.richtext import normalized_stem_key
from examserver.question_bank.types import (
    InvalidQuestion,
    Problem,
    QuestionContent,
    get_type,
    type_names,
)

log = logging.getLogger("examserver.bank")

bp = Blueprint("bank", __name__, url_prefix="/admin")

BULK_ACTIONS = ("retire", "restore", "move", "delete")
MAX_BULK = 5000
NEW_ROWS = 4


# ----------------------------------------------------------------------------- helpers
def _refuse(code: str, message: str) -> None:
    """Tell the user why nothing was done, and log it with its stable code."""
    log.info("refused %s %s: %s (%s)", request.method, request.path, code, message)
    flash(message, "error")


def _question_or_404(question_id: int) -> Question:
    question = db.session.get(Question, question_id)
    if question is None or question.current_version is None:
        raise AppError("question_not_found", _("There is no question %(id)s.", id=question_id), 404)
    return question


def _bank_or_404(bank_id: int) -> Bank:
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise AppError("bank_not_found", _("There is no bank %(id)s.", id=bank_id), 404)
    return bank


def _back_to_list(default_args: dict[str, Any] | None = None) -> ResponseReturnValue:
    """Return to the list the form came from (a local /admin/questions URL only)."""
    target = request.form.get("next", "")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/questions"):
        target = url_for("bank.questions", **(default_args or {}))
    return redirect(target, code=303)


def _parse_ids(values: Sequence[str]) -> tuple[list[int], list[str]]:
    """Split posted ids into valid integers and the raw values that are not ids."""
    ids: list[int] = []
    bad: list[str] = []
    for raw in values:
        raw = raw.strip()
        if not raw:
            continue
        if raw.isascii() and raw.isdigit() and len(raw) <= 12:
            if int(raw) not in ids:
                ids.append(int(raw))
        else:
            bad.append(raw[:20])
    return ids, bad


def _missing_ids(ids: Sequence[int]) -> list[int]:
    found = set(db.session.scalars(select(Question.id).where(Question.id.in_(list(ids)))))
    return [i for i in ids if i not in found]


def _used_ids(ids: Sequence[int]) -> list[int]:
    return sorted(
        set(
            db.session.scalars(
                select(QuestionVersion.question_id).where(
                    QuestionVersion.question_id.in_(list(ids)), QuestionVersion.used_count > 0
                )
            )
        )
    )


def _id_list(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:20])
    return shown + (" …" if len(ids) > 20 else "")


# ----------------------------------------------------------------------------- question list
@bp.get("/questions")
@roles_required(*BANK_EDITORS)
def questions() -> ResponseReturnValue:
    banks = list(db.session.scalars(select(Bank).order_by(Bank.code)))
    filters, page, error, status = queries.QuestionFilters(), None, None, 200
    try:
        filters = queries.parse_filters(request.args)
        page = queries.list_questions(db.session(), filters)
    except AppError as exc:
        log.info("refused %s %s: %s (%s)", request.method, request.full_path, exc.code, exc.message)
        error, status = exc.message, exc.status
    return render_template(
        "bank/questions.html",
        page=page,
        filters=filters,
        error=error,
        banks=banks,
        bank_codes={b.id: b.code for b in banks},
        topics=queries.topic_choices(db.session(), [b.id for b in banks]),
        type_names=type_names(),
    ), status


@bp.post("/questions/bulk")
@roles_required(*BANK_EDITORS)
def question_bulk() -> ResponseReturnValue:
    action = request.form.get("action", "")
    if action not in BULK_ACTIONS:
        _refuse("bad_action", _("Choose what to do with the selected questions."))
        return _back_to_list()
    raw_ids = request.form.getlist("ids")
    ids, bad = _parse_ids(raw_ids)
    if bad:
        _refuse("bad_ids", _("These are not question ids: %(ids)s.", ids=", ".join(bad[:20])))
        return _back_to_list()
    if not ids:
        _refuse("no_selection", _("Select at least one question."))
        return _back_to_list()
    if len(ids) > MAX_BULK:
        _refuse("too_many", _("Select at most %(n)s questions at a time.", n=MAX_BULK))
        return _back_to_list()
    missing = _missing_ids(ids)
    if missing:
        _refuse(
            "unknown_questions",
            _("These questions do not exist: %(ids)s. Nothing was changed.", ids=_id_list(missing)),
        )
        return _back_to_list()
    if action == "retire":
        count = ops.retire_questions(db.session(), ids)
        message = _("%(n)s question(s) retired.", n=count)
    elif action == "restore":
        count = ops.restore_questions(db.session(), ids)
        message = _("%(n)s question(s) restored.", n=count)
    elif action == "move":
        target = _move_target()
        if target is None:
            return _back_to_list()
        bank, topic = target
        count = ops.move_questions(db.session(), ids, bank, topic)
        message = _("%(n)s question(s) moved to %(bank)s.", n=count, bank=bank.name)
    else:
        used = _used_ids(ids)
        if used:
            _refuse(
                "question_used",
                _(
                    "Questions %(ids)s have been used by papers and cannot be "
                    "deleted: retire them instead. Nothing was deleted.",
                    ids=_id_list(used),
                ),
            )
            return _back_to_list()
        for question in db.session.scalars(select(Question).where(Question.id.in_(ids))).all():
            ops.delete_question(db.session(), question)
        message = _("%(n)s question(s) deleted.", n=len(ids))
    db.session.commit()
    log.info("bulk %s of %d question(s) by %s", action, len(ids), current_user.username)
    flash(message, "success")
    return _back_to_list()


def _move_target() -> tuple[Bank, Topic | None] | None:
    """Read and check the bank (and knowledge point) questions are moved to."""
    bank_ids, _bad = _parse_ids([request.form.get("target_bank", "")])
    bank = db.session.get(Bank, bank_ids[0]) if bank_ids else None
    if bank is None:
        _refuse("bad_target", _("Choose the bank to move the questions to."))
        return None
    raw_topic = request.form.get("target_topic", "").strip()
    topic: Topic | None = None
    if raw_topic:
        topic_ids, _bad = _parse_ids([raw_topic])
        topic = db.session.get(Topic, topic_ids[0]) if topic_ids else None
        if topic is None or topic.bank_id != bank.id:
            _refuse(
                "bad_target", _("The knowledge point is not one of bank %(bank)s.", bank=bank.name)
            )
            return None
    return bank, topic


# ----------------------------------------------------------------------------- editor
def _all_option_keys(question: Question) -> list[str]:
    keys: list[str] = []
    for version in question.versions:
        keys.extend(o["key"] for o in version.options if o["key"] not in keys)
    return keys


def _values_from_version(version: QuestionVersion, bank_id: int) -> dict[str, Any]:
    return {
        "bank_id": bank_id,
        "type": version.type,
        "stem": version.stem,
        "rows": [
            {"key": o["key"], "text": o["text"], "correct": o["key"] in version.answer}
            for o in version.options
        ],
        "topic_id": version.topic_id,
        "topic_path": "",
        "difficulty": version.difficulty,
        "explanation": version.explanation,
        "confirm_duplicate": False,
    }


def _values_from_entry(entry: EditorEntry) -> dict[str, Any]:
    return {
        "bank_id": entry.bank_id,
        "type": entry.type,
        "stem": entry.stem,
        "rows": entry.rows(),
        "topic_id": entry.topic_id,
        "topic_path": entry.topic_path,
        "difficulty": entry.difficulty,
        "explanation": entry.explanation,
        "confirm_duplicate": entry.confirm_duplicate,
    }


def _blank_values() -> dict[str, Any]:
    qtype = request.args.get("type", "single")
    if qtype not in type_names():
        qtype = "single"
    bank_ids, _bad = _parse_ids([request.args.get("bank", "")])
    options = get_type(qtype).default_options() or [
        {"key": "", "text": ""} for _i in range(NEW_ROWS)
    ]
    return {
        "bank_id": bank_ids[0] if bank_ids else None,
        "type": qtype,
        "stem": "",
        "rows": [{"key": o["key"], "text": o["text"], "correct": False} for o in options],
        "topic_id": None,
        "topic_path": "",
        "difficulty": 3,
        "explanation": "",
        "confirm_duplicate": False,
    }


def _render_editor(
    question: Question | None,
    values: dict[str, Any],
    problems: Sequence[Problem] = (),
    duplicates: Sequence[Question] = (),
    status: int = 200,
) -> ResponseReturnValue:
    banks = list(db.session.scalars(select(Bank).order_by(Bank.code)))
    current = question.current_version if question is not None else None
    return (
        render_template(
            "bank/editor.html",
            question=question,
            current=current,
            versions=list(reversed(question.versions)) if question is not None else [],
            values=values,
            problems=problems_by_field(problems),
            duplicates=duplicates,
            banks=banks,
            topics=queries.topic_choices(db.session(), [b.id for b in banks]),
            type_names=type_names(),
        ),
        status,
    )


def _resolve_topic(entry: EditorEntry, bank: Bank) -> Topic | None:
    """Return the chosen existing knowledge point, or add a problem; a typed path wins later."""
    if entry.topic_path or entry.topic_id is None:
        return None
    topic = db.session.get(Topic, entry.topic_id)
    if topic is None or topic.bank_id != bank.id:
        entry.problems.append(
            Problem("topic", "bad_topic", _("The knowledge point is not one of this bank."))
        )
        return None
    return topic


def _duplicates_of(bank_id: int, stem_html: str, exclude_id: int | None) -> list[Question]:
    stmt = select(Question).where(
        Question.bank_id == bank_id,
        Question.status == QuestionStatus.active.value,
        Question.stem_key == normalized_stem_key(stem_html),
    )
    if exclude_id is not None:
        stmt = stmt.where(Question.id != exclude_id)
    return list(db.session.scalars(stmt.order_by(Question.id).limit(20)))


def _unchanged(version: QuestionVersion, content: QuestionContent, topic_id: int | None) -> bool:
    return (
        version.type == content.type
        and version.stem == content.stem
        and version.options == content.options
        and version.answer == content.answer
        and version.explanation == content.explanation
        and version.difficulty == content.difficulty
        and version.topic_id == topic_id
    )


def _save_question(question: Question | None) -> ResponseReturnValue:
    """Validate the editor's post and create or update the question; nothing saved on error."""
    entry = parse_editor(
        request.form,
        _all_option_keys(question) if question is not None else (),
        fixed_bank_id=question.bank_id if question is not None else None,
    )
    bank = db.session.get(Bank, entry.bank_id) if entry.bank_id is not None else None
    if entry.bank_id is not None and bank is None:
        entry.problems.append(Problem("bank", "bad_bank", _("There is no such bank.")))
    topic = _resolve_topic(entry, bank) if bank is not None else None
    if entry.problems:
        return _render_editor(question, _values_from_entry(entry), entry.problems, status=422)
    assert bank is not None
    try:
        content = ops.check_content(entry.content())
    except InvalidQuestion as exc:
        return _render_editor(question, _values_from_entry(entry), exc.problems, status=422)
    current = question.current_version if question is not None else None
    if current is not None and current.is_used and current.type != content.type:
        problem = Problem("type", "type_change_used", "")
        return _render_editor(question, _values_from_entry(entry), [problem], status=422)
    duplicates = _duplicates_of(bank.id, content.stem, question.id if question else None)
    if duplicates and not entry.confirm_duplicate:
        return _render_editor(
            question, _values_from_entry(entry), duplicates=duplicates, status=409
        )
    if entry.topic_path:
        existing = ops.find_topic(db.session(), bank, entry.topic_path)
        target_topic, new_path = existing, existing is None
    else:
        target_topic, new_path = topic, False
    if question is not None and current is not None and not new_path:
        if _unchanged(current, content, target_topic.id if target_topic else None):
            flash(_("Nothing changed."), "success")
            return redirect(url_for("bank.question_edit", question_id=question.id), code=303)
    if entry.topic_path:
        topic = ops.ensure_topic(db.session(), bank, entry.topic_path)
    try:
        if question is None:
            question = ops.create_question(db.session(), bank, content, topic, current_user.id)
            message = _("Question %(id)s created.", id=question.id)
        else:
            version = ops.update_question(db.session(), question, content, topic, current_user.id)
            if current is not None and version.id != current.id:
                message = _(
                    "Saved as version %(n)s; papers keep the version they used.",
                    n=version.version_no,
                )
            else:
                message = _("Question saved.")
    except ops.BankError as exc:
        db.session.rollback()
        problem = Problem("type" if exc.code == "type_change_used" else "topic", exc.code, str(exc))
        return _render_editor(question, _values_from_entry(entry), [problem], status=422)
    db.session.commit()
    log.info("question %s saved by %s", question.id, current_user.username)
    flash(message, "success")
    return redirect(url_for("bank.question_edit", question_id=question.id), code=303)


@bp.route("/questions/new", methods=["GET", "POST"])
@roles_required(*BANK_EDITORS)
def question_new() -> ResponseReturnValue:
    if request.method == "POST":
        return _save_question(None)
    return _render_editor(None, _blank_values())


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@roles_required(*BANK_EDITORS)
def question_edit(question_id: int) -> ResponseReturnValue:
    question = _question_or_404(question_id)
    if request.method == "POST":
        return _save_question(question)
    assert question.current_version is not None
    return _render_editor(
        question, _values_from_version(question.current_version, question.bank_id)
    )


# ----------------------------------------------------------------------------- preview
@bp.post("/questions/preview")
@roles_required(*BANK_EDITORS)
def question_preview() -> ResponseReturnValue:
    """Render the editor's content exactly as a candidate's terminal shows it."""
    entry = parse_editor(request.form, request.form.getlist("option_key"), fixed_bank_id=0)
    problems = [p for p in entry.problems if p.field not in ("bank", "topic")]
    view = None
    if not problems:
        try:
            content = ops.check_content(entry.content())
        except InvalidQuestion as exc:
            problems = exc.problems
        else:
            view = get_type(content.type).candidate_view(0, content.stem, content.options)
    return (
        render_template(
            "bank/_preview.html", view=view, problems=problems_by_field(problems), number=1
        ),
        200 if view is not None else 422,
    )


@bp.get("/questions/<int:question_id>/preview")
@roles_required(*BANK_EDITORS)
def question_preview_page(question_id: int) -> ResponseReturnValue:
    question = _question_or_404(question_id)
    version = question.current_version
    raw = request.args.get("version", "").strip()
    if raw:
        wanted = [v for v in question.versions if raw.isdigit() and str(v.version_no) == raw]
        if not wanted:
            raise AppError(
                "version_not_found", _("This question has no version %(n)s.", n=raw[:12]), 404
            )
        version = wanted[0]
    assert version is not None
    view = get_type(version.type).candidate_view(version.id, version.stem, version.options)
    letters = {o["key"]: "ABCDEFGH"[i] for i, o in enumerate(version.options) if i < 8}
    return render_template(
        "bank/preview.html",
        question=question,
        version=version,
        view=view,
        answer_letters=[letters.get(k, k) for k in version.answer],
        topic_path=ops.topic_path(version.topic),
    )


# ----------------------------------------------------------------------------- duplicates
@bp.get("/questions/duplicates")
@roles_required(*BANK_EDITORS)
def question_duplicates() -> ResponseReturnValue:
    banks = list(db.session.scalars(select(Bank).order_by(Bank.code)))
    bank_ids, bad = _parse_ids([request.args.get("bank", "")])
    bank = db.session.get(Bank, bank_ids[0]) if bank_ids else None
    if bad or (bank_ids and bank is None):
        raise AppError("bad_filter", _("There is no such bank."), 400)
    groups = ops.duplicate_groups(db.session(), bank.id if bank else None)
    return render_template(
        "bank/duplicates.html",
        banks=banks,
        bank=bank,
        groups=groups,
        paths=queries.topic_paths(db.session(), {q.bank_id for g in groups for q in g}),
    )


@bp.post("/questions/duplicates/retire")
@roles_required(*BANK_EDITORS)
def question_duplicates_retire() -> ResponseReturnValue:
    """Keep one question of a duplicate group and retire the others."""
    ids, bad = _parse_ids(request.form.getlist("ids"))
    keep, bad_keep = _parse_ids([request.form.get("keep", "")])
    back = redirect(
        url_for("bank.question_duplicates", bank=request.form.get("bank") or None), code=303
    )
    if bad or bad_keep or not keep or keep[0] not in ids or len(ids) < 2:
        _refuse("bad_group", _("Choose the one question to keep."))
        return back
    missing = _missing_ids(ids)
    if missing:
        _refuse(
            "unknown_questions",
            _("These questions do not exist: %(ids)s. Nothing was changed.", ids=_id_list(missing)),
        )
        return back
    keys = set(db.session.scalars(select(Question.stem_key).where(Question.id.in_(ids))))
    if len(keys) != 1:
        _refuse("not_duplicates", _("These questions are not duplicates of each other."))
        return back
    count = ops.retire_questions(db.session(), [i for i in ids if i != keep[0]])
    db.session.commit()
    flash(_("Kept question %(id)s and retired %(n)s duplicate(s).", id=keep[0], n=count), "success")
    return back


# ----------------------------------------------------------------------------- media
IMAGE_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
)


def image_mime(data: bytes) -> str | None:
    """Return the MIME type of a PNG, JPEG, GIF or WebP image judged by its bytes, else None."""
    for magic, offset, mime in IMAGE_SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@bp.post("/media")
@roles_required(*BANK_EDITORS)
def media_upload() -> ResponseReturnValue:
    """Store an uploaded image (once per content) and return where rich text may show it."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise AppError("no_file", _("Choose an image file to upload."))
    limit = int(current_app.config["EXAMSERVER"]["MEDIA_MAX_KB"]) * 1024
    data = upload.stream.read(limit + 1)
    if not data:
        raise AppError("empty_file", _("The file is empty."))
    if len(data) > limit:
        raise AppError(
            "image_too_large", _("The image is larger than %(kb)s KB.", kb=limit // 1024), 413
        )
    mime = image_mime(data)
    if mime is None:
        raise AppError("bad_image_type", _("Only PNG, JPEG, GIF and WebP images can be used."))
    digest = hashlib.sha256(data).hexdigest()
    media = db.session.scalar(select(Media).where(Media.sha256 == digest))
    if media is None:
        media = Media(
            sha256=digest,
            mime=mime,
            filename=_safe_filename(upload.filename),
            size=len(data),
            data=data,
            created_by_id=current_user.id,
        )
        db.session.add(media)
        try:
            db.session.commit()
        except IntegrityError:  # the same image uploaded at the same moment elsewhere
            db.session.rollback()
            media = db.session.scalar(select(Media).where(Media.sha256 == digest))
            if media is None:
                raise
        log.info(
            "media %s (%s, %d bytes) uploaded by %s",
            media.id,
            mime,
            len(data),
            current_user.username,
        )
    return jsonify(id=media.id, url=url_for("web.media", media_id=media.id))


def _safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:200]


# ----------------------------------------------------------------------------- banks
@bp.get("/banks")
@roles_required(*BANK_EDITORS)
def banks() -> ResponseReturnValue:
    return render_template(
        "bank/banks.html", summaries=queries.bank_summaries(db.session()), type_names=type_names()
    )


def _code_taken(code: str, bank_id: int | None) -> bool:
    stmt = select(func.count()).select_from(Bank).where(Bank.code == code)
    if bank_id is not None:
        stmt = stmt.where(Bank.id != bank_id)
    return bool(db.session.scalar(stmt))


def _save_bank(form: BankForm, bank: Bank | None) -> ResponseReturnValue | None:
    """Create or update a bank from a valid form; None when the form must be shown again."""
    code = (form.code.data or "").strip()
    if _code_taken(code, bank.id if bank else None):
        form.code.errors = [_("Another bank already has this code.")]
        return None
    if bank is None:
        bank = Bank(code=code, name="")
        db.session.add(bank)
    bank.code = code
    bank.name = (form.name.data or "").strip()
    bank.industry = (form.industry.data or "").strip()
    bank.category = (form.category.data or "").strip()
    bank.job_type = (form.job_type.data or "").strip()
    bank.description = (form.description.data or "").strip()
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        form.code.errors = [_("Another bank already has this code.")]
        return None
    flash(_("Bank %(code)s saved.", code=bank.code), "success")
    return redirect(url_for("bank.banks"), code=303)


@bp.route("/banks/new", methods=["GET", "POST"])
@roles_required(*BANK_EDITORS)
def bank_new() -> ResponseReturnValue:
    form = BankForm()
    if form.validate_on_submit():
        done = _save_bank(form, None)
        if done is not None:
            return done
    status = 422 if request.method == "POST" else 200
    return render_template("bank/bank_form.html", form=form, bank=None), status


@bp.route("/banks/<int:bank_id>/edit", methods=["GET", "POST"])
@roles_required(*BANK_EDITORS)
def bank_edit(bank_id: int) -> ResponseReturnValue:
    bank = _bank_or_404(bank_id)
    form = BankForm(obj=bank)
    if form.validate_on_submit():
        done = _save_bank(form, bank)
        if done is not None:
            return done
    status = 422 if request.method == "POST" else 200
    return render_template("bank/bank_form.html", form=form, bank=bank), status


# ----------------------------------------------------------------------------- knowledge points
@bp.get("/banks/<int:bank_id>/topics")
@roles_required(*BANK_EDITORS)
def topics(bank_id: int) -> ResponseReturnValue:
    bank = _bank_or_404(bank_id)
    return render_template(
        "bank/topics.html", bank=bank, nodes=queries.topic_tree(db.session(), bank.id)
    )


def _topic_in_bank(bank: Bank, raw: str) -> Topic | None:
    ids, _bad = _parse_ids([raw])
    topic = db.session.get(Topic, ids[0]) if ids else None
    return topic if topic is not None and topic.bank_id == bank.id else None


def _sibling_named(bank: Bank, parent_id: int | None, name: str, exclude: int | None) -> bool:
    stmt = (
        select(func.count()).select_from(Topic).where(Topic.bank_id == bank.id, Topic.name == name)
    )
    stmt = stmt.where(
        Topic.parent_id.is_(None) if parent_id is None else Topic.parent_id == parent_id
    )
    if exclude is not None:
        stmt = stmt.where(Topic.id != exclude)
    return bool(db.session.scalar(stmt))


@bp.post("/banks/<int:bank_id>/topics")
@roles_required(*BANK_EDITORS)
def topic_add(bank_id: int) -> ResponseReturnValue:
    bank = _bank_or_404(bank_id)
    back = redirect(url_for("bank.topics", bank_id=bank.id), code=303)
    parent: Topic | None = None
    if request.form.get("parent_id", "").strip():
        parent = _topic_in_bank(bank, request.form["parent_id"])
        if parent is None:
            _refuse("bad_topic", _("The parent knowledge point is not one of this bank."))
            return back
    name, problem = check_topic_name(request.form.get("name", ""))
    if problem is None and _sibling_named(bank, parent.id if parent else None, name, None):
        problem = _("There is already a knowledge point “%(name)s” here.", name=name)
    if problem is not None:
        _refuse("bad_topic_name", problem)
        return back
    db.session.add(Topic(bank_id=bank.id, parent_id=parent.id if parent else None, name=name))
    db.session.commit()
    flash(_("Knowledge point “%(name)s” added.", name=name), "success")
    return back


@bp.post("/banks/<int:bank_id>/topics/<int:topic_id>/rename")
@roles_required(*BANK_EDITORS)
def topic_rename(bank_id: int, topic_id: int) -> ResponseReturnValue:
    bank = _bank_or_404(bank_id)
    back = redirect(url_for("bank.topics", bank_id=bank.id), code=303)
    topic = _topic_in_bank(bank, str(topic_id))
    if topic is None:
        raise AppError("topic_not_found", _("There is no such knowledge point in this bank."), 404)
    name, problem = check_topic_name(request.form.get("name", ""))
    if problem is None and _sibling_named(bank, topic.parent_id, name, topic.id):
        problem = _("There is already a knowledge point “%(name)s” here.", name=name)
    if problem is not None:
        _refuse("bad_topic_name", problem)
        return back
    topic.name = name
    db.session.commit()
    flash(_("Knowledge point renamed to “%(name)s”.", name=name), "success")
    return back


def topic_users(bank: Bank, subtree: set[int]) -> list[str]:
    """Return what still uses any of these knowledge points (questions, versions, blueprints)."""
    from examserver.papers.models import Blueprint as PaperBlueprint

    reasons: list[str] = []
    questions = db.session.scalar(
        select(func.count()).select_from(Question).where(Question.topic_id.in_(subtree))
    )
    versions = db.session.scalar(
        select(func.count())
        .select_from(QuestionVersion)
        .where(QuestionVersion.topic_id.in_(subtree))
    )
    if questions or versions:
        reasons.append(
            _(
                "%(n)s question(s) or earlier versions are filed under it.",
                n=max(questions or 0, versions or 0),
            )
        )
    for blueprint in db.session.scalars(
        select(PaperBlueprint).where(PaperBlueprint.bank_id == bank.id)
    ):
        if any(set(s.topic_ids or []) & subtree for s in blueprint.sections):
            reasons.append(_("Blueprint %(code)s draws from it.", code=blueprint.code))
    return reasons


@bp.post("/banks/<int:bank_id>/topics/<int:topic_id>/delete")
@roles_required(*BANK_EDITORS)
def topic_delete(bank_id: int, topic_id: int) -> ResponseReturnValue:
    bank = _bank_or_404(bank_id)
    back = redirect(url_for("bank.topics", bank_id=bank.id), code=303)
    topic = _topic_in_bank(bank, str(topic_id))
    if topic is None:
        raise AppError("topic_not_found", _("There is no such knowledge point in this bank."), 404)
    nodes = queries.topic_tree(db.session(), bank.id)
    start = next(i for i, n in enumerate(nodes) if n.id == topic.id)
    subtree = [nodes[start]]
    for node in nodes[start + 1 :]:
        if node.depth <= nodes[start].depth:
            break
        subtree.append(node)
    reasons = topic_users(bank, {n.id for n in subtree})
    if reasons:
        _refuse(
            "topic_in_use",
            _("“%(name)s” cannot be deleted: %(why)s", name=topic.name, why=" ".join(reasons)),
        )
        return back
    for node in sorted(subtree, key=lambda n: n.depth, reverse=True):
        db.session.delete(db.session.get(Topic, node.id))
        db.session.flush()
    db.session.commit()
    flash(_("Knowledge point “%(name)s” deleted.", name=nodes[start].name), "success")
    return back


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
