"""The repository ports over a SQLAlchemy session: rows go in and domain objects come out.

Each aggregate converts in exactly two functions: ``_x_from_row`` and ``_x_to_row`` (or
``_x_values``, for rows written without the ORM, see pending_writes.py). Value
objects are rebuilt from the stored strings without validating them again: only valid values
were ever written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    ScalarSelect,
    Select,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from app.adapters.sqlalchemy import row_counts
from app.adapters.sqlalchemy.orm import (
    Base,
    CustomerRow,
    IdempotencyKeyRow,
    IdentityRow,
    IncomingSmsRow,
    OrderRow,
    RevokedTokenRow,
    SmsRow,
    UsageCountRow,
    UserRow,
)
from app.adapters.sqlalchemy.pending_writes import PendingWrites
from app.domain.notifications import NotificationState, SmsKind, SmsMessage, SmsStatus
from app.domain.orders import Order, OrderStatus
from app.domain.replies import IncomingSms, ReplyOutcome
from app.domain.users import Customer, Identity, PendingPhone, Role, User
from app.domain.values import CustomerCode, Email, Money, PhoneNumber
from app.services import ports
from app.services.views import CustomerView, Page, PageRequest, UserView

# The tables, for the statements on the hot read paths: those are built once, here, with bind
# parameters, and run on the session's connection, so that a request spends no time building
# a query or loading ORM objects it throws away.
_USERS = UserRow.__table__
_CUSTOMERS = CustomerRow.__table__
_ORDERS = OrderRow.__table__
_SMS = SmsRow.__table__
_INCOMING = IncomingSmsRow.__table__
_IDENTITIES = IdentityRow.__table__
_REVOKED = RevokedTokenRow.__table__
_USAGE = UsageCountRow.__table__


def _reader(session: Session) -> Connection:
    """The session's connection, once whatever the unit of work holds back has been written,
    so a statement run on it sees this unit of work's changes as the ORM's queries do."""
    pending: PendingWrites = session.info["pending_writes"]
    pending.write()
    session.flush()
    return session.connection()


@dataclass(frozen=True)
class _PageQuery:
    """A page of rows and the total in one statement: the total rides on each row as a scalar
    subquery (evaluated once), named ``total``. Only a page past the end, with no row to carry
    it, costs a second statement. Both take ``limit`` and ``offset`` besides their own
    parameters."""

    rows: Select[Any]
    total: Select[int]

    @classmethod
    def of(cls, rows: Select[Any], total: ScalarSelect[int]) -> _PageQuery:
        return cls(rows.add_columns(total.label("total")), select(total))

    def run(self, session: Session, request: PageRequest, **params: Any) -> tuple[list[Any], int]:
        connection = _reader(session)
        params.update(limit=request.per_page, offset=request.offset)
        rows = connection.execute(self.rows, params).all()
        if rows:
            return list(rows), int(rows[0].total)
        return [], (connection.execute(self.total, params).scalar() or 0) if request.page > 1 else 0


def _rows_counted(table: FromClause, *conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    """A filtered total, counted over the rows it filters (``row_counts`` keeps unfiltered ones)."""
    return (select(func.count()).select_from(table).where(*conditions)
            .correlate(None).scalar_subquery())


def _like_pattern(text: str) -> str:
    """``%text%`` for LIKE ... ESCAPE '/', matching the text's own % and _ literally."""
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


