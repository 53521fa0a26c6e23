"""Customers: users with a customer code."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select, bindparam, select

from app.adapters.sqlalchemy import row_counts
from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.paging import PageQuery
from app.adapters.sqlalchemy.tables import customers, identities, users
from app.adapters.sqlalchemy.users import SqlAlchemyUserRepository, user_from_rows
from app.domain.users import Customer
from app.domain.values import CustomerCode
from app.services import ports
from app.services.views import CustomerView, Page, PageRequest

# A customer with their user's columns (named as in the users table) and one identity of
# theirs per row: use cases that load a customer load its user next, which then costs nothing.
_WITH_USER = select(
    customers.c.id.label("customer_id"), customers.c.code.label("customer_code"),
    customers.c.created_at.label("customer_created_at"), *users.c,
    identities.c.provider, identities.c.subject,
).join(users, users.c.id == customers.c.user_id).outerjoin(
    identities, identities.c.user_id == users.c.id)
_BY_CODE = _WITH_USER.where(customers.c.code == bindparam("code"))
_BY_USER = _WITH_USER.where(customers.c.user_id == bindparam("user_id"))
_CODE_EXISTS = select(customers.c.id).where(customers.c.code == bindparam("code"))

# A customer as admins see them: with the name and contacts of their user.
_VIEWS = select(*customers.c, users.c.name, users.c.email, users.c.phone_number).join(
    users, users.c.id == customers.c.user_id)
_VIEW_BY_CODE = _VIEWS.where(customers.c.code == bindparam("code"))
_VIEW_BY_ID = _VIEWS.where(customers.c.id == bindparam("customer_id"))
_ALL = PageQuery.of(
    _VIEWS.order_by(customers.c.created_at.desc(), customers.c.id.desc())
    .limit(bindparam("limit")).offset(bindparam("offset")),
    row_counts.total(row_counts.CUSTOMERS))


class SqlAlchemyCustomerRepository(ports.CustomerRepository):
    def __init__(self, batch: Batch, users: SqlAlchemyUserRepository) -> None:
        self._batch = batch
        self._users = users

    def add(self, customer: Customer) -> None:
        self._batch.insert(customers, customer_values(customer))
        self._batch.count(row_counts.CUSTOMERS, +1)

    def get_by_code(self, code: CustomerCode) -> Customer | None:
        return self._with_user(_BY_CODE, code=code.value)

    def get_by_user(self, user_id: UUID) -> Customer | None:
        return self._with_user(_BY_USER, user_id=user_id)

    def code_exists(self, code: CustomerCode) -> bool:
        return self._batch.run(_CODE_EXISTS, {"code": code.value}).first() is not None

    def view(self, *, code: CustomerCode | None = None, customer_id: UUID | None = None
             ) -> CustomerView | None:
        if code is not None:
            found = self._batch.run(_VIEW_BY_CODE, {"code": code.value}).first()
        elif customer_id is not None:
            found = self._batch.run(_VIEW_BY_ID, {"customer_id": customer_id}).first()
        else:
            return None
        return customer_view(found) if found else None

    def list(self, request: PageRequest) -> Page[CustomerView]:
        found, total = _ALL.run(self._batch, request)
        return Page(items=[customer_view(row) for row in found], request=request, total=total)

    def _with_user(self, query: Select[Any], **params: Any) -> Customer | None:
        rows = self._batch.run(query, params).all()
        if not rows:
            return None
        self._users.remember(user_from_rows(rows))
        row = rows[0]
        return Customer(id=row.customer_id, user_id=row.id, code=CustomerCode(row.customer_code),
                        created_at=row.customer_created_at)


def customer_values(customer: Customer) -> dict[str, Any]:
    return {"id": customer.id, "user_id": customer.user_id, "code": customer.code.value,
            "created_at": customer.created_at}


def customer_view(row: Any) -> CustomerView:
    """A customer from a row of ``_VIEWS``."""
    return CustomerView(id=row.id, code=row.code, user_id=row.user_id, name=row.name,
                        email=row.email, phone_number=row.phone_number,
                        created_at=row.created_at)
