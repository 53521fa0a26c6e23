"""Looking users up and keeping their phone numbers."""

from uuid import UUID

from app.domain.values import PhoneNumber
from app.services.errors import PhoneNumberTaken, UniqueViolation, UserNotFound
from app.services.ports import UnitOfWork
from app.services.views import Page, PageRequest, UserView


def add_phone_number(user_id: UUID, raw_phone_number: str, *, uow: UnitOfWork) -> UserView:
    phone_number = PhoneNumber.parse(raw_phone_number)
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        holder = uow.users.get_by_phone_number(phone_number)
        if holder is not None and holder.id != user.id:
            raise PhoneNumberTaken()
        user.phone_number = phone_number
        uow.users.add(user)
        try:
            uow.commit()
        except UniqueViolation as race:
            raise PhoneNumberTaken() from race
        view = uow.users.view(user.id)
        assert view is not None
        return view


def get_user(user_id: UUID, *, uow: UnitOfWork) -> UserView:
    with uow:
        view = uow.users.view(user_id)
    if view is None:
        raise UserNotFound()
    return view


def list_users(
    request: PageRequest, *, email_contains: str | None = None, uow: UnitOfWork
) -> Page[UserView]:
    with uow:
        return uow.users.list(request, email_contains=email_contains or None)