class SqlAlchemyUserRepository(ports.UserRepository):
    def __init__(self, session: Session, writes: PendingWrites) -> None:
        self._session = session
        self._writes = writes
        # Users this unit of work has loaded, some with their customer: asked for again,
        # they cost no statement.
        self._loaded: dict[UUID, User] = {}

    def remember(self, user: User) -> User:
        return self._loaded.setdefault(user.id, user)

    def add(self, user: User) -> None:
        """Insert a new user, or write back the state of an existing one."""
        row = self._session.get(UserRow, user.id)
        if row is None:
            self._session.add(_user_to_row(user, UserRow()))
            self._writes.count(row_counts.USERS, +1)
        else:
            _user_to_row(user, row)

    def get(self, user_id: UUID) -> User | None:
        if user_id in self._loaded:
            return self._loaded[user_id]
        row = self._session.get(UserRow, user_id, options=[joinedload(UserRow.identities)])
        return self.remember(_user_from_row(row, row.identities)) if row else None

    def get_by_email(self, email: Email) -> User | None:
        return self._one(UserRow.email == email.value)

    def get_by_identity(self, provider: str, subject: str) -> User | None:
        return self._one(UserRow.identities.any(
            (IdentityRow.provider == provider) & (IdentityRow.subject == subject)))

    def get_by_phone_number(self, phone_number: PhoneNumber) -> User | None:
        return self._one(UserRow.phone_number == phone_number.e164)

    def view(self, user_id: UUID) -> UserView | None:
        found = _reader(self._session).execute(_USER_VIEW_BY_ID, {"user_id": user_id}).first()
        return _user_view(found) if found else None

    def list(self, request: PageRequest, *, email_contains: str | None) -> Page[UserView]:
        if email_contains:
            found, total = _USERS_MATCHING.run(self._session, request,
                                               pattern=_like_pattern(email_contains.lower()))
        else:
            found, total = _ALL_USERS.run(self._session, request)
        return Page(items=[_user_view(row) for row in found], request=request, total=total)

    def _one(self, condition: ColumnElement[bool]) -> User | None:
        # Every condition names one user at most; identities come joined in, in one query.
        found = self._session.scalars(
            select(UserRow).options(joinedload(UserRow.identities)).where(condition))
        row = found.unique().one_or_none()
        return _user_from_row(row, row.identities) if row else None


# A user as admins see them; each user's providers come aggregated in the same statement.
_USER_VIEWS = select(
    _USERS.c.id, _USERS.c.email, _USERS.c.name, _USERS.c.role, _USERS.c.phone_number,
    _USERS.c.created_at, _USERS.c.pending_phone_number, _USERS.c.pending_code_digest,
    _USERS.c.pending_code_sent_at, _USERS.c.pending_code_wrong_tries,
    _USERS.c.email_verified, _USERS.c.session_version,
    _CUSTOMERS.c.code.label("customer_code"),
    select(func.aggregate_strings(_IDENTITIES.c.provider, ","))
    .where(_IDENTITIES.c.user_id == _USERS.c.id).scalar_subquery().label("providers"),
).outerjoin(_CUSTOMERS, _CUSTOMERS.c.user_id == _USERS.c.id)
_USER_VIEW_BY_ID = _USER_VIEWS.where(_USERS.c.id == bindparam("user_id"))
_USERS_NEWEST_FIRST = (_USERS.c.created_at.desc(), _USERS.c.id.desc())
_ALL_USERS = _PageQuery.of(
    _USER_VIEWS.order_by(*_USERS_NEWEST_FIRST).limit(bindparam("limit"))
    .offset(bindparam("offset")),
    row_counts.total(row_counts.USERS))
_EMAIL_MATCHES = _USERS.c.email.like(bindparam("pattern"), escape="/")
_USERS_MATCHING = _PageQuery.of(
    _USER_VIEWS.where(_EMAIL_MATCHES).order_by(*_USERS_NEWEST_FIRST)
    .limit(bindparam("limit")).offset(bindparam("offset")),
    _rows_counted(_USERS, _EMAIL_MATCHES))


def _user_from_row(row: UserRow | Any, identities: Iterable[Any]) -> User:
    """A user from its row (or a row of its columns) and its identities' rows."""
    return User(
        id=row.id,
        email=Email(row.email),
        name=row.name,
        role=Role(row.role),
        phone_number=PhoneNumber(row.phone_number) if row.phone_number else None,
        password_hash=row.password_hash,
        email_verified=row.email_verified,
        identities=[Identity(provider=i.provider, subject=i.subject) for i in identities],
        created_at=row.created_at,
        pending_phone=_pending_phone(row),
        session_version=row.session_version,
    )


