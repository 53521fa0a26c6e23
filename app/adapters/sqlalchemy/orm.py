"""Tables as typed declarative models, private to the adapter: the domain never sees them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    Uuid,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.domain.replies import MAX_PROVIDER_MESSAGE_ID, MAX_SENDER

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC and loaded back aware in UTC, on every database.

    SQLite keeps no time zone, so values go in as naive UTC and get UTC re-attached on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: store aware ones")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parent() -> Any:
    """A many-to-one link that is never loaded (repositories set the foreign key columns).

    It exists because the ORM orders the INSERTs of one flush by relationships, not by
    foreign keys: without it an order could be inserted before its customer.
    """
    return relationship(lazy="raise")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime, UUID: Uuid}


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'user')", name="role"),
        Index(None, "created_at", "id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    phone_number: Mapped[str | None] = mapped_column(String(16), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    email_verified: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime]
    # A number the user typed and has not proven yet, and the digest of the code sent to it.
    pending_phone_number: Mapped[str | None] = mapped_column(String(16))
    pending_code_digest: Mapped[str | None] = mapped_column(String(64))
    pending_code_sent_at: Mapped[datetime | None]
    pending_code_wrong_tries: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    # Moved on when the user logs out of the browser: sessions carrying an older one end.
    session_version: Mapped[int] = mapped_column(server_default="0")

    identities: Mapped[list[IdentityRow]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by=lambda: (IdentityRow.provider, IdentityRow.subject),
    )


class IdentityRow(Base):
    __tablename__ = "identities"

    provider: Mapped[str] = mapped_column(String(50), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), index=True)


class CustomerRow(Base):
    __tablename__ = "customers"
    __table_args__ = (Index(None, "created_at", "id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    code: Mapped[str] = mapped_column(CHAR(8), unique=True)
    created_at: Mapped[datetime]

    user: Mapped[UserRow] = _parent()


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(None, "created_at", "id"),
        Index(None, "customer_id", "created_at", "id"),
        Index(None, "status", "created_at", "id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(ForeignKey("customers.id"))
    # Copied from the customer (codes never change) so order lists need no join.
    customer_code: Mapped[str] = mapped_column(CHAR(8))
    item: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(CHAR(3))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]

    customer: Mapped[CustomerRow] = _parent()


class SmsRow(Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sent', 'delivered', 'failed')", name="status"
        ),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    order_id: Mapped[UUID | None] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(MAX_PROVIDER_MESSAGE_ID),
                                                            index=True)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    order: Mapped[OrderRow | None] = _parent()


class IdempotencyKeyRow(Base):
    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[UUID] = mapped_column(ForeignKey("orders.id"))
    notification_id: Mapped[UUID] = mapped_column(ForeignKey("sms_outbox.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)

    order: Mapped[OrderRow] = _parent()
    notification: Mapped[SmsRow] = _parent()


class IncomingSmsRow(Base):
    __tablename__ = "incoming_sms"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    provider_message_id: Mapped[str] = mapped_column(String(MAX_PROVIDER_MESSAGE_ID),
                                                     unique=True)
    sender: Mapped[str] = mapped_column(String(MAX_SENDER))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[UUID | None] = mapped_column(ForeignKey("orders.id"), index=True)

    order: Mapped[OrderRow | None] = _parent()


class RevokedTokenRow(Base):
    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RowCountRow(Base):
    """One shard of an exact row count, kept by the repositories in the writes' transactions.

    A count is the sum of its shards: each write adds to one shard, so concurrent writers
    rarely wait for the same row, and a list's total costs a few rows instead of a scan.
    """

    __tablename__ = "row_counts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class UsageCountRow(Base):
    """How many times one thing (``key``) was done in one window of time, for the limits."""

    __tablename__ = "usage_counts"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    used: Mapped[int]
