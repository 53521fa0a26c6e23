"""Engines, tuned for each database the service runs on, and the readiness check."""

from __future__ import annotations

import threading
import time
import weakref
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 15_000
POOL_TIMEOUT_SECONDS = 10
IDLE_BEFORE_PING_SECONDS = 5.0
READINESS_DEADLINE_SECONDS = 2.0

# A network that drops packets without closing the connection looks to libpq like a slow
# query, and the statement timeout, enforced by a server that never hears the query, cannot
# end the wait: only TCP tells the two apart. A healthy server's kernel acknowledges our data
# and our keepalive probes at once however long the query runs, so neither limit cuts a slow
# query; they end a connection only when nothing at all came back for 3 s.
SILENT_NETWORK_LIMITS = {
    # Data sent (a query, a probe) and still unacknowledged after this long ends the
    # connection (Linux; elsewhere libpq ignores it and the keepalives below apply).
    "tcp_user_timeout": 3000,
    # Waiting for an answer sends nothing: probe after 1 s of silence, give up when 2 more
    # seconds bring no acknowledgement.
    "keepalives": 1,
    "keepalives_idle": 1,
    "keepalives_interval": 1,
    "keepalives_count": 2,
}


APPLICATION_NAME = "customer-order-service"


def create_engine_for(url: str, *, pool_size: int,
                      application_name: str = APPLICATION_NAME) -> Engine:
    """An engine for ``url``; a database that cannot be reached fails within seconds.

    On PostgreSQL its connections carry ``application_name``, which names them in
    ``pg_stat_activity`` for operators (and lets tests pick out their own).
    """
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size=pool_size)
    engine = create_engine(
        url,
        pool_size=pool_size,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        hide_parameters=True,  # a failed statement's values (numbers, texts) stay out of logs
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": application_name,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            **SILENT_NETWORK_LIMITS,
        },
    )
    _ping_connections_left_idle(engine)
    return engine


def _ping_connections_left_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle for a while.

    ``pool_pre_ping`` would cost a round trip on every checkout, a good part of a short
    request. A connection busy moments ago is almost surely alive; if it is not, the error
    marks the whole pool stale, so one request answers 503 and the next ones reconnect.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def remember_when(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another (a fresh one if needed).
            raise DisconnectionError() from error


def _sqlite_engine(url: str, *, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        hide_parameters=True,
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


_readiness_lock = threading.Lock()
# Per engine: when its latest readiness check started, and the answer it gives.
_readiness_checks: weakref.WeakKeyDictionary[Engine, tuple[float, Future[bool]]] = (
    weakref.WeakKeyDictionary())


def database_answers(engine: Engine, *, deadline: float = READINESS_DEADLINE_SECONDS) -> bool:
    """Whether the database answers a trivial query within ``deadline`` seconds (for
    readiness probes).

    The query runs in a thread of its own so that the probe can stop waiting: on a stalled
    network nothing else ends the wait before TCP gives up. A probe joins a check started
    less than ``deadline`` ago rather than start another, so a stall adds at most one waiting
    thread (and connection) per ``deadline``, each ended by the connection's own limits.
    """
    now = time.monotonic()
    with _readiness_lock:
        started, check = _readiness_checks.get(engine, (now, None))
        if check is None or check.done() or now - started >= deadline:
            started, check = now, Future()
            _readiness_checks[engine] = (started, check)
            threading.Thread(target=_check_database, args=(engine, check),
                             name="readiness-check", daemon=True).start()
    try:
        return check.result(timeout=deadline - (now - started))
    except TimeoutError:
        return False


def _check_database(engine: Engine, check: Future[bool]) -> None:
    answered = False
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        answered = True
    except SQLAlchemyError:
        pass
    finally:
        check.set_result(answered)
