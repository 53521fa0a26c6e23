"""The repository ports over a SQLAlchemy session: rows go in and domain objects come out.

Each aggregate converts in exactly two functions, ``_x_from_row`` and ``_x_to_row``. Value
objects are rebuilt from the stored strings without validating them again: only valid values
were ever written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVarTuple
from uuid import UUID

from sqlalchemy import ColumnElement, ScalarSelect, Select, func, select, true
from sqlalchemy.orm import Session, joinedload

from app.adapters.sqlalchemy import row_counts
from app.adapters.sqlalchemy.orm import (
    CustomerRow,
    IdempotencyKeyRow,
    IdentityRow,
    IncomingSmsRow,
    OrderRow,
    RevokedTokenRow,
    SmsRow,
    UserRow,
)
from app.adapters.sqlalchemy.row_counts import RowCounts
from app.domain.notifications import SmsKind, SmsMessage, SmsStatus
from app.domain.orders import Order, OrderStatus
from app.domain.replies import IncomingSms, ReplyOutcome
from app.domain.users import Customer, Identity, Role, User
from app.domain.values import CustomerCode, Email, Money, PhoneNumber
from app.services import ports
from app.services.views import CustomerView, Page, PageRequest, UserView

# Whatever a query selects: helpers that add clauses keep it.
Columns = TypeVarTuple("Columns")


def _rows_counted(row_type: type[Any], *conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    """A filtered total, counted over the rows it filters (``row_counts`` keeps unfiltered ones)."""
    return (select(func.count()).select_from(row_type).where(*conditions)
            .correlate(None).scalar_subquery())


def _page_with_total(
    session: Session, page: Select[*Columns], request: PageRequest, total: ScalarSelect[int]
) -> tuple[list[Any], int]:
    """A page's rows and the total in one statement: the total rides on each row as a scalar
    subquery (evaluated once). Only a page past the end, with no row, costs a second one."""
    rows = [tuple(row) for row in session.execute(page.add_columns(total)).all()]
    if rows:
        return [row[:-1] for row in rows], rows[0][-1]
    return [], (session.scalar(select(total)) or 0) if request.page > 1 else 0


class SqlAlchemyUserRepository(ports.UserRepository):
    def __init__(self, session: Session, counts: RowCounts) -> None:
        self._session = session
        self._counts = counts

    def add(self, user: User) -> None:
        """Insert a new user, or write back the state of an existing one."""
        row = self._session.get(UserRow, user.id)
        if row is None:
            self._session.add(_user_to_row(user, UserRow()))
            self._counts.change(row_counts.USERS, +1)
        else:
            _user_to_row(user, row)

    def get(self, user_id: UUID) -> User | None:
        row = self._session.get(UserRow, user_id, options=[joinedload(UserRow.identities)])
        return _user_from_row(row) if row else None

    def get_by_email(self, email: Email) -> User | None:
        return self._one(UserRow.email == email.value)

    def get_by_identity(self, provider: str, subject: str) -> User | None:
        return self._one(UserRow.identities.any(
            (IdentityRow.provider == provider) & (IdentityRow.subject == subject)))

    def get_by_phone_number(self, phone_number: PhoneNumber) -> User | None:
        return self._one(UserRow.phone_number == phone_number.e164)

    def view(self, user_id: UUID) -> UserView | None:
        found = self._session.execute(_user_views().where(UserRow.id == user_id)).first()
        return _user_view(*found) if found else None

    def list(self, request: PageRequest, *, email_contains: str | None) -> Page[UserView]:
        condition = (
            UserRow.email.contains(email_contains.lower(), autoescape=True)
            if email_contains
            else true()
        )
        page = (
            _user_views()
            .where(condition)
            .order_by(UserRow.created_at.desc(), UserRow.id.desc())
            .limit(request.per_page)
            .offset(request.offset)
        )
        if email_contains:
            total_query = _rows_counted(UserRow, condition)
        else:
            self._counts.write()
            total_query = row_counts.total(row_counts.USERS)
        found, total = _page_with_total(self._session, page, request, total_query)
        return Page(items=[_user_view(*row) for row in found], request=request, total=total)

    def _one(self, condition: ColumnElement[bool]) -> User | None:
        # Every condition names one user at most; identities come joined in, in one query.
        found = self._session.scalars(
            select(UserRow).options(joinedload(UserRow.identities)).where(condition))
        row = found.unique().one_or_none()
        return _user_from_row(row) if row else None


def _user_views() -> Select[Any]:
    # Each user's providers come aggregated in the same statement, not in a second one.
    providers = (select(func.aggregate_strings(IdentityRow.provider, ","))
                 .where(IdentityRow.user_id == UserRow.id).scalar_subquery())
    return select(
        UserRow.id, UserRow.email, UserRow.name, UserRow.role, UserRow.phone_number,
        UserRow.created_at, CustomerRow.code, providers,
    ).outerjoin(CustomerRow, CustomerRow.user_id == UserRow.id)


def _user_from_row(row: UserRow) -> User:
    return User(
        id=row.id,
        email=Email(row.email),
        name=row.name,
        role=Role(row.role),
        phone_number=PhoneNumber(row.phone_number) if row.phone_number else None,
        password_hash=row.password_hash,
        email_verified=row.email_verified,
        identities=[Identity(provider=i.provider, subject=i.subject) for i in row.identities],
        created_at=row.created_at,
    )


def _user_to_row(user: User, row: UserRow) -> UserRow:
    row.id = user.id
    row.email = user.email.value
    row.name = user.name
    row.role = user.role.value
    row.phone_number = user.phone_number.e164 if user.phone_number else None
    row.password_hash = user.password_hash
    row.email_verified = user.email_verified
    row.created_at = user.created_at
    wanted = {(i.provider, i.subject) for i in user.identities}
    kept = [i for i in row.identities if (i.provider, i.subject) in wanted]
    known = {(i.provider, i.subject) for i in kept}
    row.identities = kept + [
        IdentityRow(provider=provider, subject=subject)
        for provider, subject in sorted(wanted - known)
    ]
    return row


def _user_view(
    user_id: UUID, email: str, name: str, role: str, phone_number: str | None,
    created_at: datetime, customer_code: str | None, providers: str | None,
) -> UserView:
    return UserView(
        id=user_id,
        email=email,
        name=name,
        role=role,
        phone_number=phone_number,
        providers=sorted(set(providers.split(","))) if providers else [],
        customer_code=customer_code,
        created_at=created_at,
    )


class SqlAlchemyCustomerRepository(ports.CustomerRepository):
    def __init__(self, session: Session, counts: RowCounts) -> None:
        self._session = session
        self._counts = counts

    def add(self, customer: Customer) -> None:
        self._session.add(_customer_to_row(customer, CustomerRow()))
        self._counts.change(row_counts.CUSTOMERS, +1)

    def get_by_code(self, code: CustomerCode) -> Customer | None:
        return self._one(CustomerRow.code == code.value)

    def get_by_user(self, user_id: UUID) -> Customer | None:
        return self._one(CustomerRow.user_id == user_id)

    def code_exists(self, code: CustomerCode) -> bool:
        found = self._session.scalar(select(CustomerRow.id).where(CustomerRow.code == code.value))
        return found is not None

    def view(
        self, *, code: CustomerCode | None = None, customer_id: UUID | None = None
    ) -> CustomerView | None:
        if code is not None:
            condition = CustomerRow.code == code.value
        elif customer_id is not None:
            condition = CustomerRow.id == customer_id
        else:
            return None
        found = self._session.execute(_customer_views().where(condition)).first()
        return _customer_view(*found) if found else None

    def list(self, request: PageRequest) -> Page[CustomerView]:
        page = (
            _customer_views()
            .order_by(CustomerRow.created_at.desc(), CustomerRow.id.desc())
            .limit(request.per_page)
            .offset(request.offset)
        )
        self._counts.write()
        found, total = _page_with_total(
            self._session, page, request, row_counts.total(row_counts.CUSTOMERS))
        return Page(items=[_customer_view(*row) for row in found], request=request, total=total)

    def _one(self, condition: ColumnElement[bool]) -> Customer | None:
        # The customer's user comes along into the session: use cases that load a customer
        # load its user next, which then costs no statement of its own.
        with_user = joinedload(CustomerRow.user).joinedload(UserRow.identities)
        found = self._session.scalars(select(CustomerRow).options(with_user).where(condition))
        row = found.unique().first()
        return _customer_from_row(row) if row else None


def _customer_views() -> Select[CustomerRow, str, str, str | None]:
    return select(CustomerRow, UserRow.name, UserRow.email, UserRow.phone_number).join(
        UserRow, UserRow.id == CustomerRow.user_id
    )


def _customer_from_row(row: CustomerRow) -> Customer:
    return Customer(
        id=row.id, user_id=row.user_id, code=CustomerCode(row.code), created_at=row.created_at
    )


def _customer_to_row(customer: Customer, row: CustomerRow) -> CustomerRow:
    row.id = customer.id
    row.user_id = customer.user_id
    row.code = customer.code.value
    row.created_at = customer.created_at
    return row


def _customer_view(
    row: CustomerRow, name: str, email: str, phone_number: str | None
) -> CustomerView:
    return CustomerView(
        id=row.id,
        code=row.code,
        user_id=row.user_id,
        name=name,
        email=email,
        phone_number=phone_number,
        created_at=row.created_at,
    )


class SqlAlchemyOrderRepository(ports.OrderRepository):
    def __init__(self, session: Session, counts: RowCounts) -> None:
        self._session = session
        self._counts = counts

    def add(self, order: Order) -> None:
        self._session.add(_order_to_row(order, OrderRow()))
        for name in _order_counts(order.customer_id, order.status.value):
            self._counts.change(name, +1)

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order | None:
        query = _with_notification(select(OrderRow, SmsRow)).where(OrderRow.id == order_id)
        if for_update:
            # SELECT ... FOR UPDATE OF orders (the outer-joined SMS cannot be locked); SQLite
            # has no row locks, SQLAlchemy leaves the clause out, and its one writer at a
            # time serialises the changes instead.
            query = query.with_for_update(of=OrderRow).execution_options(
                populate_existing=True)
        found = self._session.execute(query).first()
        return _order_from_row(*found) if found else None

    def save(self, order: Order) -> None:
        row = self._session.get(OrderRow, order.id)
        if row is None:
            raise LookupError(f"order {order.id} was never added, so it cannot be saved")
        if row.status != order.status.value:
            for was in _order_status_counts(row.customer_id, row.status):
                self._counts.change(was, -1)
            for now in _order_status_counts(row.customer_id, order.status.value):
                self._counts.change(now, +1)
        _order_to_row(order, row)

    def list(
        self,
        request: PageRequest,
        *,
        customer_id: UUID | None = None,
        status: OrderStatus | None = None,
    ) -> Page[Order]:
        conditions: list[ColumnElement[bool]] = []
        if customer_id is not None:
            conditions.append(OrderRow.customer_id == customer_id)
        if status is not None:
            conditions.append(OrderRow.status == status.value)
        newest_first = (OrderRow.created_at.desc(), OrderRow.id.desc())
        # The page's ids come from an index alone; only those orders are then read and joined
        # to their SMS. Joining first would look up the SMS of every order the offset skips.
        picked = (
            select(OrderRow.id)
            .where(*conditions)
            .order_by(*newest_first)
            .limit(request.per_page)
            .offset(request.offset)
            .subquery()
        )
        page = _with_notification(
            select(OrderRow, SmsRow).select_from(picked).join(OrderRow, OrderRow.id == picked.c.id)
        ).order_by(*newest_first)
        self._counts.write()
        status_name = status.value if status else None
        total_query = row_counts.total(
            row_counts.orders_of(customer_id, status_name) if customer_id
            else row_counts.orders_with_status(status_name) if status_name
            else row_counts.ORDERS)
        rows, total = _page_with_total(self._session, page, request, total_query)
        return Page(
            items=[_order_from_row(order, sms) for order, sms in rows],
            request=request,
            total=total,
        )


def _with_notification(query: Select[*Columns]) -> Select[*Columns]:
    """Join each order to the SMS that announced it, in the same statement."""
    return query.outerjoin(SmsRow, (SmsRow.order_id == OrderRow.id)
                           & (SmsRow.kind == SmsKind.ORDER_PLACED.value))


def _order_status_counts(customer_id: UUID, status: str) -> list[str]:
    """The counts an order's status is part of."""
    return [row_counts.orders_with_status(status), row_counts.orders_of(customer_id, status)]


