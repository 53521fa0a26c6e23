"""Read models: what the use cases hand back for display, shaped for people, not storage."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from app.domain.notifications import SmsMessage
from app.domain.orders import Order
from app.domain.replies import IncomingSms
from app.domain.users import PendingPhone, PhoneState, phone_state

MAX_PER_PAGE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 10

    def __post_init__(self) -> None:
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError("page must be >= 1 and per_page within 1..100")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    request: PageRequest
    total: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.request.per_page)


@dataclass(frozen=True)
class UserView:
    id: UUID
    email: str
    name: str
    role: str
    phone_number: str | None
    providers: list[str]
    customer_code: str | None
    created_at: datetime
    # A number the person typed and has not proven yet (shown to them, not to admins).
    pending_phone: PendingPhone | None = None
    email_verified: bool = False
    session_version: int = 0

    def phone_state(self, at: datetime) -> PhoneState:
        return phone_state(self.phone_number, self.pending_phone, at=at)


@dataclass(frozen=True)
class CustomerView:
    id: UUID
    code: str
    user_id: UUID
    name: str
    email: str
    phone_number: str | None
    created_at: datetime


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    notification: SmsMessage


@dataclass(frozen=True)
class OrderDetails:
    """An order with everything an admin may want to see about it."""

    order: Order
    replies: Sequence[IncomingSms]
