"""Initial schema: users, customers, orders, the SMS outbox, idempotency keys, revoked tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("phone_number", sa.String(16), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("phone_number", name="uq_users_phone_number"),
        sa.CheckConstraint("role IN ('admin', 'user')", name="ck_users_role"),
    )
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"])

    op.create_table(
        "identities",
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "subject", name="pk_identities"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_identities_user_id_users"),
    )
    op.create_index("ix_identities_user_id", "identities", ["user_id"])

    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.CHAR(8), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("user_id", name="uq_customers_user_id"),
        sa.UniqueConstraint("code", name="uq_customers_code"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_customers_user_id_users"),
    )
    op.create_index("ix_customers_created_at_id", "customers", ["created_at", "id"])

    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("customer_code", sa.CHAR(8), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _time("created_at"),
        _time("confirmed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_orders_customer_id_customers"
        ),
        sa.CheckConstraint("status IN ('pending', 'confirmed')", name="ck_orders_status"),
        sa.CheckConstraint("amount > 0", name="ck_orders_amount_positive"),
    )
    op.create_index("ix_orders_created_at_id", "orders", ["created_at", "id"])
    op.create_index(
        "ix_orders_customer_id_created_at_id", "orders", ["customer_id", "created_at", "id"]
    )
    op.create_index("ix_orders_status_created_at_id", "orders", ["status", "created_at", "id"])

    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(100), nullable=True),
        _time("sent_at", nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_sms_outbox"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_sms_outbox_order_id_orders"),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'delivered', 'failed')", name="ck_sms_outbox_status"
        ),
    )
    op.create_index("ix_sms_outbox_order_id", "sms_outbox", ["order_id"])
    op.create_index("ix_sms_outbox_provider_message_id", "sms_outbox", ["provider_message_id"])
    op.create_index(
        "ix_sms_outbox_status_next_attempt_at", "sms_outbox", ["status", "next_attempt_at"]
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("key", name="pk_idempotency_keys"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_idempotency_keys_order_id_orders"
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["sms_outbox.id"],
            name="fk_idempotency_keys_notification_id_sms_outbox",
        ),
    )

    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(255), nullable=False),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("jti", name="pk_revoked_tokens"),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    for table in (
        "revoked_tokens",
        "idempotency_keys",
        "sms_outbox",
        "orders",
        "customers",
        "identities",
        "users",
    ):
        op.drop_table(table)
