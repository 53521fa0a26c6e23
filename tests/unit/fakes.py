"""In-memory adapters for the ports, so use cases run in unit tests without any I/O."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from app.domain.notifications import SmsMessage, SmsStatus
from app.domain.orders import Order, OrderStatus
from app.domain.replies import IncomingSms
from app.domain.users import Customer, Identity, Role, User
from app.domain.values import CustomerCode, Email, PhoneNumber
from app.services import ports
from app.services.errors import UniqueViolation
from app.services.sms import SendOutcome, Sent, SmsGateway
from app.services.views import CustomerView, Page, PageRequest, UserView


def _stored(order: Order) -> Order:
    """What the database keeps of an order: its columns, not its pending events."""
    kept = copy.deepcopy(order)
    kept.events = []
    return kept


def _page(items: list, request: PageRequest) -> Page:
    window = items[request.offset : request.offset + request.per_page]
    return Page(items=window, request=request, total=len(items))


def _newest_first(rows: list, created_at=lambda row: row.created_at) -> list:
    return sorted(rows, key=lambda row: (created_at(row), str(row.id)), reverse=True)


class FakeUserRepository(ports.UserRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow
        self.rows: dict[UUID, User] = {}

    def add(self, user: User) -> None:
        self.rows[user.id] = copy.deepcopy(user)

    def get(self, user_id: UUID) -> User | None:
        return copy.deepcopy(self.rows.get(user_id))

    def get_by_email(self, email: Email) -> User | None:
        return copy.deepcopy(next((u for u in self.rows.values() if u.email == email), None))

    def get_by_identity(self, provider: str, subject: str) -> User | None:
        wanted = Identity(provider, subject)
        return copy.deepcopy(next((u for u in self.rows.values() if wanted in u.identities),
                                  None))

    def get_by_phone_number(self, phone_number: PhoneNumber) -> User | None:
        return copy.deepcopy(next(
            (u for u in self.rows.values() if u.phone_number == phone_number), None))

    def view(self, user_id: UUID) -> UserView | None:
        user = self.rows.get(user_id)
        return self._view(user) if user else None

    def list(self, request: PageRequest, *, email_contains: str | None) -> Page[UserView]:
        needle = (email_contains or "").lower()
        matching = [u for u in self.rows.values() if needle in u.email.value]
        return _page([self._view(u) for u in _newest_first(matching)], request)

    def _view(self, user: User) -> UserView:
        customer = self._uow.customers.get_by_user(user.id)
        return UserView(
            id=user.id, email=user.email.value, name=user.name, role=user.role.value,
            phone_number=user.phone_number.e164 if user.phone_number else None,
            providers=user.providers, customer_code=customer.code.value if customer else None,
            created_at=user.created_at, pending_phone=user.pending_phone,
            email_verified=user.email_verified, session_version=user.session_version,
        )


class FakeCustomerRepository(ports.CustomerRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow
        self.rows: dict[UUID, Customer] = {}

    def add(self, customer: Customer) -> None:
        self.rows[customer.id] = copy.deepcopy(customer)

    def get_by_code(self, code: CustomerCode) -> Customer | None:
        return copy.deepcopy(next((c for c in self.rows.values() if c.code == code), None))

    def get_by_user(self, user_id: UUID) -> Customer | None:
        return copy.deepcopy(next((c for c in self.rows.values() if c.user_id == user_id),
                                  None))

    def code_exists(self, code: CustomerCode) -> bool:
        return self.get_by_code(code) is not None

    def view(self, *, code: CustomerCode | None = None, customer_id: UUID | None = None
             ) -> CustomerView | None:
        customer = self.get_by_code(code) if code else self.rows.get(customer_id)  # type: ignore[arg-type]
        return self._view(customer) if customer else None

    def list(self, request: PageRequest) -> Page[CustomerView]:
        return _page([self._view(c) for c in _newest_first(list(self.rows.values()))], request)

    def _view(self, customer: Customer) -> CustomerView:
        user = self._uow.users.rows[customer.user_id]
        return CustomerView(
            id=customer.id, code=customer.code.value, user_id=user.id, name=user.name,
            email=user.email.value,
            phone_number=user.phone_number.e164 if user.phone_number else None,
            created_at=customer.created_at,
        )


class FakeOrderRepository(ports.OrderRepository):
    def __init__(self) -> None:
        self.rows: dict[UUID, Order] = {}

    def add(self, order: Order) -> None:
        self.rows[order.id] = _stored(order)

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order | None:
        return copy.deepcopy(self.rows.get(order_id))  # one thread at a time: nothing to lock

    def save(self, order: Order) -> None:
        if order.id not in self.rows:
            raise LookupError(f"order {order.id} was never added, so it cannot be saved")
        self.rows[order.id] = _stored(order)

    def list(self, request: PageRequest, *, customer_id: UUID | None = None,
             status: OrderStatus | None = None) -> Page[Order]:
        matching = [
            o for o in self.rows.values()
            if (customer_id is None or o.customer_id == customer_id)
            and (status is None or o.status is status)
        ]
        return _page(_newest_first(matching), request)


class FakeSmsOutbox(ports.SmsOutbox):
    """Stores and hands out copies, as a database does: a change needs save() or record()."""

    def __init__(self) -> None:
        self.rows: dict[UUID, SmsMessage] = {}
        # Statements a database would have run, to see claims and records batched.
        self.claims = 0
        self.records = 0

    def add(self, message: SmsMessage) -> None:
        self.rows[message.id] = replace(message)

    def get(self, message_id: UUID) -> SmsMessage | None:
        message = self.rows.get(message_id)
        return replace(message) if message else None

    def for_order(self, order_id: UUID) -> list[SmsMessage]:
        return [replace(m) for m in self.rows.values() if m.order_id == order_id]

    def claim_due(self, now: datetime, *, lease_until: datetime, limit: int
                  ) -> list[SmsMessage]:
        self.claims += 1
        claimed = self.due(now)[:limit]
        for message in claimed:
            message.claim(lease_until=lease_until)
            self.rows[message.id] = replace(message)
        return claimed

    def record(self, messages: Sequence[SmsMessage]) -> int:
        self.records += 1
        current = [m for m in messages if self.rows[m.id].attempts == m.attempts]
        for message in current:
            self.rows[message.id] = replace(message)
        return len(current)

    def save(self, message: SmsMessage) -> None:
        self.rows[message.id] = replace(message)

    def get_by_provider_id(self, provider_message_id: str) -> SmsMessage | None:
        return next((replace(m) for m in self.rows.values()
                     if m.provider_message_id == provider_message_id), None)

    def failed(self, *, limit: int) -> list[SmsMessage]:
        return [replace(m) for m in self.rows.values() if m.status is SmsStatus.FAILED][:limit]

    def summary(self, now: datetime) -> ports.OutboxSummary:
        due = self.due(now)
        return ports.OutboxSummary(by_status=dict(Counter(m.status for m in self.rows.values())),
                                   due=len(due),
                                   oldest_due_at=due[0].next_attempt_at if due else None)

    def due(self, now: datetime) -> list[SmsMessage]:
        """Copies of the queued messages due by ``now``, the longest due first."""
        due = [replace(m) for m in self.rows.values()
               if m.status is SmsStatus.QUEUED and m.next_attempt_at <= now]
        return sorted(due, key=lambda m: (m.next_attempt_at, str(m.id)))

    def to(self, e164: str) -> list[str]:
        """The texts queued for one number, oldest first: what a test usually wants to read."""
        return [m.text for m in self.rows.values() if m.recipient.e164 == e164]


class FakeIncomingMessages(ports.IncomingMessages):
    def __init__(self) -> None:
        self.rows: dict[str, IncomingSms] = {}
        self.duplicate: str | None = None

    def add(self, message: IncomingSms) -> None:
        if message.provider_message_id in self.rows:
            self.duplicate = "incoming_message"
            return
        self.rows[message.provider_message_id] = copy.deepcopy(message)

    def get_by_provider_id(self, provider_message_id: str) -> IncomingSms | None:
        return self.rows.get(provider_message_id)

    def for_order(self, order_id: UUID) -> list[IncomingSms]:
        return [m for m in self.rows.values() if m.order_id == order_id]


class FakeIdempotencyKeys(ports.IdempotencyKeys):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ports.IdempotencyRecord] = {}
        self.duplicate: str | None = None

    def get(self, owner: str, key: str) -> ports.IdempotencyRecord | None:
        return self.rows.get((owner, key))

    def add(self, record: ports.IdempotencyRecord) -> None:
        if (record.owner, record.key) in self.rows:
            self.duplicate = "idempotency_key"
            return
        self.rows[record.owner, record.key] = record

    def remove_created_before(self, when: datetime) -> int:
        old = [k for k, record in self.rows.items() if record.created_at < when]
        for k in old:
            del self.rows[k]
        return len(old)


class FakeRevokedTokens(ports.RevokedTokens):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow
        self.rows: dict[str, datetime] = {}
        self.duplicate: str | None = None

    def add(self, jti: str, *, expires_at: datetime) -> None:
        if jti in self.rows:
            self.duplicate = "revoked_token"
            return
        self.rows[jti] = expires_at

    def contains(self, jti: str) -> bool:
        return jti in self.rows

    def check(self, jti: str, family: str, *, issued_to: UUID | None
              ) -> tuple[bool, Role | None]:
        holder = self._uow.users.get(issued_to) if issued_to else None
        return jti in self.rows or family in self.rows, holder.role if holder else None

    def remove_expired(self, now: datetime) -> int:
        expired = [jti for jti, expires_at in self.rows.items() if expires_at < now]
        for jti in expired:
            del self.rows[jti]
        return len(expired)


class FakeUsageCounters(ports.UsageCounters):
    def __init__(self) -> None:
        self.rows: Counter[tuple[str, datetime]] = Counter()

    def take(self, key: str, window_start: datetime, *, limit: int) -> bool:
        if self.rows[key, window_start] >= limit:
            return False
        self.rows[key, window_start] += 1
        return True


class FakeUnitOfWork(ports.UnitOfWork):
    """Keeps everything in dictionaries, and forgets what was not committed as the database
    does: entering ``with`` takes a snapshot, rollback and leaving without commit go back to
    it, and commit refuses what the schema's unique keys refuse (UniqueViolation).

    Rows added outside any ``with`` block (a test's arrangement) count as committed.
    """

    def __init__(self) -> None:
        self.users = FakeUserRepository(self)
        self.customers = FakeCustomerRepository(self)
        self.orders = FakeOrderRepository()
        self.outbox = FakeSmsOutbox()
        self.incoming_messages = FakeIncomingMessages()
        self.idempotency_keys = FakeIdempotencyKeys()
        self.revoked_tokens = FakeRevokedTokens(self)
        self.usage = FakeUsageCounters()
        self.committed = False
        self._snapshot: dict[str, object] | None = None

    def __enter__(self) -> FakeUnitOfWork:
        self._snapshot = self._state()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()
        self._snapshot = None

    def commit(self) -> None:
        violation = _unique_violation(self)
        if violation is not None:
            self.rollback()
            raise UniqueViolation(violation)
        self.committed = True
        self._snapshot = self._state()

    def rollback(self) -> None:
        if self._snapshot is not None:
            for name, rows in copy.deepcopy(self._snapshot).items():
                getattr(self, name).rows = rows

    def _state(self) -> dict[str, object]:
        return copy.deepcopy({name: getattr(self, name).rows for name in _REPOSITORIES})


_REPOSITORIES = ("users", "customers", "orders", "outbox", "incoming_messages",
                 "idempotency_keys", "revoked_tokens", "usage")


def _unique_violation(uow: FakeUnitOfWork) -> str | None:
    """The unique value two rows share, named as the SQL adapter names it, if any."""
    users = list(uow.users.rows.values())
    customers = list(uow.customers.rows.values())
    for what, values in [
        ("email", [u.email for u in users]),
        ("phone_number", [u.phone_number for u in users if u.phone_number]),
        ("customer_user", [c.user_id for c in customers]),
        ("customer_code", [c.code for c in customers]),
    ]:
        if len(values) != len(set(values)):
            return what
    for repository in (uow.incoming_messages, uow.idempotency_keys, uow.revoked_tokens):
        if repository.duplicate:
            return repository.duplicate
    return None


class FakePasswordHasher(ports.PasswordHasher):
    """Reversible on purpose: only the shape of hashing matters to the use cases."""

    def hash(self, password: str) -> str:
        return f"hashed:{password}"

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == f"hashed:{password}"


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class RecordingSmsGateway(SmsGateway):
    """Records every (to, text) it is asked to send; answers from a script, then Sent.

    Each answer takes ``latency`` seconds; ``most_in_flight`` is the most sends it had at once.
    """

    def __init__(self, outcomes: Iterable[SendOutcome] = (), *, latency: float = 0.0) -> None:
        self.messages: list[tuple[str, str]] = []
        self._script = deque(outcomes)
        self._ids = itertools.count(1)
        self._latency = latency
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, to: str, text: str) -> SendOutcome:
        self.messages.append((to, text))
        outcome = (self._script.popleft() if self._script
                   else Sent(provider_message_id=f"fake-{next(self._ids)}", cost=None))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self._latency)
        finally:
            self.in_flight -= 1
        return outcome

    def messages_to(self, to: str) -> list[str]:
        return [text for recipient, text in self.messages if recipient == to]
