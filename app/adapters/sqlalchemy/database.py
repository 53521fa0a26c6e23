"""Engines and sessions, tuned for each database the service runs on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 15_000
POOL_TIMEOUT_SECONDS = 10


def create_engine_for(url: str, *, pool_size: int) -> Engine:
    """An engine for ``url``; a database that cannot be reached fails within seconds."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size=pool_size)
    return create_engine(
        url,
        pool_size=pool_size,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
    )


def _sqlite_engine(url: str, *, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        connect_args={"check_same_thread": False, "timeout": CONNECT_TIMEOUT_SECONDS},
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked on every connection; WAL lets readers and
    # the one writer work side by side (web processes and the SMS worker).
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Use cases read what they wrote after commit() in the same unit of work.
    return sessionmaker(bind=engine, expire_on_commit=False)


def database_answers(engine: Engine) -> bool:
    """Whether the database answers a trivial query right now (for readiness probes)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