def _pending_phone(row: Any) -> PendingPhone | None:
    if row.pending_phone_number is None:
        return None
    return PendingPhone(number=PhoneNumber(row.pending_phone_number),
                        code_digest=row.pending_code_digest,
                        code_sent_at=row.pending_code_sent_at,
                        wrong_tries=row.pending_code_wrong_tries)


def _user_to_row(user: User, row: UserRow) -> UserRow:
    row.id = user.id
    row.email = user.email.value
    row.name = user.name
    row.role = user.role.value
    row.phone_number = user.phone_number.e164 if user.phone_number else None
    row.password_hash = user.password_hash
    row.email_verified = user.email_verified
    row.created_at = user.created_at
    pending = user.pending_phone
    row.pending_phone_number = pending.number.e164 if pending else None
    row.pending_code_digest = pending.code_digest if pending else None
    row.pending_code_sent_at = pending.code_sent_at if pending else None
    row.pending_code_wrong_tries = pending.wrong_tries if pending else 0
    row.session_version = user.session_version
    wanted = {(i.provider, i.subject) for i in user.identities}
    kept = [i for i in row.identities if (i.provider, i.subject) in wanted]
    known = {(i.provider, i.subject) for i in kept}
    row.identities = kept + [
        IdentityRow(provider=provider, subject=subject)
        for provider, subject in sorted(wanted - known)
    ]
    return row


def _user_view(row: Any) -> UserView:
    """A user from a row of ``_USER_VIEWS``."""
    return UserView(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        phone_number=row.phone_number,
        providers=sorted(set(row.providers.split(","))) if row.providers else [],
        customer_code=row.customer_code,
        created_at=row.created_at,
        pending_phone=_pending_phone(row),
        email_verified=row.email_verified,
        session_version=row.session_version,
    )


class SqlAlchemyCustomerRepository(ports.CustomerRepository):
    def __init__(self, session: Session, writes: PendingWrites,
                 users: SqlAlchemyUserRepository) -> None:
        self._session = session
        self._writes = writes
        self._users = users

    def add(self, customer: Customer) -> None:
        self._session.add(_customer_to_row(customer, CustomerRow()))
        self._writes.count(row_counts.CUSTOMERS, +1)

    def get_by_code(self, code: CustomerCode) -> Customer | None:
        return self._with_user(_CUSTOMER_BY_CODE, {"code": code.value})

    def get_by_user(self, user_id: UUID) -> Customer | None:
        return self._with_user(_CUSTOMER_BY_USER, {"user_id": user_id})

    def code_exists(self, code: CustomerCode) -> bool:
        found = self._session.scalar(select(CustomerRow.id).where(CustomerRow.code == code.value))
        return found is not None

    def view(
        self, *, code: CustomerCode | None = None, customer_id: UUID | None = None
    ) -> CustomerView | None:
        if code is not None:
            found = _reader(self._session).execute(_CUSTOMER_VIEW_BY_CODE,
                                                   {"code": code.value}).first()
        elif customer_id is not None:
            found = _reader(self._session).execute(_CUSTOMER_VIEW_BY_ID,
                                                   {"customer_id": customer_id}).first()
        else:
            return None
        return _customer_view(found) if found else None

    def list(self, request: PageRequest) -> Page[CustomerView]:
        found, total = _ALL_CUSTOMERS.run(self._session, request)
        return Page(items=[_customer_view(row) for row in found], request=request, total=total)

    def _with_user(self, query: Select[Any], params: dict[str, Any]) -> Customer | None:
        # The customer's user comes along, identities and all, and the user repository keeps
        # it: use cases that load a customer load its user next, which then costs nothing.
        rows = _reader(self._session).execute(query, params).all()
        if not rows:
            return None
        row = rows[0]
        self._users.remember(_user_from_row(row, [i for i in rows if i.provider is not None]))
        return Customer(id=row.customer_id, user_id=row.id, code=CustomerCode(row.customer_code),
                        created_at=row.customer_created_at)


