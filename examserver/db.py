"""The declarative base, database pragmas and the migration entry point."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase, Session, registry
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MIGRATIONS = Path(__file__).parent / "migrations"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use examserver.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING),
        type_annotation_map={dt.datetime: UTCDateTime()},
    )


def utcnow() -> dt.datetime:
    """Return the server's current time, timezone-aware in UTC: the only clock."""
    return dt.datetime.now(dt.UTC)


def install_sqlite_pragmas(engine: Engine, synchronous: str = "FULL") -> None:
    """Turn on WAL, foreign keys and the chosen durability for every SQLite connection."""
    if engine.dialect.name != "sqlite":
        return
    if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
        raise ValueError(f"unsupported SQLITE_SYNCHRONOUS {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write path asks for IMMEDIATE so that it holds the write lock from its first read:
        # a deferred transaction that reads, then writes, can fail with SQLITE_BUSY_SNAPSHOT.
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


@contextmanager
def transaction(engine: Engine, write: bool = False) -> Iterator[Session]:
    """Yield an ORM session in one short transaction: committed on success, else rolled back.

    ``write=True`` takes SQLite's write lock at BEGIN (a no-op elsewhere). Socket.IO handlers and
    background tasks use this instead of the request-scoped session: nothing stays open.
    """
    options = {"sqlite_begin": "IMMEDIATE"} if write and engine.dialect.name == "sqlite" else {}
    with engine.connect().execution_options(**options) as conn:
        session = Session(bind=conn, expire_on_commit=False, autoflush=True)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def alembic_config(url: str) -> Any:
    """Return an Alembic configuration for the database at ``url``."""
    from alembic.config import Config

    from examserver.config import normalise_database_url

    url = normalise_database_url(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Create or upgrade the database at ``url`` to ``revision``."""
    from alembic import command

    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
