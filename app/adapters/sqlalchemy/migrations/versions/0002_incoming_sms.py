"""Incoming SMS: customers' replies to order messages, and what was done about each.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incoming_sms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_message_id", sa.String(100), nullable=False),
        sa.Column("sender", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incoming_sms"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name="fk_incoming_sms_order_id_orders"),
        sa.UniqueConstraint("provider_message_id", name="uq_incoming_sms_provider_message_id"),
    )
    op.create_index("ix_incoming_sms_order_id", "incoming_sms", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_incoming_sms_order_id", table_name="incoming_sms")
    op.drop_table("incoming_sms")