# A customer as admins see them: with the name and contacts of their user.
_CUSTOMER_VIEWS = select(
    *_CUSTOMERS.c, _USERS.c.name, _USERS.c.email, _USERS.c.phone_number,
).join(_USERS, _USERS.c.id == _CUSTOMERS.c.user_id)
_CUSTOMER_VIEW_BY_CODE = _CUSTOMER_VIEWS.where(_CUSTOMERS.c.code == bindparam("code"))
_CUSTOMER_VIEW_BY_ID = _CUSTOMER_VIEWS.where(_CUSTOMERS.c.id == bindparam("customer_id"))
_ALL_CUSTOMERS = _PageQuery.of(
    _CUSTOMER_VIEWS.order_by(_CUSTOMERS.c.created_at.desc(), _CUSTOMERS.c.id.desc())
    .limit(bindparam("limit")).offset(bindparam("offset")),
    row_counts.total(row_counts.CUSTOMERS))


# A customer with their user's columns (as named in the users table) and one identity of
# theirs per row.
_CUSTOMER_WITH_USER = select(
    _CUSTOMERS.c.id.label("customer_id"), _CUSTOMERS.c.code.label("customer_code"),
    _CUSTOMERS.c.created_at.label("customer_created_at"), *_USERS.c,
    _IDENTITIES.c.provider, _IDENTITIES.c.subject,
).join(_USERS, _USERS.c.id == _CUSTOMERS.c.user_id).outerjoin(
    _IDENTITIES, _IDENTITIES.c.user_id == _USERS.c.id)
_CUSTOMER_BY_CODE = _CUSTOMER_WITH_USER.where(_CUSTOMERS.c.code == bindparam("code"))
_CUSTOMER_BY_USER = _CUSTOMER_WITH_USER.where(_CUSTOMERS.c.user_id == bindparam("user_id"))


def _customer_to_row(customer: Customer, row: CustomerRow) -> CustomerRow:
    row.id = customer.id
    row.user_id = customer.user_id
    row.code = customer.code.value
    row.created_at = customer.created_at
    return row


def _customer_view(row: Any) -> CustomerView:
    """A customer from a row of ``_CUSTOMER_VIEWS``."""
    return CustomerView(
        id=row.id,
        code=row.code,
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        phone_number=row.phone_number,
        created_at=row.created_at,
    )


class SqlAlchemyOrderRepository(ports.OrderRepository):
    def __init__(self, session: Session, writes: PendingWrites) -> None:
        self._session = session
        self._writes = writes
        # The customer and status of each order as this unit of work loaded or added it:
        # saving an order changes the counts by the difference.
        self._as_loaded: dict[UUID, tuple[UUID, str]] = {}

    def add(self, order: Order) -> None:
        self._writes.insert(OrderRow, _order_values(order))
        self._as_loaded[order.id] = (order.customer_id, order.status.value)
        for name in _order_counts(order.customer_id, order.status.value):
            self._writes.count(name, +1)

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order | None:
        query = _ORDER_BY_ID_LOCKED if for_update else _ORDER_BY_ID
        found = _reader(self._session).execute(query, {"order_id": order_id}).first()
        if found is None:
            return None
        self._as_loaded[found.id] = (found.customer_id, found.status)
        return _order_from_row(found)

    def save(self, order: Order) -> None:
        if order.id not in self._as_loaded:
            raise LookupError(f"order {order.id} was never loaded, so it cannot be saved")
        customer_id, status = self._as_loaded[order.id]
        if status != order.status.value:
            for was in _order_status_counts(customer_id, status):
                self._writes.count(was, -1)
            for now in _order_status_counts(customer_id, order.status.value):
                self._writes.count(now, +1)
        values = {f"new_{column}": value for column, value in _order_values(order).items()}
        _reader(self._session).execute(_UPDATE_ORDER, values)
        self._as_loaded[order.id] = (customer_id, order.status.value)

    def list(
        self,
        request: PageRequest,
        *,
        customer_id: UUID | None = None,
        status: OrderStatus | None = None,
    ) -> Page[Order]:
        status_name = status.value if status else None
        count_name = (row_counts.orders_of(customer_id, status_name) if customer_id
                      else row_counts.orders_with_status(status_name) if status_name
                      else row_counts.ORDERS)
        rows, total = _orders_page(customer_id is not None, status is not None).run(
            self._session, request, customer_id=customer_id, status=status_name,
            count_name=count_name)
        return Page(items=[_order_from_row(row) for row in rows], request=request, total=total)


