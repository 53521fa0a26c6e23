"""New orders, their SMS and idempotency keys, and row count changes, held back and written
together in as few statements as the database allows.

Placing an order inserts three rows and changes four counts. Through the ORM that is three
INSERTs and an upsert, each a round trip. These rows are only ever inserted by the unit of
work that adds them, so they skip the ORM: they wait here with the count changes and go to
the database in one statement on PostgreSQL (each INSERT a WITH clause of the count upsert;
data-modifying WITH clauses all run, and foreign keys are checked when the statement ends).
Many rows at once, and SQLite, which has no data-modifying WITH, take one executemany per
table instead.

They are written, in the order they were added, before anything reads (the ORM's queries
and the repositories' own statements) and before commit. The ORM's own pending rows are
flushed first, so a held-back row may refer to an ORM row added before it, never the
reverse: that is why every table whose rows refer to held-back ones is held back too.
"""

from __future__ import annotations

import secrets
from collections import Counter
from functools import cache
from itertools import groupby
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Insert,
    SmallInteger,
    String,
    bindparam,
    event,
    insert,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from app.adapters.sqlalchemy.orm import Base, RowCountRow
from app.adapters.sqlalchemy.row_counts import SHARDS

_SESSION_KEY = "pending_writes"


class PendingWrites:
    """The rows and count changes of one unit of work, not yet written."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._inserts: list[tuple[type[Base], dict[str, Any]]] = []
        self._counts: Counter[str] = Counter()
        session.info[_SESSION_KEY] = self

    def insert(self, row_type: type[Base], values: dict[str, Any]) -> None:
        """Insert a row into ``row_type``'s table; ``values`` names every column."""
        self._inserts.append((row_type, values))

    def count(self, name: str, by: int) -> None:
        self._counts[name] += by

    def discard(self) -> None:
        self._inserts.clear()
        self._counts.clear()

    def write(self) -> None:
        """Write what was held back, after whatever the ORM holds back."""
        inserts, self._inserts = self._inserts, []
        counts = sorted((name, by) for name, by in self._counts.items() if by)
        self._counts.clear()
        if not inserts and not counts:
            return
        self._session.flush()
        connection = self._session.connection()
        # All changes go to one shard picked at random, names in order: concurrent writers
        # seldom wait for one another and cannot deadlock on the counters.
        shard = secrets.randbelow(SHARDS)
        dialect = connection.dialect.name
        if dialect == "postgresql" and len(inserts) <= _ONE_STATEMENT_INSERTS \
                and len(counts) <= _ONE_STATEMENT_COUNTS:
            params: dict[str, Any] = {"shard": shard}
            for number, (_, values) in enumerate(inserts):
                params.update({f"i{number}_{column}": value for column, value in values.items()})
            for number, (name, by) in enumerate(counts):
                params.update({f"c{number}_name": name, f"c{number}_by": by})
            tables = tuple(table for table, _ in inserts)
            connection.execute(_one_statement(tables, len(counts)), params)
            return
        # Many rows (or SQLite): one executemany per run of rows into the same table.
        for row_type, run in groupby(inserts, key=lambda insert: insert[0]):
            connection.execute(insert(row_type), [values for _, values in run])
        if counts:
            connection.execute(_count_upsert(dialect, 1), [
                {"c0_name": name, "c0_by": by, "shard": shard} for name, by in counts])


# The most rows and counts written in one statement: enough for any one order's writes,
# few enough that the statements' shapes, each compiled once, stay few.
_ONE_STATEMENT_INSERTS = 3
_ONE_STATEMENT_COUNTS = 6


def write_before_orm_queries(sessions: sessionmaker[Session]) -> None:
    """Make the ORM's queries in these sessions see the rows held back so far."""

    def write_pending(state: ORMExecuteState) -> None:
        pending = state.session.info.get(_SESSION_KEY)
        if pending is not None:
            pending.write()

    event.listen(sessions, "do_orm_execute", write_pending)


@cache
def _one_statement(tables: tuple[type[Base], ...], counts: int) -> Executable:
    """Rows into ``tables`` and ``counts`` count changes in one PostgreSQL statement, with
    bound parameters named as ``PendingWrites.write`` names them."""
    writes = [_insert(table, number) for number, table in enumerate(tables)]
    if counts:
        writes.append(_count_upsert("postgresql", counts))
    *first, last = writes
    return last.add_cte(*(each.cte(f"write_{n}") for n, each in enumerate(first)))


def _insert(row_type: type[Base], number: int) -> Insert:
    return insert(row_type).values({column.name: bindparam(f"i{number}_{column.name}")
                                    for column in row_type.__table__.columns})


def _count_upsert(dialect: str, counts: int) -> Insert:
    # INSERT ... SELECT, not a multi-row VALUES, which SQLAlchemy would compile again for
    # every statement. SQLite needs the WHERE to tell the SELECT from the ON CONFLICT.
    changes = union_all(*(
        select(bindparam(f"c{n}_name", type_=String), bindparam("shard", type_=SmallInteger),
               bindparam(f"c{n}_by", type_=BigInteger)).where(true())
        for n in range(counts)))
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = dialect_insert(RowCountRow).from_select(["name", "shard", "value"], changes)
    return upsert.on_conflict_do_update(
        index_elements=[RowCountRow.name, RowCountRow.shard],
        set_={"value": RowCountRow.value + upsert.excluded.value})
