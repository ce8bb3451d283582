"""``examserver demo``: seed the demo world idempotently, then serve."""

from __future__ import annotations

import json
import logging

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from examserver.demo.seed import MAX_DRILL_CANDIDATES, DemoWorld, seed_demo
from examserver.i18n import role_label

log = logging.getLogger(__name__)


@click.command("demo")
@click.option("--db", "db_path", default=None, help="Database URL or SQLite file path.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--seed-only", is_flag=True, help="Seed and exit without serving.")
@click.option("--json", "as_json", is_flag=True, help="Print the demo world as JSON on stdout.")
@click.option(
    "--candidates",
    "--drill-candidates",
    "drill_candidates",
    default=0,
    show_default=True,
    type=click.IntRange(0, MAX_DRILL_CANDIDATES),
    help="Also register this many generated candidates in the window-mode DEMO-DRILL session.",
)
@with_appcontext
def demo(
    db_path: str | None,
    host: str,
    port: int,
    seed_only: bool,
    as_json: bool,
    drill_candidates: int,
) -> None:
    """Seed the demo world (running it twice changes nothing), then serve."""
    from examserver.cli import app_for, run_server
    from examserver.db import upgrade_database
    from examserver.extensions import db

    app = app_for(db_path)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        upgrade_database(url)
    except Exception as exc:  # alembic and the drivers raise many kinds
        log.exception("demo: upgrading the database failed")
        raise click.ClickException(f"database_upgrade_failed: {exc}") from exc
    with app.app_context():
        try:
            world = seed_demo(
                db.session(),
                drill_candidates=drill_candidates,
                timezone=app.config["EXAMSERVER"]["TIMEZONE"],
            )
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            log.exception("demo: seeding failed")
            raise click.ClickException(f"demo_seed_failed: {exc}") from exc
        site = f"http://{host}:{port}/"
        if as_json:
            click.echo(json.dumps(world.as_dict(url=site), ensure_ascii=False))
        # No request here: the block is in the configured default language.
        with force_locale(app.config["EXAMSERVER"]["LOCALE"]):
            text = describe(world, site, serving=not seed_only)
        click.echo(text, err=as_json)
    if not seed_only:
        run_server(app, host, port)


def describe(world: DemoWorld, site: str, serving: bool) -> str:
    """Return the human-readable block with the logins, banks, sessions and URL."""
    lines = [_("examserver demo world"), ""]
    lines.append(_("Staff logins (username / password / role):"))
    for login in world.logins:
        lines.append(f"  {login.username:<10} {login.password:<22} {role_label(login.role)}")
    lines.append("")
    lines.append(_("Question banks:"))
    for bank in world.banks:
        lines.append("  " + _("%(code)s %(name)s: %(n)d questions",
                              code=bank.code, name=bank.name, n=bank.questions))
    lines.append("")
    lines.append(_("Exam sessions and candidates (admission number / ID number / name):"))
    for exam in world.sessions:
        mode = (
            _("the proctor starts the room")
            if exam.start_mode == "proctor"
            else _("candidates start within the window")
        )
        lines.append(f"  [{exam.id}] {exam.code} {exam.name} ({mode}, {exam.blueprint.code})")
        for c in exam.candidates[:10]:
            lines.append(f"      {c.admission_no:<16} {c.id_number}  {c.name}")
        if len(exam.candidates) > 10:
            lines.append("      " + _("… and %(n)d more", n=len(exam.candidates) - 10))
    if world.added:
        kinds = {
            "users": _("staff accounts"),
            "questions": _("questions"),
            "blueprints": _("blueprints"),
            "sessions": _("exam sessions"),
            "candidates": _("candidates"),
            "registrations": _("registrations"),
            "papers": _("papers drawn"),
        }
        added = ", ".join(f"{kinds.get(k, k)} {v}" for k, v in sorted(world.added.items()))
        lines += ["", _("Added this run: %(added)s", added=added)]
    else:
        lines += ["", _("Nothing added: the demo world was already complete.")]
    lines += ["", (_("Open %(url)s", url=site) if serving else _("Seeded; not serving."))]
    return "\n".join(lines)
