"""One database transaction per ``with`` block, speaking the service's errors, not SQLAlchemy's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Self

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from app.adapters.sqlalchemy.orm import Base
from app.adapters.sqlalchemy.pending_writes import PendingWrites
from app.adapters.sqlalchemy.repositories import (
    SqlAlchemyCustomerRepository,
    SqlAlchemyIdempotencyKeys,
    SqlAlchemyIncomingMessages,
    SqlAlchemyOrderRepository,
    SqlAlchemyRevokedTokens,
    SqlAlchemySmsOutbox,
    SqlAlchemyUsageCounters,
    SqlAlchemyUserRepository,
)
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
    """A session per ``with`` block; leaving the block rolls back whatever was not committed."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None
        self._writes: PendingWrites | None = None

    def __enter__(self) -> Self:
        session = self._session_factory()
        self._session = session
        self._writes = writes = PendingWrites(session)
        self.users = SqlAlchemyUserRepository(session, writes)
        self.customers = SqlAlchemyCustomerRepository(session, writes, self.users)
        self.orders = SqlAlchemyOrderRepository(session, writes)
        self.outbox = SqlAlchemySmsOutbox(session, writes)
        self.incoming_messages = SqlAlchemyIncomingMessages(session)
        self.idempotency_keys = SqlAlchemyIdempotencyKeys(session, writes)
        self.revoked_tokens = SqlAlchemyRevokedTokens(session)
        self.usage = SqlAlchemyUsageCounters(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session, self._writes = self._active(), None, None
        try:
            session.close()  # rolls back whatever was not committed
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
        session, writes = self._active(), self._active_writes()
        with _translated_errors(session):
            writes.write()
            session.commit()

    def rollback(self) -> None:
        session, writes = self._active(), self._active_writes()
        writes.discard()
        with _translated_errors(session):
            session.rollback()

    def _active(self) -> Session:
        if self._session is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._session

    def _active_writes(self) -> PendingWrites:
        if self._writes is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._writes


@contextmanager
def _translated_errors(session: Session) -> Iterator[None]:
    """Turn database errors the use cases can act on into the service's exceptions."""
    try:
        yield
    except SQLAlchemyError as error:
        with suppress(SQLAlchemyError):
            session.rollback()
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
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
    }


_COLUMNS_BY_CONSTRAINT = _columns_by_constraint()
