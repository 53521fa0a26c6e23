"""The one way a unit of work's repositories reach the database: its connection, with every
write batched.

Placing an order inserts three rows and changes four counts; each statement a round trip.
So writes (new rows, changed rows, count changes) wait here and go to the database
together, in the order they were made (so a row always follows the rows it refers to),
before the next statement runs and at commit: a write that breaks a unique constraint
fails at commit, where the use cases expect it.

On PostgreSQL a batch of a few new rows is one statement (each INSERT a WITH clause of the
count upsert: data-modifying WITH clauses all run, and foreign keys are checked when the
statement ends); more rows, changed rows, and SQLite, which has no data-modifying WITH, take
one executemany per run of writes to the same table.

Counts change in one shard picked at random, names in order: concurrent writers seldom wait
for one another and cannot deadlock on the counters (see row_counts.py).
"""

from __future__ import annotations

import secrets
from collections import Counter
from functools import cache
from itertools import groupby
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    CursorResult,
    Executable,
    Insert,
    SmallInteger,
    String,
    Table,
    bindparam,
    insert,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.adapters.sqlalchemy import tables
from app.adapters.sqlalchemy.row_counts import SHARDS

# The most rows and counts written in one statement: enough for any one order's writes,
# few enough that the statements' shapes, each compiled once, stay few.
_ONE_STATEMENT_INSERTS = 3
_ONE_STATEMENT_COUNTS = 6


class Batch:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        # New rows (table, values) and changes (a prebuilt statement, its parameters).
        self._writes: list[tuple[Table | Executable, dict[str, Any]]] = []
        self._counts: Counter[str] = Counter()

    def insert(self, table: Table, values: dict[str, Any]) -> None:
        """A new row for ``table``; ``values`` must name every column, so that a column a
        module forgets fails here on every database, not as a NULL on one and an error on
        another."""
        if values.keys() != _columns(table):
            raise ValueError(f"a row for {table.name} names {sorted(values)}, "
                             f"not its columns {sorted(table.columns.keys())}")
        self._writes.append((table, values))

    def change(self, statement: Executable, params: dict[str, Any]) -> None:
        """An UPDATE of rows, run in turn with the inserts."""
        self._writes.append((statement, params))

    def count(self, name: str, by: int) -> None:
        self._counts[name] += by

    def run(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        """Run ``statement`` now, once what waits is written, so that it sees this unit of
        work's own changes."""
        self.write()
        return self.connection.execute(statement, params)

    def run_apart(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        """Run ``statement`` now, leaving what waits to wait: for statements on a table that
        no batched write touches (the usage counters), which need not see those writes."""
        return self.connection.execute(statement, params)

    def write(self) -> None:
        writes, self._writes = self._writes, []
        counts = sorted((name, by) for name, by in self._counts.items() if by)
        self._counts.clear()
        if not writes and not counts:
            return
        shard = secrets.randbelow(SHARDS)
        inserts = [(table, values) for table, values in writes if isinstance(table, Table)]
        if self.dialect == "postgresql" and len(inserts) == len(writes) \
                and len(inserts) <= _ONE_STATEMENT_INSERTS \
                and len(counts) <= _ONE_STATEMENT_COUNTS:
            params: dict[str, Any] = {"shard": shard}
            for number, (_, values) in enumerate(inserts):
                params.update({f"i{number}_{column}": value for column, value in values.items()})
            for number, (name, by) in enumerate(counts):
                params.update({f"c{number}_name": name, f"c{number}_by": by})
            written = tuple(table for table, _ in inserts)
            self.connection.execute(_one_statement(written, len(counts)), params)
            return
        for target, run in groupby(writes, key=lambda each: each[0]):
            rows = [values for _, values in run]
            if isinstance(target, Table):
                self.connection.execute(insert(target), rows)
            else:
                self.connection.execute(target, rows)
        if counts:
            self.connection.execute(_count_upsert(self.dialect, 1), [
                {"c0_name": name, "c0_by": by, "shard": shard} for name, by in counts])

    def discard(self) -> None:
        self._writes.clear()
        self._counts.clear()


@cache
def _columns(table: Table) -> frozenset[str]:
    return frozenset(table.columns.keys())


@cache
def _one_statement(written: tuple[Table, ...], counts: int) -> Executable:
    """Rows into ``written`` tables and ``counts`` count changes in one PostgreSQL statement,
    with bound parameters named as ``Batch.write`` names them."""
    writes = [_insert(table, number) for number, table in enumerate(written)]
    if counts:
        writes.append(_count_upsert("postgresql", counts))
    *first, last = writes
    return last.add_cte(*(each.cte(f"write_{n}") for n, each in enumerate(first)))


def _insert(table: Table, number: int) -> Insert:
    return insert(table).values({column.name: bindparam(f"i{number}_{column.name}")
                                 for column in table.columns})


@cache
def _count_upsert(dialect: str, counts: int) -> Insert:
    # INSERT ... SELECT, not a multi-row VALUES, which SQLAlchemy would compile again for
    # every statement. SQLite needs the WHERE to tell the SELECT from the ON CONFLICT.
    counters = tables.row_counts
    changes = union_all(*(
        select(bindparam(f"c{n}_name", type_=String), bindparam("shard", type_=SmallInteger),
               bindparam(f"c{n}_by", type_=BigInteger)).where(true())
        for n in range(counts)))
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = dialect_insert(counters).from_select(["name", "shard", "value"], changes)
    return upsert.on_conflict_do_update(
        index_elements=[counters.c.name, counters.c.shard],
        set_={"value": counters.c.value + upsert.excluded.value})
