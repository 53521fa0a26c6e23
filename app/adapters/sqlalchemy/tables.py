"""The schema as SQLAlchemy Core tables, private to the adapter: the domain never sees them.

The migrations build the same schema (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
    false,
)

from app.domain.replies import MAX_PROVIDER_MESSAGE_ID, MAX_SENDER

metadata = MetaData(naming_convention={
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})


class UtcTimestamp(TypeDecorator[datetime]):
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


def _id() -> Column[object]:
    return Column("id", Uuid, primary_key=True)


def _at(name: str, *, nullable: bool = False, index: bool = False,
        primary_key: bool = False) -> Column[datetime]:
    return Column(name, UtcTimestamp, nullable=nullable, index=index, primary_key=primary_key)


users = Table(
    "users", metadata,
    _id(),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("phone_number", String(16), unique=True),
    Column("password_hash", String(255)),
    Column("email_verified", Boolean, nullable=False, server_default=false()),
    _at("created_at"),
    # A number the user typed and has not proven yet, and the digest of the code sent to it.
    Column("pending_phone_number", String(16)),
    Column("pending_code_digest", String(64)),
    _at("pending_code_sent_at", nullable=True),
    Column("pending_code_wrong_tries", SmallInteger, nullable=False, server_default="0"),
    # Moved on when the user logs out of the browser: sessions carrying an older one end.
    Column("session_version", Integer, nullable=False, server_default="0"),
    CheckConstraint("role IN ('admin', 'user')", name="role"),
    Index(None, "created_at", "id"),
)

identities = Table(
    "identities", metadata,
    Column("provider", String(50), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
)

customers = Table(
    "customers", metadata,
    _id(),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False, unique=True),
    Column("code", CHAR(8), nullable=False, unique=True),
    _at("created_at"),
    Index(None, "created_at", "id"),
)

orders = Table(
    "orders", metadata,
    _id(),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    # Copied from the customer (codes never change) so order lists need no join.
    Column("customer_code", CHAR(8), nullable=False),
    Column("item", String(200), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("status", String(16), nullable=False),
    _at("created_at"),
    _at("confirmed_at", nullable=True),
    CheckConstraint("status IN ('pending', 'confirmed')", name="status"),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index(None, "created_at", "id"),
    Index(None, "customer_id", "created_at", "id"),
    Index(None, "status", "created_at", "id"),
)

sms_outbox = Table(
    "sms_outbox", metadata,
    _id(),
    Column("order_id", Uuid, ForeignKey("orders.id"), index=True),
    Column("kind", String(32), nullable=False),
    Column("recipient", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    _at("next_attempt_at", nullable=True),
    Column("last_error", Text),
    Column("provider_message_id", String(MAX_PROVIDER_MESSAGE_ID), index=True),
    _at("sent_at", nullable=True),
    _at("created_at"),
    CheckConstraint("status IN ('queued', 'sent', 'delivered', 'failed')", name="status"),
    Index(None, "status", "next_attempt_at"),
)

incoming_sms = Table(
    "incoming_sms", metadata,
    _id(),
    Column("provider_message_id", String(MAX_PROVIDER_MESSAGE_ID), nullable=False, unique=True),
    Column("sender", String(MAX_SENDER), nullable=False),
    Column("text", Text, nullable=False),
    _at("received_at"),
    Column("outcome", String(32), nullable=False),
    Column("order_id", Uuid, ForeignKey("orders.id"), index=True),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("owner", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("order_id", Uuid, ForeignKey("orders.id"), nullable=False),
    Column("notification_id", Uuid, ForeignKey("sms_outbox.id"), nullable=False),
    _at("created_at", index=True),
)

revoked_tokens = Table(
    "revoked_tokens", metadata,
    Column("jti", String(255), primary_key=True),
    _at("expires_at", index=True),
)

# One shard of an exact row count (see row_counts.py).
row_counts = Table(
    "row_counts", metadata,
    Column("name", String(64), primary_key=True),
    Column("shard", SmallInteger, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# How many times one thing (``key``) was done in one window of time, for the limits.
usage_counts = Table(
    "usage_counts", metadata,
    Column("key", String(100), primary_key=True),
    _at("window_start", primary_key=True),
    Column("used", Integer, nullable=False),
)
