"""The ``examserver`` command line: a Flask CLI group with the project's commands."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

ASYNC_MODES = ("eventlet", "gevent", "threading")


def _make_app() -> Flask:
    from examserver import create_app

    return create_app()


def app_for(db_path: str | None, **extra: Any) -> Flask:
    """Return the current app, or a new one on the database given by ``--db``."""
    if db_path is None and not extra:
        return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]
    from examserver import create_app

    overrides: dict[str, Any] = dict(extra)
    if db_path is not None:
        overrides["DATABASE_URL"] = database_url(db_path)
    return create_app(overrides)


def database_url(value: str) -> str:
    """Accept a database URL or a path to a SQLite file."""
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


# ---------------------------------------------------------------- db
@click.group("db", help="Create or upgrade the database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.option("--db", "db_path", default=None, help="Database URL or SQLite file path.")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(db_path: str | None, revision: str) -> None:
    """Create or upgrade the database to the newest schema."""
    from examserver.db import upgrade_database

    url = database_url(db_path) if db_path else current_app.config["SQLALCHEMY_DATABASE_URI"]
    upgrade_database(url, revision)
    click.echo(f"database at {_redact(url)} is at revision {revision}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the database's schema revision."""
    from alembic import command

    from examserver.db import alembic_config

    command.current(alembic_config(current_app.config["SQLALCHEMY_DATABASE_URI"]))


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# ---------------------------------------------------------------- user
@click.group("user", help="Manage staff accounts.")
def user_group() -> None:
    pass


@user_group.command("create")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "staff", "proctor", "inspector", "examiner", "institution"]),
)
@click.option("--password-file", type=click.File("r", encoding="utf-8"), default=None)
@click.option("--name", "display_name", default="", help="Display name.")
@click.argument("username")
@with_appcontext
def user_create(role: str, password_file: Any, display_name: str, username: str) -> None:
    """Create a staff account; the password is prompted or read from --password-file."""
    from examserver.auth.operations import AccountError, create_user
    from examserver.extensions import db

    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session(), username, password, role, display_name)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.code}: {exc}") from exc
    click.echo(f"created {user.role} {user.username} (id {user.id})")


# ---------------------------------------------------------------- serve
@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--db", "db_path", default=None, help="Database URL or SQLite file path.")
@click.option("--async-mode", type=click.Choice(ASYNC_MODES), default=None)
def serve(host: str, port: int, db_path: str | None, async_mode: str | None) -> None:
    """Serve examserver with Flask-SocketIO (eventlet by default)."""
    from examserver import create_app

    overrides: dict[str, Any] = {"ASYNC_MODE": async_mode} if async_mode else {}
    if db_path is not None:
        overrides["DATABASE_URL"] = database_url(db_path)
    run_server(create_app(overrides), host, port)


def run_server(app: Flask, host: str, port: int) -> None:
    """Serve ``app`` until interrupted."""
    from examserver.extensions import socketio

    mode = app.config["EXAMSERVER"]["ASYNC_MODE"]
    click.echo(f"examserver on http://{host}:{port} ({mode})", err=True)
    clock = app.extensions.get("examserver.clock")
    if clock is not None:
        clock.start()
    _tune_gc()
    kwargs: dict[str, Any] = {"host": host, "port": port, "use_reloader": False}
    if mode == "threading":
        kwargs["allow_unsafe_werkzeug"] = True
        # Flask ignores app.run() under its own CLI; this command is the server, so run it.
        os.environ.pop("FLASK_RUN_FROM_CLI", None)
    elif mode == "eventlet":
        import eventlet
        import eventlet.wsgi

        listener = eventlet.listen((host, port), backlog=BACKLOG)
        eventlet.wsgi.server(listener, app, max_size=10000, log_output=False)
        return
    else:
        kwargs["log_output"] = False
        kwargs["backlog"] = BACKLOG
    socketio.run(app, **kwargs)


BACKLOG = 2048


def _tune_gc() -> None:
    """Keep the collector from stopping the server for long.

    A room of a thousand connections holds millions of objects; the default thresholds make the
    collector walk them all every few seconds, freezing every terminal for a few hundred ms.
    Objects alive at start-up are frozen out of collection, and full collections come rarer.
    """
    import gc

    gc.collect()
    gc.freeze()
    threshold = int(os.environ.get("EXAMSERVER_GC_THRESHOLD", "50000"))
    gc.set_threshold(threshold, 20, 100)


def register_commands(app: Flask) -> None:
    """Add the project's commands to ``flask --app examserver``."""
    for command in _commands():
        app.cli.add_command(command)


def _commands() -> list[click.Command]:
    from examserver.demo.cli import demo
    from examserver.question_bank.cli import bank_group

    return [db_group, user_group, serve, demo, bank_group]


class ExamServerGroup(FlaskGroup):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(create_app=_make_app, add_version_option=False, **kwargs)
        for command in _commands():
            self.add_command(command)


def main() -> None:
    """Run the command line (``examserver.launcher`` patches for green threads first)."""
    ExamServerGroup(help="examserver: computer-based work-safety exams.")()