def _order_counts(customer_id: UUID, status: str) -> list[str]:
    """Every count an order is part of."""
    return [row_counts.ORDERS, row_counts.orders_of(customer_id),
            *_order_status_counts(customer_id, status)]


def _order_from_row(row: OrderRow, announcement: SmsRow | None = None) -> Order:
    return Order(
        id=row.id,
        customer_id=row.customer_id,
        customer_code=CustomerCode(row.customer_code),
        item=row.item,
        amount=Money(row.amount, row.currency),
        status=OrderStatus(row.status),
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        notification=_sms_from_row(announcement).state if announcement else None,
    )


def _order_to_row(order: Order, row: OrderRow) -> OrderRow:
    row.id = order.id
    row.customer_id = order.customer_id
    row.customer_code = order.customer_code.value
    row.item = order.item
    row.amount = order.amount.amount
    row.currency = order.amount.currency
    row.status = order.status.value
    row.created_at = order.created_at
    row.confirmed_at = order.confirmed_at
    return row


class SqlAlchemySmsOutbox(ports.SmsOutbox):
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, message: SmsMessage) -> None:
        self._session.add(_sms_to_row(message, SmsRow()))

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
        _sms_to_row(message, row)

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


def _sms_to_row(message: SmsMessage, row: SmsRow) -> SmsRow:
    row.id = message.id
    row.order_id = message.order_id
    row.kind = message.kind.value
    row.recipient = message.recipient.e164
    row.text = message.text
    row.status = message.status.value
    row.attempts = message.attempts
    row.next_attempt_at = message.next_attempt_at
    row.last_error = message.last_error
    row.provider_message_id = message.provider_message_id
    row.sent_at = message.sent_at
    row.created_at = message.created_at
    return row


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
        rows = self._session.scalars(
            select(IncomingSmsRow).where(IncomingSmsRow.order_id == order_id)
            .order_by(IncomingSmsRow.received_at, IncomingSmsRow.id))
        return [_incoming_from_row(row) for row in rows]


