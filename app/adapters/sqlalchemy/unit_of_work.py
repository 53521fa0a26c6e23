"""One database transaction per ``with`` block, speaking the service's errors, not SQLAlchemy's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


class SqlAlchemyUnitOfWork(ports.UnitOfWork):
    """A connection per ``with`` block; leaving the block rolls back whatever was not committed.

    Given an engine whose connections autocommit, each statement is its own transaction:
    for use cases that only read, which are spared BEGIN and ROLLBACK.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._batch: Batch | None = None

    def __enter__(self) -> Self:
        try:
            connection = self._engine.connect()
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
            batch.connection.close()  # rolls back whatever was not committed
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

    def _active(self) -> Batch:
        if self._batch is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._batch


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
