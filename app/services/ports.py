"""Ports: what the use cases need from the outside world, named for the role they play.

Adapters in ``app.adapters`` implement them for real; ``tests/unit/fakes.py`` implements
them in memory.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from app.domain.notifications import SmsMessage, SmsStatus
from app.domain.orders import Order, OrderStatus
from app.domain.replies import IncomingSms
from app.domain.users import Customer, Role, User
from app.domain.values import CustomerCode, Email, PhoneNumber
from app.services.views import CustomerView, Page, PageRequest, UserView

Clock = Callable[[], datetime]


class UserRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, user: User) -> None: ...

    @abc.abstractmethod
    def get(self, user_id: UUID) -> User | None: ...

    @abc.abstractmethod
    def get_by_email(self, email: Email) -> User | None: ...

    @abc.abstractmethod
    def get_by_identity(self, provider: str, subject: str) -> User | None: ...

    @abc.abstractmethod
    def get_by_phone_number(self, phone_number: PhoneNumber) -> User | None: ...

    @abc.abstractmethod
    def view(self, user_id: UUID) -> UserView | None: ...

    @abc.abstractmethod
    def list(self, request: PageRequest, *, email_contains: str | None) -> Page[UserView]:
        """Users newest first; ``email_contains`` filters case-insensitively."""


class CustomerRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, customer: Customer) -> None: ...

    @abc.abstractmethod
    def get_by_code(self, code: CustomerCode) -> Customer | None: ...

    @abc.abstractmethod
    def get_by_user(self, user_id: UUID) -> Customer | None: ...

    @abc.abstractmethod
    def code_exists(self, code: CustomerCode) -> bool: ...

    @abc.abstractmethod
    def view(self, *, code: CustomerCode | None = None, customer_id: UUID | None = None
             ) -> CustomerView | None: ...

    @abc.abstractmethod
    def list(self, request: PageRequest) -> Page[CustomerView]:
        """Customers newest first."""


class OrderRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, order: Order) -> None: ...

    @abc.abstractmethod
    def get(self, order_id: UUID, *, for_update: bool = False) -> Order | None:
        """The order; ``for_update`` locks it until the transaction ends, so that a concurrent
        change to it waits for this one and then sees its outcome."""

    @abc.abstractmethod
    def save(self, order: Order) -> None:
        """Write back the changed state of an order loaded from this repository."""

    @abc.abstractmethod
    def list(
        self,
        request: PageRequest,
        *,
        customer_id: UUID | None = None,
        status: OrderStatus | None = None,
    ) -> Page[Order]:
        """Orders newest first."""


@dataclass(frozen=True)
class OutboxSummary:
    """The outbox at a glance: messages by status, how many are due and waiting for a
    worker, and since when the one waiting longest has been due (None: none waits)."""

    by_status: dict[SmsStatus, int]
    due: int
    oldest_due_at: datetime | None


class SmsOutbox(abc.ABC):
    """SMS messages waiting to be sent, written in the same transaction as their cause."""

    @abc.abstractmethod
    def add(self, message: SmsMessage) -> None: ...

    @abc.abstractmethod
    def get(self, message_id: UUID) -> SmsMessage | None: ...

    @abc.abstractmethod
    def for_order(self, order_id: UUID) -> list[SmsMessage]: ...

    @abc.abstractmethod
    def claim_due(self, now: datetime, *, lease_until: datetime, limit: int
                  ) -> list[SmsMessage]:
        """Take up to ``limit`` queued messages due by ``now``, oldest first, for one worker
        until ``lease_until``, each with its attempt counted (``SmsMessage.claim``), in one
        statement.

        Messages another transaction is claiming are skipped, not waited for, so that workers
        side by side claim different messages.
        """

    @abc.abstractmethod
    def record(self, messages: Sequence[SmsMessage]) -> int:
        """Write what became of claimed messages (status, next attempt, error, provider id,
        sent at) in one statement; how many were written.

        A message claimed again since (its attempts moved on, its lease having run out) is
        left as the later claim has it.
        """

    @abc.abstractmethod
    def save(self, message: SmsMessage) -> None:
        """Write back the changed state of a message loaded from this outbox."""

    @abc.abstractmethod
    def get_by_provider_id(self, provider_message_id: str) -> SmsMessage | None: ...

    @abc.abstractmethod
    def failed(self, *, limit: int) -> list[SmsMessage]: ...

    @abc.abstractmethod
    def summary(self, now: datetime) -> OutboxSummary:
        """Counts by status and the queue waiting at ``now``, in one query."""


class OutboxWakeup(abc.ABC):
    """Tells an outbox worker that messages were queued, so that it need not poll often."""

    @abc.abstractmethod
    async def wait(self, timeout: float) -> bool:
        """True as soon as messages may have been queued since the previous call returned
        (at once if they were meanwhile), False when ``timeout`` seconds pass first."""

    async def aclose(self) -> None:  # noqa: B027 - most hold nothing to release
        """Let go of whatever it listens on."""


class IncomingMessages(abc.ABC):
    """Text messages received from customers' phones."""

    @abc.abstractmethod
    def add(self, message: IncomingSms) -> None: ...

    @abc.abstractmethod
    def get_by_provider_id(self, provider_message_id: str) -> IncomingSms | None: ...

    @abc.abstractmethod
    def for_order(self, order_id: UUID) -> list[IncomingSms]:
        """Messages that acted on the order, oldest first."""


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first answer to a request sent with an Idempotency-Key. Keys are the ``owner``'s
    (the administrator's or the person's id): nobody else's key can collide with them."""

    owner: str
    key: str
    fingerprint: str
    order_id: UUID
    notification_id: UUID
    created_at: datetime


