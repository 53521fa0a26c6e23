"""Exact row counts in O(1): sharded counters changed in the same transactions as the rows.

A count is the sum of the ``SHARDS`` rows of one name in ``row_counts``. A unit of work
gathers its changes and writes them in one upsert just before it commits or reads
(batch.py), all to one shard picked at random, names in order: concurrent writers
seldom wait for one another, hold the counter rows only while they commit, and always lock
them in the same order, so they cannot deadlock on them. A unit of work that rolls back
changes no count.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import BigInteger, BindParameter, ScalarSelect, cast, func, select

from app.adapters.sqlalchemy.tables import row_counts

SHARDS = 16
USERS = "users"
CUSTOMERS = "customers"
ORDERS = "orders"

# A customer's counts are named ``orders:customer:<id hex>[:<status>]``.
OF_CUSTOMER = "customer"


def orders_with_status(status: str) -> str:
    return f"{ORDERS}:{status}"


def orders_of(customer_id: UUID, status: str | None = None) -> str:
    """One customer's orders, or those of theirs with ``status``."""
    name = f"{ORDERS}:{OF_CUSTOMER}:{customer_id.hex}"
    return f"{name}:{status}" if status else name


def total(name: str | BindParameter[str]) -> ScalarSelect[int]:
    """The count called ``name`` (or named by a bound parameter), as a scalar subquery that
    can ride in another statement."""
    # PostgreSQL sums bigints into numerics: the cast brings back an int.
    return (
        select(cast(func.coalesce(func.sum(row_counts.c.value), 0), BigInteger))
        .where(row_counts.c.name == name)
        .scalar_subquery()
    )
