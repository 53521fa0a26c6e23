"""Exact row counts in O(1): sharded counters changed in the same transactions as the rows.

A count is the sum of the ``SHARDS`` rows of one name in ``row_counts``. A unit of work
gathers its changes and writes them in one upsert just before it commits, all to one shard
picked at random, names in order: concurrent writers seldom wait for one another, hold the
counter rows only while they commit, and always lock them in the same order, so they cannot
deadlock on them. A unit of work that rolls back changes no count.
"""

from __future__ import annotations

import secrets
from collections import Counter
from uuid import UUID

from sqlalchemy import BigInteger, BindParameter, ScalarSelect, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.adapters.sqlalchemy.orm import RowCountRow

SHARDS = 16
USERS = "users"
CUSTOMERS = "customers"
ORDERS = "orders"

# Rebuilds every count from the rows, in shard 0: for rows loaded without the repositories.
RECOUNT = (
    "DELETE FROM row_counts",
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


def orders_with_status(status: str) -> str:
    return f"{ORDERS}:{status}"


def orders_of(customer_id: UUID, status: str | None = None) -> str:
    """One customer's orders, or those of theirs with ``status``."""
    name = f"{ORDERS}:customer:{customer_id.hex}"
    return f"{name}:{status}" if status else name


def total(name: str | BindParameter[str]) -> ScalarSelect[int]:
    """The count called ``name`` (or named by a bound parameter), as a scalar subquery that
    can ride in another statement."""
    # PostgreSQL sums bigints into numerics: the cast brings back an int.
    return (
        select(cast(func.coalesce(func.sum(RowCountRow.value), 0), BigInteger))
        .where(RowCountRow.name == name)
        .scalar_subquery()
    )


class RowCounts:
    """The count changes of one unit of work, not yet written."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._changes: Counter[str] = Counter()

    def change(self, name: str, by: int) -> None:
        self._changes[name] += by

    def discard(self) -> None:
        self._changes.clear()

    def write(self) -> None:
        changes = sorted((name, by) for name, by in self._changes.items() if by)
        self._changes.clear()
        if not changes:
            return
        shard = secrets.randbelow(SHARDS)
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        upsert = insert(RowCountRow).values(
            [{"name": name, "shard": shard, "value": by} for name, by in changes]
        )
        self._session.execute(upsert.on_conflict_do_update(
            index_elements=[RowCountRow.name, RowCountRow.shard],
            set_={"value": RowCountRow.value + upsert.excluded.value},
        ))
