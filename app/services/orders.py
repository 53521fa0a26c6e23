"""Recording orders for customers, confirming their receipt, and looking them up."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from app.domain.errors import InvalidCustomerCode
from app.domain.orders import Order, OrderStatus
from app.domain.users import Customer, User
from app.domain.values import CustomerCode, Money
from app.services.errors import (
    CustomerNotFound,
    IdempotencyKeyReused,
    OrderNotFound,
    UniqueViolation,
)
from app.services.limits import DAY, DEFAULT_LIMITS, Limits, take
from app.services.notifications import queue_sms_for_events
from app.services.ports import Clock, IdempotencyRecord, UnitOfWork
from app.services.views import CustomerView, OrderDetails, Page, PageRequest, PlacedOrder


@dataclass(frozen=True)
class PlaceOrder:
    customer_code: str
    item: str
    amount: Decimal | str | int
    currency: str
    idempotency_key: str | None = None
    # Whose Idempotency-Key it is: the administrator's or the person's user id.
    caller: str = ""
    # The person placing an order of their own (from the browser): it must be their
    # customer code, and their orders a day are limited.
    placed_by: UUID | None = None

    def fingerprint(self) -> str:
        """What makes two requests "the same request" for an Idempotency-Key."""
        fields = [self.customer_code.strip().upper(), self.item.strip(),
                  str(Decimal(str(self.amount)).normalize()), self.currency.strip().upper()]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def place_order(cmd: PlaceOrder, *, uow: UnitOfWork, clock: Clock,
                limits: Limits = DEFAULT_LIMITS) -> PlacedOrder:
    """Record an order and queue its SMS in the same transaction; replays return the first."""
    amount = Money.of(cmd.amount, cmd.currency)
    code = _customer_code(cmd.customer_code)
    with uow:
        if cmd.idempotency_key:
            earlier = _replay(cmd, uow)
            if earlier is not None:
                return earlier
        customer, user = _customer_and_user(code, uow)
        if cmd.placed_by is not None:
            _count_own_order(cmd.placed_by, user, uow=uow, clock=clock, limits=limits)
        order = Order.place(customer, item=cmd.item, amount=amount, at=clock())
        uow.orders.add(order)
        [notification] = queue_sms_for_events(order, user, uow=uow, clock=clock,
                                              limits=limits)
        if cmd.idempotency_key:
            uow.idempotency_keys.add(IdempotencyRecord(
                owner=cmd.caller, key=cmd.idempotency_key, fingerprint=cmd.fingerprint(),
                order_id=order.id, notification_id=notification.id, created_at=clock(),
            ))
        try:
            uow.commit()
        except UniqueViolation:
            # A concurrent request with the same key won: answer as its replay.
            uow.rollback()
            earlier = _replay(cmd, uow)
            if earlier is None:
                raise
            return earlier
        return PlacedOrder(order=order, notification=notification)


def _count_own_order(person: UUID, customer: User, *, uow: UnitOfWork, clock: Clock,
                     limits: Limits) -> None:
    if customer.id != person:
        raise CustomerNotFound()
    most = limits.orders_per_person_per_day
    take("orders_per_person", str(person), at=clock(), length=DAY, most=most, uow=uow,
         limits=limits, refusal=f"You have placed {most} orders today, as many as one person "
                                "may place in a day; please call us for more.")


def confirm_order(customer_code: str, order_id: str, *, uow: UnitOfWork, clock: Clock,
                  limits: Limits = DEFAULT_LIMITS) -> Order:
    """Mark an order received by its customer (pending → confirmed), once."""
    code = _customer_code(customer_code)
    with uow:
        customer, user = _customer_and_user(code, uow)
        # Locked: of two confirmations at once, the second waits, then sees a confirmed order.
        order = _order(order_id, uow, for_update=True)
        if order.customer_id != customer.id:
            raise OrderNotFound()
        order.confirm(at=clock())
        uow.orders.save(order)
        queue_sms_for_events(order, user, uow=uow, clock=clock, limits=limits)
        uow.commit()
        return order


def get_order_details(order_id: str, *, uow: UnitOfWork) -> OrderDetails:
    """The order, and the customer's text replies that acted on it."""
    with uow:
        order = _order(order_id, uow)
        return OrderDetails(order=order, replies=uow.incoming_messages.for_order(order.id))


def list_orders(
    request: PageRequest,
    *,
    customer_code: str | None = None,
    status: OrderStatus | None = None,
    uow: UnitOfWork,
) -> Page[Order]:
    with uow:
        customer_id = None
        if customer_code:
            customer = _find_customer(customer_code, uow)
            if customer is None:
                return Page(items=[], request=request, total=0)
            customer_id = customer.id
        return uow.orders.list(request, customer_id=customer_id, status=status)


def list_customer_orders(
    request: PageRequest,
    *,
    customer_code: str | None = None,
    customer_id: str | None = None,
    uow: UnitOfWork,
) -> tuple[CustomerView, Page[Order]]:
    with uow:
        if customer_code:
            code = _parsed_code(customer_code)
            view = uow.customers.view(code=code) if code else None
        else:
            parsed_id = _uuid(customer_id or "")
            view = uow.customers.view(customer_id=parsed_id) if parsed_id else None
        if view is None:
            raise CustomerNotFound()
        return view, uow.orders.list(request, customer_id=view.id)


def _replay(cmd: PlaceOrder, uow: UnitOfWork) -> PlacedOrder | None:
    assert cmd.idempotency_key
    record = uow.idempotency_keys.get(cmd.caller, cmd.idempotency_key)
    if record is None:
        return None
    if record.fingerprint != cmd.fingerprint():
        raise IdempotencyKeyReused()
    order = uow.orders.get(record.order_id)
    notification = uow.outbox.get(record.notification_id)
    assert order is not None, "an idempotency record always names its order"
    assert notification is not None, "and the SMS queued with it"
    return PlacedOrder(order=order, notification=notification)


def _customer_code(raw: str) -> CustomerCode:
    try:
        return CustomerCode.parse(raw)
    except InvalidCustomerCode as error:
        raise CustomerNotFound() from error


def _parsed_code(raw: str) -> CustomerCode | None:
    try:
        return CustomerCode.parse(raw)
    except InvalidCustomerCode:
        return None


def _find_customer(raw_code: str, uow: UnitOfWork) -> Customer | None:
    code = _parsed_code(raw_code)
    return uow.customers.get_by_code(code) if code else None


def _customer_and_user(code: CustomerCode, uow: UnitOfWork) -> tuple[Customer, User]:
    customer = uow.customers.get_by_code(code)
    if customer is None:
        raise CustomerNotFound()
    user = uow.users.get(customer.user_id)
    assert user is not None, "a customer always belongs to a user"
    return customer, user


def _uuid(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


def _order(raw_id: str, uow: UnitOfWork, *, for_update: bool = False) -> Order:
    order_id = _uuid(raw_id)
    order = uow.orders.get(order_id, for_update=for_update) if order_id else None
    if order is None:
        raise OrderNotFound()
    return order
