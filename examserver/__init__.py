"""examserver: computer-based exams for a work-safety training and assessment centre."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application: settings from defaults, environment, then ``overrides``."""
    from flask import Flask

    from examserver.config import load_settings

    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(load_settings(Path(app.instance_path), overrides))
    hops = int(app.config["EXAMSERVER"]["PROXY_HOPS"])
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from examserver import errors, i18n, web
    from examserver.auth import views as auth_views
    from examserver.cli import register_commands
    from examserver.delivery import views as delivery_views
    from examserver.extensions import csrf, db, login_manager, socketio
    from examserver.papers import views as paper_views
    from examserver.proctor import record_views
    from examserver.proctor import views as proctor_views
    from examserver.question_bank import transfer_views
    from examserver.question_bank import views as bank_views
    from examserver.records import views as records_views

    db.init_app(app)
    with app.app_context():
        from examserver.db import install_sqlite_pragmas

        install_sqlite_pragmas(db.engine, app.config["EXAMSERVER"]["SQLITE_SYNCHRONOUS"])
    csrf.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)
    from examserver.wire import WirePacket

    settings = app.config["EXAMSERVER"]
    with warnings.catch_warnings():
        # eventlet announces its own deprecation on import (see docs/architecture.md).
        warnings.simplefilter("ignore")
        socketio.init_app(
            app,
            async_mode=settings["ASYNC_MODE"],
            message_queue=settings["MESSAGE_QUEUE"],
            cors_allowed_origins=[],
            max_http_buffer_size=1024 * 1024,
            # Papers are encoded once and spliced into `state` messages (examserver/wire.py).
            serializer=WirePacket,
        )
    errors.init_app(app)
    auth_views.init_app(app)
    web.init_app(app)
    bank_views.init_app(app)
    transfer_views.init_app(app)
    paper_views.init_app(app)
    delivery_views.init_app(app)
    records_views.init_app(app)
    proctor_views.init_app(app)
    record_views.init_app(app)
    register_commands(app)
    return app
