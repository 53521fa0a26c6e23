"""Counts of use in windows of time, for the limits (services/limits.py)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite

from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.tables import usage_counts
from app.services import ports


class SqlAlchemyUsageCounters(ports.UsageCounters):
    def __init__(self, batch: Batch) -> None:
        self._batch = batch

    def take(self, key: str, window_start: datetime, *, limit: int) -> bool:
        if limit < 1:
            return False
        taken = self._batch.run_apart(_take(self._batch.dialect), {
            "key": key, "window_start": window_start, "limit": limit}).first()
        return taken is not None


@cache
def _take(dialect: str) -> Any:
    """One more use, unless the limit was reached: in one statement, so that of two
    transactions taking the last use at once the second waits for the first's row lock and
    then finds no room."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(usage_counts).values(key=bindparam("key"),
                                            window_start=bindparam("window_start"), used=1)
    return statement.on_conflict_do_update(
        index_elements=[usage_counts.c.key, usage_counts.c.window_start],
        set_={"used": usage_counts.c.used + 1},
        where=usage_counts.c.used < bindparam("limit"),
    ).returning(usage_counts.c.used)