# An order with the state of the SMS that announced it, in one statement.
_ORDER_COLUMNS = (
    *_ORDERS.c,
    _SMS.c.status.label("sms_status"),
    _SMS.c.attempts.label("sms_attempts"),
    _SMS.c.last_error.label("sms_last_error"),
    _SMS.c.sent_at.label("sms_sent_at"),
)
_ANNOUNCES_ORDER = (_SMS.c.order_id == _ORDERS.c.id) & (_SMS.c.kind == SmsKind.ORDER_PLACED.value)
_ANNOUNCED_ORDERS = _ORDERS.outerjoin(_SMS, _ANNOUNCES_ORDER)
_ORDER_BY_ID = (select(*_ORDER_COLUMNS).select_from(_ANNOUNCED_ORDERS)
                .where(_ORDERS.c.id == bindparam("order_id")))
# SELECT ... FOR UPDATE OF orders (the outer-joined SMS cannot be locked); SQLite has no row
# locks, SQLAlchemy leaves the clause out, and its one writer at a time serialises changes.
_ORDER_BY_ID_LOCKED = _ORDER_BY_ID.with_for_update(of=_ORDERS)
_UPDATE_ORDER = (update(OrderRow).where(_ORDERS.c.id == bindparam("new_id"))
                 .values({column.name: bindparam(f"new_{column.name}")
                          for column in _ORDERS.c if column.name != "id"}))


@cache
def _orders_page(of_customer: bool, with_status: bool) -> _PageQuery:
    """A page of orders, newest first, perhaps only one customer's or those with one status;
    the total is the row count named ``count_name``."""
    conditions = []
    if of_customer:
        conditions.append(_ORDERS.c.customer_id == bindparam("customer_id"))
    if with_status:
        conditions.append(_ORDERS.c.status == bindparam("status"))
    newest_first = (_ORDERS.c.created_at.desc(), _ORDERS.c.id.desc())
    # The page's ids come from an index alone; only those orders are then read and joined to
    # their SMS. Joining first would look up the SMS of every order the offset skips.
    picked = (select(_ORDERS.c.id).where(*conditions).order_by(*newest_first)
              .limit(bindparam("limit")).offset(bindparam("offset")).subquery())
    page = (select(*_ORDER_COLUMNS).select_from(picked)
            .join(_ORDERS, _ORDERS.c.id == picked.c.id).outerjoin(_SMS, _ANNOUNCES_ORDER)
            .order_by(*newest_first))
    return _PageQuery.of(page, row_counts.total(bindparam("count_name")))


def _order_from_row(row: Any) -> Order:
    """An order from a row of ``_ORDER_COLUMNS``."""
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


def _order_status_counts(customer_id: UUID, status: str) -> list[str]:
    """The counts an order's status is part of."""
    return [row_counts.orders_with_status(status), row_counts.orders_of(customer_id, status)]


def _order_counts(customer_id: UUID, status: str) -> list[str]:
    """Every count an order is part of."""
    return [row_counts.ORDERS, row_counts.orders_of(customer_id),
            *_order_status_counts(customer_id, status)]


def _order_values(order: Order) -> dict[str, Any]:
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


def _assign(row: Base, values: dict[str, Any]) -> None:
    """Write column values into a row the session tracks."""
    for column, value in values.items():
        setattr(row, column, value)


