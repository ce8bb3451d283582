"""Question-bank benchmark (issue 2): import a generated workbook, then time the question list.

    .venv/bin/python bench/bank_bench.py [--n 10000] [--runs 50] [--db URL] [--json]

Steps, each timed: generate an N-question .xlsx workbook; migrate a fresh database; the import's
dry run; the real import and its commit; then, repeated ``--runs`` times each, the filtered
question list as a service call (parse_filters + list_questions on a fresh ORM session) and as
the whole admin page (GET /admin/questions through the Flask test client, logged in as admin).
The default database is a fresh SQLite file in bench/out/. ``--db postgresql://…/bench_x`` uses
PostgreSQL: the named database is dropped and created again, so its name must start with
``bench``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, ROOT, summary_ms, table, write_json  # noqa: E402


def fresh_database(url: str | None, n: int) -> str:
    """Return the URL of a new, empty database (a SQLite file, or a re-created PostgreSQL db)."""
    if url is None:
        path = OUT / f"bank-{n}.db"
        OUT.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return url
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg2://")):
        raise SystemExit(f"unsupported database URL: {url}")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from examserver.config import normalise_database_url

    url = normalise_database_url(url)
    target = make_url(url)
    name = target.database or ""
    if not name.startswith("bench"):
        raise SystemExit(
            f"refusing to drop and re-create database {name!r}: its name must start with 'bench'"
        )
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def build_filters(app: Any, bank_code: str) -> list[tuple[str, dict[str, str]]]:
    """Return the realistic filter sets as (label, URL arguments)."""
    from examserver.extensions import db
    from examserver.question_bank.operations import find_topic, get_bank

    with app.app_context():
        bank = get_bank(db.session, bank_code)
        assert bank is not None
        topic = find_topic(db.session, bank, "专业技术")
        leaf = find_topic(db.session, bank, "应急处置/触电急救")
        if topic is None or leaf is None:
            raise SystemExit("the generated bank lacks its knowledge points")
        bank_id, topic_id, leaf_id = str(bank.id), str(topic.id), str(leaf.id)
    return [
        ("no filter, page 1", {}),
        ("bank", {"bank": bank_id}),
        ("type = multi", {"type": "multi"}),
        ("difficulty = 3", {"difficulty": "3"}),
        ("bank + type + difficulty", {"bank": bank_id, "type": "single", "difficulty": "2"}),
        ("topic with descendants", {"topic": topic_id}),
        ("leaf topic", {"bank": bank_id, "topic": leaf_id}),
        ("search common 动火", {"q": "动火"}),
        ("search rare 第1234题", {"q": "第1234题"}),
        ("search absent 氨制冷机房", {"q": "氨制冷机房"}),
        ("search + type", {"q": "动火", "type": "judge"}),
        ("status = all", {"status": "all"}),
        ("deep page 150", {"page": "150"}),
        ("last page", {"page": "1000000"}),
    ]


def bench_service(app: Any, filters: list[tuple[str, dict[str, str]]], runs: int) -> list[dict]:
    """Time parse_filters + list_questions on a fresh session, ``runs`` times per filter."""
    from examserver.extensions import db
    from examserver.question_bank.queries import list_questions, parse_filters

    results = []
    with app.test_request_context("/admin/questions"):
        for label, args in filters:
            times, total, shown = [], 0, 0
            list_questions(db.session, parse_filters(args))  # warm-up, not counted
            for _ in range(runs):
                db.session.remove()
                start = time.perf_counter()
                page = list_questions(db.session, parse_filters(args))
                times.append(time.perf_counter() - start)
                total, shown = page.total, len(page.items)
            db.session.remove()
            results.append({"filter": label, "args": args, "total": total, "shown": shown,
                            **summary_ms(times)})  # fmt: skip
    return results


def bench_http(app: Any, filters: list[tuple[str, dict[str, str]]], runs: int) -> list[dict]:
    """Time GET /admin/questions?… as a logged-in admin, ``runs`` times per filter."""
    from urllib.parse import urlencode

    client = app.test_client()
    response = client.post(
        "/api/login", json={"username": "benchadmin", "password": "bench-password-1"}
    )
    if response.status_code != 200:
        raise SystemExit(f"admin login failed: {response.status_code} {response.get_data()[:200]}")
    results = []
    for label, args in filters:
        url = "/admin/questions" + ("?" + urlencode(args) if args else "")
        times, size = [], 0
        client.get(url)  # warm-up, not counted
        for _ in range(runs):
            start = time.perf_counter()
            response = client.get(url)
            body = response.get_data()
            times.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            size = len(body)
        results.append({"filter": label, "url": url, "bytes": size, **summary_ms(times)})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="questions in the workbook")
    parser.add_argument("--runs", type=int, default=50, help="repetitions of each list query")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in bench/out)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 200_000 or not 1 <= args.runs <= 10_000:
        parser.error("--n must be 1..200000 and --runs 1..10000")

    os.environ.setdefault("EXAMSERVER_SECRET_KEY", "bench-not-secret")
    from examserver import create_app
    from examserver.auth.operations import create_user
    from examserver.db import upgrade_database
    from examserver.extensions import db
    from examserver.question_bank.importing import import_file
    from examserver.question_bank.sample import generate_workbook

    phases: dict[str, float] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    workbook = OUT / f"bank-{args.n}.xlsx"
    phases["generate workbook"], _ = timed(lambda: generate_workbook(workbook, args.n, args.seed))
    url = fresh_database(args.db, args.n)
    phases["migrate database"], _ = timed(lambda: upgrade_database(url))
    app = create_app({"DATABASE_URL": url, "IMPORT_MAX_ROWS": max(args.n, 20_000)})
    data = workbook.read_bytes()
    with app.app_context():
        create_user(db.session, "benchadmin", "bench-password-1", "admin")
        db.session.commit()

        def dry() -> Any:
            report = import_file(db.session, data, workbook.name, "BENCH", dry_run=True,
                                 max_rows=args.n)  # fmt: skip
            db.session.rollback()
            return report

        phases["import dry run"], report = timed(dry)
        if report.error_count:
            raise SystemExit(f"the generated workbook has {report.error_count} errors")

        def real() -> Any:
            return import_file(db.session, data, workbook.name, "BENCH", bank_name="基准题库",
                               max_rows=args.n)  # fmt: skip

        phases["import (parse, check, write)"], report = timed(real)
        phases["import commit"], _ = timed(db.session.commit)
        imported = report.imported
    phases["import total"] = phases["import (parse, check, write)"] + phases["import commit"]
    filters = build_filters(app, "BENCH")
    service = bench_service(app, filters, args.runs)
    http = bench_http(app, filters, args.runs)
    dialect = url.split(":", 1)[0]
    result = {
        "n": args.n,
        "runs": args.runs,
        "database": dialect,
        "workbook_bytes": len(data),
        "imported": imported,
        "phases_s": phases,
        "list_service_ms": service,
        "list_http_ms": http,
    }
    write_json(OUT / f"bank-{args.n}-{dialect.split('+')[0]}.json", result)
    if args.json:
        import json

        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"question bank benchmark: {args.n:,} questions, {dialect}, "
          f"workbook {len(data) / 1e6:.1f} MB, {imported:,} imported")  # fmt: skip
    print()
    print(table(["phase", "seconds", "questions/s"],
                [(k, v, args.n / v if k.startswith("import") and "commit" not in k else None)
                 for k, v in phases.items()]))
    print()
    print(f"question list, service call (parse_filters + list_questions), {args.runs} runs, ms")
    print(table(["filter", "matches", "p50", "p95", "max"],
                [(r["filter"], r["total"], r["p50"], r["p95"], r["max"]) for r in service]))
    print()
    print(f"question list, whole page GET /admin/questions as admin, {args.runs} runs, ms")
    print(table(["filter", "KB", "p50", "p95", "max"],
                [(r["filter"], r["bytes"] / 1024, r["p50"], r["p95"], r["max"]) for r in http]))
    print()
    print(f"(also written to {OUT.relative_to(ROOT)}/bank-{args.n}-{dialect.split('+')[0]}.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
