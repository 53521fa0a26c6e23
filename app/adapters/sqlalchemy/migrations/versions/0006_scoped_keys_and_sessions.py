"""Idempotency keys belong to whoever sent them and are forgotten after a day; browser
sessions carry a version that logging out moves on.

Keys stored before this belong to nobody (an empty owner): no caller can replay them, and
the cleanup removes them within a day.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as keys:
        keys.add_column(sa.Column("owner", sa.String(64), nullable=False, server_default=""))
        keys.drop_constraint("pk_idempotency_keys", type_="primary")
        keys.create_primary_key("pk_idempotency_keys", ["owner", "key"])
        keys.create_index("ix_idempotency_keys_created_at", ["created_at"])
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("session_version", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_column("session_version")
    op.execute("DELETE FROM idempotency_keys WHERE owner <> ''")
    with op.batch_alter_table("idempotency_keys") as keys:
        keys.drop_index("ix_idempotency_keys_created_at")
        keys.drop_constraint("pk_idempotency_keys", type_="primary")
        keys.create_primary_key("pk_idempotency_keys", ["key"])
        keys.drop_column("owner")
