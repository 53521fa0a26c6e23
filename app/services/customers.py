"""Turning users into customers, and listing them."""

from collections.abc import Callable
from uuid import UUID

from app.domain.errors import AlreadyCustomer
from app.domain.users import Customer
from app.domain.values import CustomerCode
from app.services.errors import UniqueViolation, UserNotFound
from app.services.ports import Clock, UnitOfWork
from app.services.views import CustomerView, Page, PageRequest

_CODE_ATTEMPTS = 5


def create_customer(
    user_id: UUID,
    *,
    uow: UnitOfWork,
    clock: Clock,
    new_code: Callable[[], CustomerCode] = CustomerCode.generate,
) -> CustomerView:
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        existing = uow.customers.get_by_user(user.id)
        if existing is not None:
            raise AlreadyCustomer(existing.code.value)
        customer = Customer.enrol(user, code=_unused_code(uow, new_code), at=clock())
        uow.customers.add(customer)
        try:
            uow.commit()
        except UniqueViolation as race:
            # Only a concurrent enrolment of the same user can get here: codes were checked.
            winner = _customer_of(user.id, uow)
            raise AlreadyCustomer(winner.code.value) from race
        view = uow.customers.view(customer_id=customer.id)
        assert view is not None
        return view


def list_customers(request: PageRequest, *, uow: UnitOfWork) -> Page[CustomerView]:
    with uow:
        return uow.customers.list(request)


def _unused_code(uow: UnitOfWork, new_code: Callable[[], CustomerCode]) -> CustomerCode:
    for _ in range(_CODE_ATTEMPTS):
        code = new_code()
        if not uow.customers.code_exists(code):
            return code
    raise RuntimeError("could not find an unused customer code")


def _customer_of(user_id: UUID, uow: UnitOfWork) -> Customer:
    uow.rollback()
    customer = uow.customers.get_by_user(user_id)
    assert customer is not None
    return customer
