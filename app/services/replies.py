"""Customers confirming receipt, or asking after an order, by replying to the order SMS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import InvalidPhoneNumber
from app.domain.notifications import SmsMessage
from app.domain.orders import Order, OrderStatus
from app.domain.replies import IncomingSms, Intent, Reply, ReplyOutcome, read_reply
from app.domain.users import User
from app.domain.values import PhoneNumber
from app.services import messages
from app.services.errors import UniqueViolation
from app.services.limits import DEFAULT_LIMITS, HOUR, Limits, has_room, queue_sms
from app.services.notifications import queue_sms_for_events
from app.services.ports import Clock, UnitOfWork
from app.services.views import PageRequest

# A customer's orders a reply may name: the most recent ones are the ones being delivered.
RECENT_ORDERS = PageRequest(page=1, per_page=100)


@dataclass(frozen=True)
class IncomingText:
    provider_message_id: str
    sender: str
    text: str


@dataclass(frozen=True)
class _Decision:
    outcome: ReplyOutcome
    order: Order | None = None
    answer: str | None = None  # None when the domain event's own SMS answers
    to_stranger: bool = False  # the answer goes to a number that is not a customer's


def handle_incoming_sms(incoming: IncomingText, *, uow: UnitOfWork, clock: Clock,
                        limits: Limits = DEFAULT_LIMITS) -> ReplyOutcome:
    """Act on a reply once, whatever number of times the gateway delivers it.

    Answers go only to mobile numbers the service texts (never to short codes or sender
    names, which cannot read them), and a number that is not a customer's gets one an hour
    at most, so that nobody can make the service text strangers by texting it.
    """
    with uow:
        seen = uow.incoming_messages.get_by_provider_id(incoming.provider_message_id)
        if seen is not None:
            return seen.outcome
        now = clock()
        sender = _phone_number(incoming.sender, limits)
        user = uow.users.get_by_phone_number(sender) if sender else None
        decision = (_decide(read_reply(incoming.text), user, uow=uow, now=now, clock=clock,
                            limits=limits)
                    if user else _Decision(ReplyOutcome.UNKNOWN_NUMBER, to_stranger=True,
                                           answer=messages.reply_unknown_number()))
        order_id = decision.order.id if decision.order else None
        uow.incoming_messages.add(IncomingSms(
            provider_message_id=incoming.provider_message_id, sender=incoming.sender,
            text=incoming.text, received_at=now, outcome=decision.outcome, order_id=order_id,
        ))
        if decision.answer and sender and (not decision.to_stranger or has_room(
                "answers_per_stranger", sender.e164, at=now, length=HOUR,
                most=limits.answers_per_stranger_per_hour, uow=uow, limits=limits)):
            queue_sms(SmsMessage(recipient=sender, text=decision.answer, created_at=now,
                                 order_id=order_id), uow=uow, limits=limits)
        try:
            uow.commit()
        except UniqueViolation:
            # The same message delivered twice at once: the other delivery handled it.
            uow.rollback()
            earlier = uow.incoming_messages.get_by_provider_id(incoming.provider_message_id)
            if earlier is None:
                raise
            return earlier.outcome
        return decision.outcome


def _phone_number(raw: str, limits: Limits) -> PhoneNumber | None:
    """The sender, when it is a number the service may answer."""
    try:
        return limits.numbers.parse(raw)
    except InvalidPhoneNumber:
        return None


def _decide(reply: Reply, user: User, *, uow: UnitOfWork, now: datetime, clock: Clock,
            limits: Limits) -> _Decision:
    customer = uow.customers.get_by_user(user.id)
    if customer is None:
        return _Decision(ReplyOutcome.UNKNOWN_NUMBER, to_stranger=True,
                         answer=messages.reply_unknown_number())
    if reply.intent is Intent.UNKNOWN:
        return _Decision(ReplyOutcome.NOT_UNDERSTOOD, answer=messages.reply_not_understood())
    orders = list(uow.orders.list(RECENT_ORDERS, customer_id=customer.id).items)
    pending = [order for order in orders if order.status is OrderStatus.PENDING]
    if reply.reference:
        named = next((o for o in orders if o.reference == reply.reference), None)
        if named is None:
            return _Decision(ReplyOutcome.UNKNOWN_REFERENCE,
                             answer=messages.reply_unknown_reference(reply.reference, pending))
    elif reply.intent is Intent.STATUS or len(pending) != 1:
        return _without_reference(reply, orders, pending)
    else:
        named = pending[0]
    if reply.intent is Intent.STATUS:
        return _Decision(ReplyOutcome.STATUS, named, messages.reply_status(named))
    # Lock the order, as every confirmation does: an admin may confirm it at this moment.
    locked = uow.orders.get(named.id, for_update=True)
    assert locked is not None, "orders are never deleted"
    named = locked
    if named.status is OrderStatus.CONFIRMED:
        return _Decision(ReplyOutcome.ALREADY_CONFIRMED, named,
                         messages.reply_already_confirmed(named))
    named.confirm(at=now)
    uow.orders.save(named)
    queue_sms_for_events(named, user, uow=uow, clock=clock, limits=limits)
    return _Decision(ReplyOutcome.CONFIRMED, named)


def _without_reference(reply: Reply, orders: list[Order], pending: list[Order]) -> _Decision:
    if reply.intent is Intent.STATUS:
        latest = pending[0] if pending else (orders[0] if orders else None)
        if latest is None:
            return _Decision(ReplyOutcome.NO_PENDING_ORDER,
                             answer=messages.reply_no_pending_order())
        return _Decision(ReplyOutcome.STATUS, latest, messages.reply_status(latest))
    if not pending:
        return _Decision(ReplyOutcome.NO_PENDING_ORDER, answer=messages.reply_no_pending_order())
    return _Decision(ReplyOutcome.WHICH_ORDER, answer=messages.reply_which_order(pending))
