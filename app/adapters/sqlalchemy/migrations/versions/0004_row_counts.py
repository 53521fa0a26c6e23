"""Exact row counts kept alongside the rows, so a list's total costs the same at any size.

Seeded from the rows already present: shard 0 of each count holds it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each count in shard 0, named as the adapter's row_counts module names them.
SEEDS = (
    "INSERT INTO row_counts (name, shard, value) SELECT 'users', 0, count(*) FROM users",
    "INSERT INTO row_counts (name, shard, value) SELECT 'customers', 0, count(*) FROM customers",
    "INSERT INTO row_counts (name, shard, value) SELECT 'orders', 0, count(*) FROM orders",
    "INSERT INTO row_counts (name, shard, value) "
    "SELECT 'orders:' || status, 0, count(*) FROM orders GROUP BY status",
    "INSERT INTO row_counts (name, shard, value) "
    "SELECT 'orders:customer:' || replace(CAST(customer_id AS TEXT), '-', ''), 0, count(*) "
    "FROM orders GROUP BY customer_id",
    "INSERT INTO row_counts (name, shard, value) "
    "SELECT 'orders:customer:' || replace(CAST(customer_id AS TEXT), '-', '') || ':' || status, "
    "0, count(*) FROM orders GROUP BY customer_id, status",
)


def upgrade() -> None:
    op.create_table(
        "row_counts",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "shard", name="pk_row_counts"),
    )
    for seed in SEEDS:
        op.execute(seed)


def downgrade() -> None:
    op.drop_table("row_counts")
