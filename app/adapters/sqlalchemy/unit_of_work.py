"""One database transaction per ``with`` block, speaking the service's errors, not SQLAlchemy's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.customers import SqlAlchemyCustomerRepository
from app.adapters.sqlalchemy.idempotency import SqlAlchemyIdempotencyKeys
from app.adapters.sqlalchemy.orders import SqlAlchemyOrderRepository
from app.adapters.sqlalchemy.outbox import SqlAlchemyIncomingMessages, SqlAlchemySmsOutbox
from app.adapters.sqlalchemy.tables import metadata
from app.adapters.sqlalchemy.tokens import SqlAlchemyRevokedTokens
from app.adapters.sqlalchemy.usage import SqlAlchemyUsageCounters
from app.adapters.sqlalchemy.users import SqlAlchemyUserRepository
from app.services import ports
from app.services.errors import StorageUnavailable, UniqueViolation

# The name ``UniqueViolation.what`` gives each unique value, by the columns that hold it.
_UNIQUE_VALUES: dict[tuple[str, ...], str] = {
    ("users.email",): "email",
    ("users.phone_number",): "phone_number",
    ("customers.user_id",): "customer_user",
    ("customers.code",): "customer_code",
    ("idempotency_keys.owner", "idempotency_keys.key"): "idempotency_key",
    ("revoked_tokens.jti",): "revoked_token",
    ("incoming_sms.provider_message_id",): "incoming_message",
}
_POSTGRES_UNIQUE_VIOLATION = "23505"
_SQLITE_UNIQUE_VIOLATION = "UNIQUE constraint failed: "


class SharedConnections:
    """Lets the units of work of one request share one pooled connection.

    A request checks its token and runs its use case: two units of work, which on their own
    would each check a connection out of the pool and back. Between ``open()`` and
    ``close()`` (the request, on one thread) they share one, checked out when first needed.
    It autocommits, so a unit of work that only reads runs each statement without BEGIN and
    ROLLBACK; one that writes turns transactions on for its block.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = _autocommitting(engine)
        self._scopes = threading.local()

    def open(self) -> None:
        self._scopes.connection = None
        self._scopes.open = True

    def close(self) -> None:
        connection, self._scopes.connection = getattr(self._scopes, "connection", None), None
        self._scopes.open = False
        if connection is not None:
            with suppress(SQLAlchemyError):
                connection.close()

    def connection(self) -> Connection | None:
        """The request's connection, or None outside a request."""
        if not getattr(self._scopes, "open", False):
            return None
        connection: Connection | None = self._scopes.connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._scopes.connection = self._engine.connect()
        return connection


class SqlAlchemyUnitOfWork(ports.UnitOfWork):
    """A transaction per ``with`` block; leaving the block rolls back whatever was not
    committed.

    ``read_only`` units of work run each statement on its own, spared BEGIN and ROLLBACK.
    Inside a request the block runs on the request's shared connection; elsewhere (the SMS
    worker, commands, tests) on a connection of its own.
    """

    def __init__(self, engine: Engine, *, read_only: bool = False,
                 shared: SharedConnections | None = None) -> None:
        self._engine = engine
        self._read_only = read_only
        self._shared = shared
        self._own_connection = True
        self._batch: Batch | None = None

    def __enter__(self) -> Self:
        try:
            connection = self._connect()
        except SQLAlchemyError as error:
            raise (_translate(error) or error) from error
        self._batch = batch = Batch(connection)
        self.users = SqlAlchemyUserRepository(batch)
        self.customers = SqlAlchemyCustomerRepository(batch, self.users)
        self.orders = SqlAlchemyOrderRepository(batch)
        self.outbox = SqlAlchemySmsOutbox(batch)
        self.incoming_messages = SqlAlchemyIncomingMessages(batch)
        self.idempotency_keys = SqlAlchemyIdempotencyKeys(batch)
        self.revoked_tokens = SqlAlchemyRevokedTokens(batch)
        self.usage = SqlAlchemyUsageCounters(batch)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        batch, self._batch = self._active(), None
        batch.discard()
        try:
            self._disconnect(batch.connection)  # rolls back whatever was not committed
        except SQLAlchemyError as error:
            # The connection died after the work was done: the server has dropped whatever
            # was not committed, so what was read or committed stands.
            if not isinstance(_translate(error), StorageUnavailable):
                raise
        if isinstance(exc, SQLAlchemyError):
            translated = _translate(exc)
            if translated is not None:
                raise translated from exc

    def commit(self) -> None:
        batch = self._active()
        with _translated_errors(batch.connection):
            batch.write()
            batch.connection.commit()

    def rollback(self) -> None:
        batch = self._active()
        batch.discard()
        with _translated_errors(batch.connection):
            batch.connection.rollback()

    def _connect(self) -> Connection:
        shared = self._shared.connection() if self._shared else None
        self._own_connection = shared is None
        if shared is None:
            return (_autocommitting(self._engine) if self._read_only else self._engine).connect()
        if not self._read_only:
            shared.execution_options(isolation_level=self._engine.dialect.default_isolation_level)
        return shared

    def _disconnect(self, connection: Connection) -> None:
        if self._own_connection:
            connection.close()
            return
        if connection.in_transaction():
            connection.rollback()
        if not self._read_only and not connection.invalidated:
            connection.execution_options(isolation_level="AUTOCOMMIT")

    def _active(self) -> Batch:
        if self._batch is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._batch


@cache
def _autocommitting(engine: Engine) -> Engine:
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def _translated_errors(connection: Connection) -> Iterator[None]:
    """Turn database errors the use cases can act on into the service's exceptions."""
    try:
        yield
    except SQLAlchemyError as error:
        with suppress(SQLAlchemyError):
            connection.rollback()
        translated = _translate(error)
        if translated is None:
            raise
        raise translated from error


def _translate(error: SQLAlchemyError) -> Exception | None:
    if isinstance(error, IntegrityError):
        what = _unique_value(error)
        return UniqueViolation(what) if what else None
    unreachable = isinstance(error, OperationalError | InterfaceError | PoolTimeout) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )
    return StorageUnavailable("the database cannot be reached") if unreachable else None


def _unique_value(error: IntegrityError) -> str | None:
    """Which unique value a write collided on, or None when another rule was broken."""
    cause = error.orig
    if getattr(cause, "sqlstate", None) == _POSTGRES_UNIQUE_VIOLATION:
        constraint = cause.diag.constraint_name  # type: ignore[union-attr]
        return _UNIQUE_VALUES.get(_COLUMNS_BY_CONSTRAINT.get(constraint, ()), "unknown")
    message = str(cause)
    if message.startswith(_SQLITE_UNIQUE_VIOLATION):
        columns = tuple(message.removeprefix(_SQLITE_UNIQUE_VIOLATION).split(", "))
        return _UNIQUE_VALUES.get(columns, "unknown")
    return None


def _columns_by_constraint() -> dict[str, tuple[str, ...]]:
    return {
        str(constraint.name): tuple(f"{table.name}.{column.name}" for column in constraint.columns)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
    }


_COLUMNS_BY_CONSTRAINT = _columns_by_constraint()
