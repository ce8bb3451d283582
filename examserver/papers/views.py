"""Admin pages of paper blueprints (组卷规则): list, edit, feasibility and a sample draw."""

from __future__ import annotations

import logging
import secrets
from typing import cast

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from jinja2 import TemplateNotFound
from sqlalchemy.orm import Session

from examserver.auth.access import BANK_EDITORS, roles_required
from examserver.extensions import db
from examserver.papers import operations as ops
from examserver.papers.draw import DrawError
from examserver.papers.models import Blueprint as PaperBlueprint
from examserver.papers.models import MultiScoring
from examserver.question_bank.models import Bank
from examserver.question_bank.types import type_names

bp = Blueprint("papers", __name__, url_prefix="/admin")
log = logging.getLogger("examserver.papers")

EXAM_QUESTION_PARTIAL = "exam/_question.html"


def _session() -> Session:
    """The request's database session (a scoped session, typed as what it stands for)."""
    return cast(Session, db.session)


def _get_blueprint(blueprint_id: int) -> PaperBlueprint:
    if blueprint_id > ops.MAX_ID:
        abort(404)
    blueprint = _session().get(PaperBlueprint, blueprint_id)
    if blueprint is None:
        abort(404)
    return blueprint


@bp.get("/blueprints")
@roles_required(*BANK_EDITORS)
def blueprints() -> ResponseReturnValue:
    rows = [(b, ops.feasibility(_session(), b)) for b in ops.list_blueprints(_session())]
    return render_template("papers/blueprints.html", rows=rows)


@bp.route("/blueprints/new", methods=["GET", "POST"])
@roles_required(*BANK_EDITORS)
def new_blueprint() -> ResponseReturnValue:
    if request.method == "GET":
        bank_id = request.args.get("bank_id", type=int)
        return _form(ops.new_blueprint_data(bank_id), [], None)
    data = ops.blueprint_data_from_form(request.form)
    try:
        blueprint = ops.create_blueprint(_session(), data)
    except ops.BlueprintInvalid as exc:
        _session().rollback()
        log.info("blueprint refused: %s", [(e.field, e.code) for e in exc.errors])
        return _form(data, exc.errors, None), 400
    _session().commit()
    flash(_("Blueprint %(code)s saved.", code=blueprint.code), "success")
    return redirect(url_for(".blueprint", blueprint_id=blueprint.id), 303)


@bp.route("/blueprints/<int:blueprint_id>/edit", methods=["GET", "POST"])
@roles_required(*BANK_EDITORS)
def edit_blueprint(blueprint_id: int) -> ResponseReturnValue:
    blueprint = _get_blueprint(blueprint_id)
    if request.method == "GET":
        return _form(ops.blueprint_data_of(blueprint), [], blueprint)
    data = ops.blueprint_data_from_form(request.form)
    try:
        ops.update_blueprint(_session(), blueprint, data)
    except ops.BlueprintInvalid as exc:
        _session().rollback()
        log.info("blueprint %s edit refused: %s", blueprint_id,
                 [(e.field, e.code) for e in exc.errors])
        return _form(data, exc.errors, blueprint), 400
    _session().commit()
    flash(_("Blueprint %(code)s saved.", code=blueprint.code), "success")
    if ops.paper_count(_session(), blueprint):
        flash(_("Papers drawn before this edit keep their questions."), "warning")
    return redirect(url_for(".blueprint", blueprint_id=blueprint.id), 303)


def _form(
    data: ops.BlueprintData, errors: list[ops.FieldError], blueprint: PaperBlueprint | None
) -> str:
    by_field: dict[str, list[ops.FieldError]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error)
    banks = list(_session().scalars(db.select(Bank).order_by(Bank.code)))
    return render_template(
        "papers/blueprint_form.html",
        data=data,
        errors=by_field,
        blueprint=blueprint,
        papers=ops.paper_count(_session(), blueprint) if blueprint is not None else 0,
        banks=banks,
        topics=ops.topic_tree(_session()),
        types=type_names(),
        scoring_rules=[m.value for m in MultiScoring],
        blank_section=ops.SectionData(),
    )


@bp.get("/blueprints/<int:blueprint_id>")
@roles_required(*BANK_EDITORS)
def blueprint(blueprint_id: int) -> ResponseReturnValue:
    item = _get_blueprint(blueprint_id)
    return render_template(
        "papers/blueprint.html",
        blueprint=item,
        report=ops.feasibility(_session(), item),
        papers=ops.paper_count(_session(), item),
        topic_paths=_topic_paths(item.bank_id),
    )


@bp.post("/blueprints/<int:blueprint_id>/sample")
@roles_required(*BANK_EDITORS)
def sample(blueprint_id: int) -> ResponseReturnValue:
    item = _get_blueprint(blueprint_id)
    seed = (request.form.get("seed") or "").strip() or secrets.token_hex(8)
    try:
        drawn = ops.draw_unstored(_session(), item, seed)
    except DrawError as exc:
        log.info("sample draw of blueprint %s refused: %s", blueprint_id, exc.code)
        flash(f"{draw_error_message(exc)} ({exc.code})", "error")
        return redirect(url_for(".blueprint", blueprint_id=blueprint_id), 303)
    except ops.BlueprintError as exc:
        log.info("sample draw of blueprint %s refused: %s", blueprint_id, exc.code)
        flash(f"{exc.message} ({exc.code})", "error")
        return redirect(url_for(".blueprint", blueprint_id=blueprint_id), 303)
    questions = ops.candidate_questions(_session(), drawn)
    return render_template(
        "papers/sample.html",
        blueprint=item,
        drawn=drawn,
        questions=questions,
        exam_partial=EXAM_QUESTION_PARTIAL if _has_template(EXAM_QUESTION_PARTIAL) else None,
    )


@bp.post("/blueprints/<int:blueprint_id>/delete")
@roles_required(*BANK_EDITORS)
def delete_blueprint(blueprint_id: int) -> ResponseReturnValue:
    item = _get_blueprint(blueprint_id)
    code = item.code
    try:
        ops.delete_blueprint(_session(), item)
    except ops.BlueprintError as exc:
        _session().rollback()
        log.info("blueprint %s delete refused: %s", blueprint_id, exc.code)
        flash(f"{exc.message} ({exc.code})", "error")
        return redirect(url_for(".blueprint", blueprint_id=blueprint_id), 303)
    _session().commit()
    flash(_("Blueprint %(code)s deleted.", code=code), "success")
    return redirect(url_for(".blueprints"), 303)


def draw_error_message(exc: DrawError) -> str:
    """Return a draw error in the user's language."""
    if exc.code == "pool_too_small" and exc.section_index is not None:
        return _(
            "Section %(section)d needs %(needed)d questions but the bank holds only "
            "%(available)d eligible active ones.",
            section=exc.section_index + 1,
            needed=exc.needed or 0,
            available=exc.available or 0,
        )
    return _("The paper cannot be drawn: %(reason)s", reason=exc.message)


def _topic_paths(bank_id: int) -> dict[int, str]:
    tree = ops.topic_tree(_session(), [bank_id]).get(bank_id, [])
    return {t["id"]: t["path"] for t in tree}


def _has_template(name: str) -> bool:
    try:
        current_app.jinja_env.get_template(name)
    except TemplateNotFound:
        return False
    return True


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
