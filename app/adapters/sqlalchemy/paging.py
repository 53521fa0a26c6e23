"""A page of rows and its total in one statement, for every list the repositories serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, ScalarSelect, Select, func, select

from app.adapters.sqlalchemy.batch import Batch
from app.services.views import PageRequest


@dataclass(frozen=True)
class PageQuery:
    """The total rides on each row as a scalar subquery (evaluated once), named ``total``.
    Only a page past the end, with no row to carry it, costs a second statement. Both take
    ``limit`` and ``offset`` besides their own parameters."""

    rows: Select[Any]
    total: Select[int]

    @classmethod
    def of(cls, rows: Select[Any], total: ScalarSelect[int]) -> PageQuery:
        return cls(rows.add_columns(total.label("total")), select(total))

    def run(self, batch: Batch, request: PageRequest, **params: Any) -> tuple[list[Any], int]:
        params.update(limit=request.per_page, offset=request.offset)
        rows = batch.run(self.rows, params).all()
        if rows:
            return list(rows), int(rows[0].total)
        return [], (batch.run(self.total, params).scalar() or 0) if request.page > 1 else 0


def rows_counted(table: FromClause, *conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    """A filtered total, counted over the rows it filters (row_counts keeps unfiltered ones)."""
    return (select(func.count()).select_from(table).where(*conditions)
            .correlate(None).scalar_subquery())