class IdempotencyKeys(abc.ABC):
    @abc.abstractmethod
    def get(self, owner: str, key: str) -> IdempotencyRecord | None: ...

    @abc.abstractmethod
    def add(self, record: IdempotencyRecord) -> None: ...

    @abc.abstractmethod
    def remove_created_before(self, when: datetime) -> int:
        """Forget the records made before ``when``; how many there were."""


class RevokedTokens(abc.ABC):
    """Token ids, and token families (all the tokens of one sign-in, ``family:<id>``), that
    are refused until they expire anyway."""

    @abc.abstractmethod
    def add(self, jti: str, *, expires_at: datetime) -> None: ...

    @abc.abstractmethod
    def contains(self, jti: str) -> bool: ...

    @abc.abstractmethod
    def check(self, jti: str, family: str, *, issued_to: UUID | None
              ) -> tuple[bool, Role | None]:
        """In one look-up: whether ``jti`` or its ``family`` was revoked, and the current role
        of the user the token was issued to (None when there is no such user)."""

    @abc.abstractmethod
    def remove_expired(self, now: datetime) -> int:
        """Forget revocations of tokens that have expired by ``now``; how many there were."""


class UsageCounters(abc.ABC):
    """How many times each thing was done in each window of time (see services/limits.py)."""

    @abc.abstractmethod
    def take(self, key: str, window_start: datetime, *, limit: int) -> bool:
        """Count one more use of ``key`` in the window starting at ``window_start``, unless
        ``limit`` were counted already; whether it was counted. Two transactions taking the
        last use at once cannot both have it."""


class UnitOfWork(abc.ABC):
    """One transaction: nothing is kept unless ``commit()`` is called before leaving ``with``."""

    users: UserRepository
    customers: CustomerRepository
    orders: OrderRepository
    outbox: SmsOutbox
    incoming_messages: IncomingMessages
    idempotency_keys: IdempotencyKeys
    revoked_tokens: RevokedTokens
    usage: UsageCounters

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the changes durable; a lost race on a unique value raises ``UniqueViolation``."""

    @abc.abstractmethod
    def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class PasswordHasher(abc.ABC):
    """One-way password hashing."""

    @abc.abstractmethod
    def hash(self, password: str) -> str: ...

    @abc.abstractmethod
    def verify(self, password_hash: str, password: str) -> bool: ...
