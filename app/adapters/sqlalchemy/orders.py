"""Orders, each read with the state of the SMS that announced it."""

from __future__ import annotations

from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select, update

from app.adapters.sqlalchemy import row_counts
from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.paging import PageQuery
from app.adapters.sqlalchemy.tables import orders, sms_outbox
from app.domain.notifications import NotificationState, SmsKind, SmsStatus
from app.domain.orders import Order, OrderStatus
from app.domain.values import CustomerCode, Money
from app.services import ports
from app.services.views import Page, PageRequest

_COLUMNS = (
    *orders.c,
    sms_outbox.c.status.label("sms_status"),
    sms_outbox.c.attempts.label("sms_attempts"),
    sms_outbox.c.last_error.label("sms_last_error"),
    sms_outbox.c.sent_at.label("sms_sent_at"),
)
_ANNOUNCES = (sms_outbox.c.order_id == orders.c.id) & (
    sms_outbox.c.kind == SmsKind.ORDER_PLACED.value)
_BY_ID = (select(*_COLUMNS).select_from(orders.outerjoin(sms_outbox, _ANNOUNCES))
          .where(orders.c.id == bindparam("order_id")))
# SELECT ... FOR UPDATE OF orders (the outer-joined SMS cannot be locked); SQLite has no row
# locks, SQLAlchemy leaves the clause out, and its one writer at a time serialises changes.
_BY_ID_LOCKED = _BY_ID.with_for_update(of=orders)
_UPDATE = (update(orders).where(orders.c.id == bindparam("new_id"))
           .values({c.name: bindparam(f"new_{c.name}") for c in orders.c if c.name != "id"}))


class SqlAlchemyOrderRepository(ports.OrderRepository):
    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        # The customer and status of each order as this unit of work loaded or added it:
        # saving an order changes the counts by the difference.
        self._as_loaded: dict[UUID, tuple[UUID, str]] = {}

    def add(self, order: Order) -> None:
        self._batch.insert(orders, order_values(order))
        self._as_loaded[order.id] = (order.customer_id, order.status.value)
        for name in _counts(order.customer_id, order.status.value):
            self._batch.count(name, +1)

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order | None:
        query = _BY_ID_LOCKED if for_update else _BY_ID
        found = self._batch.run(query, {"order_id": order_id}).first()
        if found is None:
            return None
        self._as_loaded[found.id] = (found.customer_id, found.status)
        return order_from_row(found)

    def save(self, order: Order) -> None:
        if order.id not in self._as_loaded:
            raise LookupError(f"order {order.id} was never loaded, so it cannot be saved")
        customer_id, status = self._as_loaded[order.id]
        if status != order.status.value:
            for was in _status_counts(customer_id, status):
                self._batch.count(was, -1)
            for now in _status_counts(customer_id, order.status.value):
                self._batch.count(now, +1)
        self._batch.change(_UPDATE, {f"new_{k}": v for k, v in order_values(order).items()})
        self._as_loaded[order.id] = (customer_id, order.status.value)

    def list(self, request: PageRequest, *, customer_id: UUID | None = None,
             status: OrderStatus | None = None) -> Page[Order]:
        status_name = status.value if status else None
        count_name = (row_counts.orders_of(customer_id, status_name) if customer_id
                      else row_counts.orders_with_status(status_name) if status_name
                      else row_counts.ORDERS)
        rows, total = _page(customer_id is not None, status is not None).run(
            self._batch, request, customer_id=customer_id, status=status_name,
            count_name=count_name)
        return Page(items=[order_from_row(row) for row in rows], request=request, total=total)


@cache
def _page(of_customer: bool, with_status: bool) -> PageQuery:
    """A page of orders, newest first, perhaps only one customer's or those with one status;
    the total is the row count named ``count_name``."""
    conditions = []
    if of_customer:
        conditions.append(orders.c.customer_id == bindparam("customer_id"))
    if with_status:
        conditions.append(orders.c.status == bindparam("status"))
    newest_first = (orders.c.created_at.desc(), orders.c.id.desc())
    # The page's ids come from an index alone; only those orders are then read and joined to
    # their SMS. Joining first would look up the SMS of every order the offset skips.
    picked = (select(orders.c.id).where(*conditions).order_by(*newest_first)
              .limit(bindparam("limit")).offset(bindparam("offset")).subquery())
    page = (select(*_COLUMNS).select_from(picked)
            .join(orders, orders.c.id == picked.c.id).outerjoin(sms_outbox, _ANNOUNCES)
            .order_by(*newest_first))
    return PageQuery.of(page, row_counts.total(bindparam("count_name")))


def order_from_row(row: Any) -> Order:
    """An order from a row of ``_COLUMNS``."""
    notification = None if row.sms_status is None else NotificationState(
        SmsStatus(row.sms_status), row.sms_attempts, row.sms_last_error, row.sms_sent_at)
    return Order(
        id=row.id,
        customer_id=row.customer_id,
        customer_code=CustomerCode(row.customer_code),
        item=row.item,
        amount=Money(row.amount, row.currency),
        status=OrderStatus(row.status),
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        notification=notification,
    )


def order_values(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "customer_code": order.customer_code.value,
        "item": order.item,
        "amount": order.amount.amount,
        "currency": order.amount.currency,
        "status": order.status.value,
        "created_at": order.created_at,
        "confirmed_at": order.confirmed_at,
    }


def _status_counts(customer_id: UUID, status: str) -> list[str]:
    """The counts an order's status is part of."""
    return [row_counts.orders_with_status(status), row_counts.orders_of(customer_id, status)]


def _counts(customer_id: UUID, status: str) -> list[str]:
    """Every count an order is part of."""
    return [row_counts.ORDERS, row_counts.orders_of(customer_id),
            *_status_counts(customer_id, status)]