def _incoming_from_row(row: IncomingSmsRow) -> IncomingSms:
    return IncomingSms(
        id=row.id, provider_message_id=row.provider_message_id, sender=row.sender,
        text=row.text, received_at=row.received_at, outcome=ReplyOutcome(row.outcome),
        order_id=row.order_id,
    )


class SqlAlchemyIdempotencyKeys(ports.IdempotencyKeys):
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> ports.IdempotencyRecord | None:
        row = self._session.get(IdempotencyKeyRow, key)
        if row is None:
            return None
        return ports.IdempotencyRecord(
            key=row.key,
            fingerprint=row.fingerprint,
            order_id=row.order_id,
            notification_id=row.notification_id,
            created_at=row.created_at,
        )

    def add(self, record: ports.IdempotencyRecord) -> None:
        self._session.add(
            IdempotencyKeyRow(
                key=record.key,
                fingerprint=record.fingerprint,
                order_id=record.order_id,
                notification_id=record.notification_id,
                created_at=record.created_at,
            )
        )


class SqlAlchemyRevokedTokens(ports.RevokedTokens):
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, jti: str, *, expires_at: datetime) -> None:
        self._session.add(RevokedTokenRow(jti=jti, expires_at=expires_at))

    def contains(self, jti: str) -> bool:
        return self._session.get(RevokedTokenRow, jti) is not None

    def check(self, jti: str, *, issued_to: UUID | None) -> tuple[bool, Role | None]:
        revoked = select(RevokedTokenRow.jti).where(RevokedTokenRow.jti == jti).exists()
        role = select(UserRow.role).where(UserRow.id == issued_to).scalar_subquery()
        was_revoked, current_role = self._session.execute(select(revoked, role)).one()
        return bool(was_revoked), Role(current_role) if current_role else None