class SqlAlchemySmsOutbox(ports.SmsOutbox):
    def __init__(self, session: Session, writes: PendingWrites) -> None:
        self._session = session
        self._writes = writes

    def add(self, message: SmsMessage) -> None:
        self._writes.insert(SmsRow, _sms_values(message))

    def get(self, message_id: UUID) -> SmsMessage | None:
        row = self._session.get(SmsRow, message_id)
        return _sms_from_row(row) if row else None

    def for_order(self, order_id: UUID) -> list[SmsMessage]:
        rows = self._session.scalars(
            select(SmsRow)
            .where(SmsRow.order_id == order_id)
            .order_by(SmsRow.created_at, SmsRow.id)
        ).all()
        return [_sms_from_row(row) for row in rows]

    def lock_due(self, now: datetime, *, limit: int) -> list[SmsMessage]:
        # FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has no row locks and SQLAlchemy leaves
        # the clause out there, which is why SQLite runs one worker at a time.
        due = (
            select(SmsRow)
            .where(SmsRow.status == SmsStatus.QUEUED.value, SmsRow.next_attempt_at <= now)
            .order_by(SmsRow.next_attempt_at, SmsRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_sms_from_row(row) for row in self._session.scalars(due)]

    def save(self, message: SmsMessage) -> None:
        row = self._session.get(SmsRow, message.id)
        if row is None:
            raise LookupError(f"message {message.id} was never added, so it cannot be saved")
        _assign(row, _sms_values(message))

    def get_by_provider_id(self, provider_message_id: str) -> SmsMessage | None:
        row = self._session.scalars(
            select(SmsRow).where(SmsRow.provider_message_id == provider_message_id).limit(1)
        ).first()
        return _sms_from_row(row) if row else None

    def failed(self, *, limit: int) -> list[SmsMessage]:
        rows = self._session.scalars(
            select(SmsRow).where(SmsRow.status == SmsStatus.FAILED.value)
            .order_by(SmsRow.created_at, SmsRow.id).limit(limit)
        )
        return [_sms_from_row(row) for row in rows]

    def count_by_status(self) -> dict[SmsStatus, int]:
        counts = self._session.execute(
            select(SmsRow.status, func.count()).group_by(SmsRow.status)
        ).all()
        return {SmsStatus(status): count for status, count in counts}


def _sms_from_row(row: SmsRow) -> SmsMessage:
    return SmsMessage(
        id=row.id,
        order_id=row.order_id,
        kind=SmsKind(row.kind),
        recipient=PhoneNumber(row.recipient),
        text=row.text,
        status=SmsStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        provider_message_id=row.provider_message_id,
        sent_at=row.sent_at,
        created_at=row.created_at,
    )


def _sms_values(message: SmsMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "order_id": message.order_id,
        "kind": message.kind.value,
        "recipient": message.recipient.e164,
        "text": message.text,
        "status": message.status.value,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": message.last_error,
        "provider_message_id": message.provider_message_id,
        "sent_at": message.sent_at,
        "created_at": message.created_at,
    }


class SqlAlchemyIncomingMessages(ports.IncomingMessages):
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, message: IncomingSms) -> None:
        self._session.add(IncomingSmsRow(
            id=message.id, provider_message_id=message.provider_message_id,
            sender=message.sender, text=message.text, received_at=message.received_at,
            outcome=message.outcome.value, order_id=message.order_id,
        ))

    def get_by_provider_id(self, provider_message_id: str) -> IncomingSms | None:
        row = self._session.scalars(select(IncomingSmsRow).where(
            IncomingSmsRow.provider_message_id == provider_message_id)).first()
        return _incoming_from_row(row) if row else None

    def for_order(self, order_id: UUID) -> list[IncomingSms]:
        rows = _reader(self._session).execute(_REPLIES_TO_ORDER, {"order_id": order_id})
        return [_incoming_from_row(row) for row in rows]


