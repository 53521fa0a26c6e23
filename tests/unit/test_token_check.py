"""What an authentic token is worth now: revoked or not, and who holds it today."""

import uuid
from datetime import timedelta

from app.domain.users import Role
from app.services import auth
from tests.unit.fakes import FakeClock, FakeUnitOfWork
from tests.unit.test_use_cases import register


def test_a_live_token_is_held_by_its_user_as_they_are_now():
    uow = FakeUnitOfWork()
    admin = register(uow)
    admin.role = Role.USER
    uow.users.add(admin)

    check = auth.check_token("a1", str(admin.id), family="f1", uow=uow)

    assert not check.revoked
    assert check.holder is not None and not check.holder.is_admin


def test_a_revoked_token_has_no_holder():
    uow = FakeUnitOfWork()
    admin = register(uow)
    later = FakeClock()() + timedelta(minutes=15)
    auth.revoke_tokens([auth.IssuedToken("a1", later, "f1")], uow=uow, family_expires_at=later)

    check = auth.check_token("a1", str(admin.id), family="f1", uow=uow)

    assert check.revoked and check.holder is None


def test_a_token_of_nobody_has_no_holder():
    uow = FakeUnitOfWork()

    assert auth.check_token("a1", str(uuid.uuid4()), family="f1", uow=uow).holder is None
    assert auth.check_token("a2", "not-an-id", family="f2", uow=uow).holder is None
