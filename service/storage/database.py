"""Opening the database and bringing its schema to the latest migration.

SQLite (the embedded default) runs in WAL mode: readers never wait for the writer, and a commit is in the
write-ahead log before it returns, so a killed process (`kill -9`) loses nothing that was committed.
`synchronous=NORMAL` skips the fsync per commit, which only a power loss or an OS crash could punish
(SQLite's documented WAL trade-off); PostgreSQL keeps its own durability settings.
"""

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: replicas starting together migrate one at a time.
_MIGRATION_LOCK = 0x0A7AD715
# Seconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_SECONDS = 30


class DatabaseError(RuntimeError):
    """The database named by OPTADVISOR_DATABASE_URL cannot be used; the message says why."""


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str, pool_size: int = 8) -> Engine:
    """An engine for `url` (SQLite file or PostgreSQL), configured for concurrent use from threads."""
    try:
        parsed = make_url(url)
    except Exception as error:  # SQLAlchemy raises ArgumentError; the message names the problem.
        raise DatabaseError(f"OPTADVISOR_DATABASE_URL is not a database URL: {error}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise DatabaseError(
                "OPTADVISOR_DATABASE_URL must name a SQLite file (studies must outlive the process)"
            )
        folder = Path(database).resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise DatabaseError(f"the SQLite database's folder {folder} does not exist or is not writable")
        engine = create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseError("OPTADVISOR_DATABASE_URL must be sqlite:///<file> or postgresql+psycopg://...")
    return create_engine(parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (each replica may call it; they take turns on PostgreSQL)."""
    config = alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