_REPLIES_TO_ORDER = (select(_INCOMING).where(_INCOMING.c.order_id == bindparam("order_id"))
                     .order_by(_INCOMING.c.received_at, _INCOMING.c.id))


def _incoming_from_row(row: IncomingSmsRow | Any) -> IncomingSms:
    return IncomingSms(
        id=row.id, provider_message_id=row.provider_message_id, sender=row.sender,
        text=row.text, received_at=row.received_at, outcome=ReplyOutcome(row.outcome),
        order_id=row.order_id,
    )


class SqlAlchemyIdempotencyKeys(ports.IdempotencyKeys):
    def __init__(self, session: Session, writes: PendingWrites) -> None:
        self._session = session
        self._writes = writes

    def get(self, owner: str, key: str) -> ports.IdempotencyRecord | None:
        row = self._session.get(IdempotencyKeyRow, (owner, key))
        if row is None:
            return None
        return ports.IdempotencyRecord(
            owner=row.owner,
            key=row.key,
            fingerprint=row.fingerprint,
            order_id=row.order_id,
            notification_id=row.notification_id,
            created_at=row.created_at,
        )

    def add(self, record: ports.IdempotencyRecord) -> None:
        # Held back like the order and the SMS it refers to.
        self._writes.insert(IdempotencyKeyRow, {
            "owner": record.owner,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "order_id": record.order_id,
            "notification_id": record.notification_id,
            "created_at": record.created_at,
        })


    def remove_created_before(self, when: datetime) -> int:
        result = self._session.execute(delete(IdempotencyKeyRow)
                                       .where(IdempotencyKeyRow.created_at < when))
        return int(result.rowcount)  # type: ignore[attr-defined]


class SqlAlchemyRevokedTokens(ports.RevokedTokens):
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, jti: str, *, expires_at: datetime) -> None:
        self._session.add(RevokedTokenRow(jti=jti, expires_at=expires_at))

    def contains(self, jti: str) -> bool:
        return self._session.get(RevokedTokenRow, jti) is not None

    def check(self, jti: str, family: str, *, issued_to: UUID | None
              ) -> tuple[bool, Role | None]:
        was_revoked, current_role = _reader(self._session).execute(
            _TOKEN_CHECK, {"jti": jti, "family": family, "user_id": issued_to}).one()
        return bool(was_revoked), Role(current_role) if current_role else None

    def remove_expired(self, now: datetime) -> int:
        result = self._session.execute(delete(RevokedTokenRow)
                                       .where(RevokedTokenRow.expires_at < now))
        return int(result.rowcount)  # type: ignore[attr-defined]


# Every request with a token asks this: whether it or its family was revoked and its
# holder's role now.
_TOKEN_CHECK = select(
    select(_REVOKED.c.jti).where(
        _REVOKED.c.jti.in_([bindparam("jti"), bindparam("family")])).exists(),
    select(_USERS.c.role).where(_USERS.c.id == bindparam("user_id")).scalar_subquery(),
)


class SqlAlchemyUsageCounters(ports.UsageCounters):
    def __init__(self, session: Session) -> None:
        self._session = session

    def take(self, key: str, window_start: datetime, *, limit: int) -> bool:
        if limit < 1:
            return False
        connection = self._session.connection()
        taken = connection.execute(_take_statement(connection.dialect.name), {
            "key": key, "window_start": window_start, "limit": limit}).first()
        return taken is not None


@cache
def _take_statement(dialect: str) -> Any:
    """One more use, unless the limit was reached: in one statement, so that of two
    transactions taking the last use at once the second waits for the first's row lock and
    then finds no room."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(UsageCountRow).values(key=bindparam("key"),
                                      window_start=bindparam("window_start"), used=1)
    return statement.on_conflict_do_update(
        index_elements=[_USAGE.c.key, _USAGE.c.window_start],
        set_={"used": _USAGE.c.used + 1},
        where=_USAGE.c.used < bindparam("limit"),
    ).returning(_USAGE.c.used)
