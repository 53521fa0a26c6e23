"""Remember whether a user's email address was verified, so only such addresses are linked.

Existing administrators registered with the admin API key, whose holder vouches for them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("email_verified", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute("UPDATE users SET email_verified = TRUE WHERE role = 'admin'")


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_column("email_verified")
