"""Pooled connections the server dropped: found out before use when idle, else once."""

import pytest
from sqlalchemy import text

from app.adapters.sqlalchemy import database
from app.adapters.sqlalchemy.database import create_engine_for
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.services.errors import StorageUnavailable

pytestmark = pytest.mark.postgres_only


def pooled_unit_of_work(database_url):
    engine = create_engine_for(database_url, pool_size=1)
    return engine, lambda: SqlAlchemyUnitOfWork(engine)


def server_drops_pooled_connection(engine, other_engine):
    with engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    with other_engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()


def test_an_idle_connection_the_server_dropped_is_replaced_unnoticed(
        database_url, engine, monkeypatch):
    pool_engine, uow = pooled_unit_of_work(database_url)
    server_drops_pooled_connection(pool_engine, engine)
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_SECONDS", 0.0)

    with uow() as work:
        assert work.revoked_tokens.contains("any") is False

    pool_engine.dispose()


def test_a_busy_connection_the_server_dropped_fails_one_request_then_the_pool_reconnects(
        database_url, engine, monkeypatch):
    pool_engine, uow = pooled_unit_of_work(database_url)
    server_drops_pooled_connection(pool_engine, engine)
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_SECONDS", 3600.0)

    with pytest.raises(StorageUnavailable), uow() as work:
        work.revoked_tokens.contains("any")
    with uow() as work:
        assert work.revoked_tokens.contains("any") is False

    pool_engine.dispose()
