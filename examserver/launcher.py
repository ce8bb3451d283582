"""Entry point of the ``examserver`` console script.

Green-thread servers must monkey-patch the standard library before anything else imports it,
so this module imports nothing heavy until the patch is done.
"""

from __future__ import annotations

import os
import sys


def async_mode_from(argv: list[str]) -> str | None:
    """Return the async mode a serving command will use, or None if nothing will serve."""
    serving = "serve" in argv or ("demo" in argv and "--seed-only" not in argv)
    if not serving:
        return None
    mode = os.environ.get("EXAMSERVER_ASYNC_MODE", "eventlet")
    for i, arg in enumerate(argv):
        if arg == "--async-mode" and i + 1 < len(argv):
            mode = argv[i + 1]
        elif arg.startswith("--async-mode="):
            mode = arg.split("=", 1)[1]
    return mode


def patch_for(mode: str | None) -> None:
    """Monkey-patch the standard library (and psycopg2) for eventlet or gevent."""
    if mode == "eventlet":
        import warnings

        with warnings.catch_warnings():
            # eventlet announces its own deprecation; see docs/architecture.md.
            warnings.simplefilter("ignore")
            import eventlet

        eventlet.monkey_patch()
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
    elif mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
        from psycogreen.gevent import patch_psycopg as patch_gevent_psycopg

        patch_gevent_psycopg()


def main() -> None:
    patch_for(async_mode_from(sys.argv[1:]))
    from examserver.cli import main as cli_main

    cli_main()
