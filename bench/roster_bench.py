"""Time the proctor roster query (`examserver.proctor.service.roster`) on a seeded database.

The roster is read for every watch (the whole room) and, through the coalescing pusher, for the
attempts a batch of writes changed (a handful, many times a second at exam pace), so both sizes
matter. Seed a database first (about a minute):

    .venv/bin/examserver demo --db /tmp/r.db --seed-only --candidates 1000
    .venv/bin/python bench/roster_bench.py --db /tmp/r.db

The database is copied, and in the copy the drill room (DEMO-DRILL) is put in a mix of states
(answering, offline, paused, submitted, absent, with incidents) so that every column of a row is
read as in an exam; the original file is left untouched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the project root on sys.path)


def prepare(source: Path, target: Path) -> int:
    """Copy the database and give the drill room a realistic mix of states; return its id."""
    shutil.copyfile(source, target)
    conn = sqlite3.connect(target)
    with conn:
        (session_id,) = conn.execute(
            "SELECT id FROM exam_session WHERE code = 'DEMO-DRILL'"
        ).fetchone()
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM attempt WHERE session_id = ? ORDER BY id", (session_id,)
            )
        ]
        (user_id,) = conn.execute("SELECT min(id) FROM user").fetchone()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        started = (now - dt.timedelta(minutes=10)).isoformat(sep=" ")
        deadline = (now + dt.timedelta(minutes=50)).isoformat(sep=" ")
        seen = now.isoformat(sep=" ")
        for n, attempt_id in enumerate(ids):
            status = "submitted" if n % 20 == 0 else "paused" if n % 50 == 1 else "running"
            conn.execute(
                "UPDATE attempt SET status = ?, started_at = ?, deadline_at = ?,"
                " first_login_at = ?, verified_at = ?, terminal_sid = ?, terminal_seen_at = ?,"
                " answered_count = ?, last_activity_at = ?, paused_at = ?, pause_reason = ?,"
                " score = ?, passed = ? WHERE id = ?",
                (
                    status,
                    started,
                    deadline,
                    started,
                    started,
                    None if n % 10 == 3 else f"sid{n}",
                    seen,
                    n % 40,
                    seen,
                    seen if status == "paused" else None,
                    "toilet" if status == "paused" else "",
                    80.0 if status == "submitted" else None,
                    1 if status == "submitted" else None,
                    attempt_id,
                ),
            )
        for attempt_id in ids[::25]:
            conn.execute(
                "INSERT INTO incident (session_id, attempt_id, kind, note, recorded_by_id,"
                " recorded_at) VALUES (?, ?, 'warning', 'phone', ?, ?)",
                (session_id, attempt_id, user_id, seen),
            )
    conn.close()
    return int(session_id)


def time_roster(url: str, session_id: int, sizes: list[int], repeat: int) -> dict[str, Any]:
    """Median and mean milliseconds of roster() for the whole room and for ``sizes`` attempts."""
    from examserver import create_app
    from examserver.db import transaction, utcnow
    from examserver.delivery.models import Attempt
    from examserver.extensions import db
    from examserver.proctor import service

    app = create_app({"DATABASE_URL": url, "TESTING": True})
    results: dict[str, Any] = {}
    with app.app_context():
        with transaction(db.engine) as session:
            ids = list(
                session.scalars(
                    db.select(Attempt.id)
                    .where(Attempt.session_id == session_id)
                    .order_by(Attempt.id)
                )
            )
        cases: list[tuple[str, list[int] | None]] = [(f"room ({len(ids)})", None)]
        cases += [(f"{n} attempts", ids[:: max(1, len(ids) // n)][:n]) for n in sizes]
        for label, wanted in cases:
            # Cold: the papers' item totals not cached yet (the cache exists since the Core
            # roster; statements may be compiled by an earlier case).
            getattr(service, "_ITEM_TOTALS", {}).clear()
            begin = time.perf_counter()
            with transaction(db.engine) as session:
                service.roster(session, session_id, utcnow(), wanted)
            cold = time.perf_counter() - begin
            for _ in range(3):  # warm-up: caches, statement compilation, page cache
                with transaction(db.engine) as session:
                    service.roster(session, session_id, utcnow(), wanted)
            times: list[float] = []
            for _ in range(repeat):
                begin = time.perf_counter()
                with transaction(db.engine) as session:
                    rows = service.roster(session, session_id, utcnow(), wanted)
                times.append(time.perf_counter() - begin)
            results[label] = {
                "rows": len(rows),
                "cold_ms": round(cold * 1000, 3),
                "median_ms": round(statistics.median(times) * 1000, 3),
                "mean_ms": round(statistics.fmean(times) * 1000, 3),
                "min_ms": round(min(times) * 1000, 3),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/r.db", help="a database seeded by examserver demo")
    parser.add_argument("--sizes", default="1,2,100,1000", help="attempt-id list sizes to time")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "roster.db"
        session_id = prepare(Path(args.db), copy)
        sizes = [int(s) for s in args.sizes.split(",") if s]
        print(
            json.dumps(time_roster(f"sqlite:///{copy}", session_id, sizes, args.repeat), indent=2)
        )


if __name__ == "__main__":
    main()
