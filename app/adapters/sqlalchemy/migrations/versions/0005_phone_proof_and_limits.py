"""Numbers typed in the browser wait to be proven with a code; counts of use for the limits.

Numbers already stored stay as they are: they were given before numbers were proven, and
orders of existing customers keep being announced to them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("pending_phone_number", sa.String(16), nullable=True))
        users.add_column(sa.Column("pending_code_digest", sa.String(64), nullable=True))
        users.add_column(sa.Column("pending_code_sent_at", sa.DateTime(timezone=True),
                                   nullable=True))
        users.add_column(sa.Column("pending_code_wrong_tries", sa.SmallInteger(),
                                   nullable=False, server_default="0"))
    op.create_table(
        "usage_counts",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name="pk_usage_counts"),
    )


def downgrade() -> None:
    op.drop_table("usage_counts")
    with op.batch_alter_table("users") as users:
        for column in ("pending_code_wrong_tries", "pending_code_sent_at",
                       "pending_code_digest", "pending_phone_number"):
            users.drop_column(column)
