"""Orders recorded for customers, and the one transition they allow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from app.domain.errors import InvalidItem, OrderAlreadyConfirmed
from app.domain.events import Event, OrderConfirmed, OrderPlaced
from app.domain.notifications import NotificationState
from app.domain.sms_text import clean_text
from app.domain.users import Customer
from app.domain.values import CustomerCode, Money

MAX_ITEM_LENGTH = 200


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"


@dataclass(eq=False)
class Order:
    customer_id: UUID
    customer_code: CustomerCode
    item: str
    amount: Money
    created_at: datetime
    id: UUID = field(default_factory=uuid4)
    status: OrderStatus = OrderStatus.PENDING
    confirmed_at: datetime | None = None
    # Read-only: how the SMS announcing the order fared, as loaded with the order.
    notification: NotificationState | None = field(default=None, repr=False)
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def place(cls, customer: Customer, *, item: str, amount: Money, at: datetime) -> Order:
        # Cleaned, not refused: a pasted line break or a stray zero-width space is no reason
        # to turn an order away, and what is left is what every SMS about it will show.
        description = clean_text(item)
        if not description:
            raise InvalidItem("The item must not be blank.")
        if len(description) > MAX_ITEM_LENGTH:
            raise InvalidItem(f"The item may be at most {MAX_ITEM_LENGTH} characters.")
        order = cls(
            customer_id=customer.id,
            customer_code=customer.code,
            item=description,
            amount=amount,
            created_at=at,
        )
        order.events.append(OrderPlaced(order.id))
        return order

    @property
    def reference(self) -> str:
        """A short reference a person can read out or type back in an SMS."""
        return self.id.hex[:6].upper()

    def confirm(self, *, at: datetime) -> None:
        """Record that the customer received the order; it can happen only once."""
        if self.status is OrderStatus.CONFIRMED:
            raise OrderAlreadyConfirmed()
        self.status = OrderStatus.CONFIRMED
        self.confirmed_at = at
        self.events.append(OrderConfirmed(self.id))
