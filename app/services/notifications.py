"""Reactions to domain events: each queues an SMS in the outbox of the same unit of work."""

from app.domain.errors import PhoneNumberRequired
from app.domain.events import Event, OrderConfirmed, OrderPlaced
from app.domain.notifications import SmsKind, SmsMessage
from app.domain.orders import Order
from app.domain.users import User
from app.services import messages
from app.services.limits import Limits, queue_sms
from app.services.ports import Clock, UnitOfWork


def queue_sms_for_events(order: Order, customer: User, *, uow: UnitOfWork, clock: Clock,
                         limits: Limits) -> list[SmsMessage]:
    """Turn the order's pending events into outbox rows; returns the rows queued."""
    queued = []
    events: list[Event] = order.events
    order.events = []
    for event in events:
        match event:
            case OrderPlaced():
                kind = SmsKind.ORDER_PLACED
                text = messages.order_placed(order, customer_name=customer.name)
            case OrderConfirmed():
                kind = SmsKind.ORDER_CONFIRMED
                text = messages.order_confirmed(order, customer_name=customer.name)
        if customer.phone_number is None:
            raise PhoneNumberRequired()
        message = queue_sms(SmsMessage(recipient=customer.phone_number, text=text,
                                       created_at=clock(), order_id=order.id, kind=kind),
                            uow=uow, limits=limits)
        if kind is SmsKind.ORDER_PLACED:
            order.notification = message.state
        queued.append(message)
    return queued
