import pytest

from app.domain.users import Identity, Role, User
from app.domain.values import Email
from app.services.signin import EmailMissing, EmailNotVerified, SignedInIdentity, sign_in
from tests.unit.fakes import FakeClock, FakeUnitOfWork


def google(subject="108234", email="wanjiku@example.com", verified=True, name="Wanjiku Kamau"):
    return SignedInIdentity(provider="google", subject=subject, email=email,
                            email_verified=verified, name=name)


def existing_user(uow, *, email="wanjiku@example.com", role=Role.USER, identities=(),
                  email_verified=True):
    user = User(email=Email(email), name="W. Kamau", role=role, created_at=FakeClock()(),
                identities=list(identities), email_verified=email_verified)
    uow.users.add(user)
    return user


class TestSignIn:
    def test_a_first_sign_in_creates_a_plain_user(self):
        uow = FakeUnitOfWork()

        user = sign_in(google(), uow=uow, clock=FakeClock())

        stored = uow.users.get(user.id)
        assert stored.email == Email("wanjiku@example.com")
        assert stored.name == "Wanjiku Kamau"
        assert stored.role is Role.USER
        assert stored.identities == [Identity("google", "108234")]
        assert uow.committed

    def test_a_returning_identity_finds_the_same_user_and_refreshes_the_name(self):
        uow = FakeUnitOfWork()
        first = sign_in(google(), uow=uow, clock=FakeClock())

        again = sign_in(google(name="Wanjiku Otieno"), uow=uow, clock=FakeClock())

        assert again.id == first.id
        assert uow.users.get(first.id).name == "Wanjiku Otieno"
        assert len(uow.users.rows) == 1

    def test_a_returning_identity_with_a_new_verified_email_updates_it(self):
        uow = FakeUnitOfWork()
        first = sign_in(google(), uow=uow, clock=FakeClock())

        sign_in(google(email="Wanjiku@Kamau.co.ke"), uow=uow, clock=FakeClock())

        assert uow.users.get(first.id).email == Email("wanjiku@kamau.co.ke")

    def test_an_unverified_new_email_is_not_taken_over(self):
        uow = FakeUnitOfWork()
        first = sign_in(google(), uow=uow, clock=FakeClock())

        sign_in(google(email="someone-else@example.com", verified=False), uow=uow,
                clock=FakeClock())

        assert uow.users.get(first.id).email == Email("wanjiku@example.com")

    def test_a_new_email_that_another_user_holds_is_left_alone(self):
        uow = FakeUnitOfWork()
        existing_user(uow, email="otieno@example.com")
        first = sign_in(google(), uow=uow, clock=FakeClock())

        sign_in(google(email="otieno@example.com"), uow=uow, clock=FakeClock())

        assert uow.users.get(first.id).email == Email("wanjiku@example.com")

    def test_a_verified_email_links_the_identity_to_the_existing_user(self):
        uow = FakeUnitOfWork()
        known = existing_user(uow, identities=[Identity("github", "583231")])

        user = sign_in(google(email="WANJIKU@example.com"), uow=uow, clock=FakeClock())

        assert user.id == known.id
        assert uow.users.get(known.id).providers == ["github", "google"]
        assert len(uow.users.rows) == 1

    def test_an_unverified_email_of_an_existing_user_is_refused(self):
        uow = FakeUnitOfWork()
        known = existing_user(uow)

        with pytest.raises(EmailNotVerified):
            sign_in(google(verified=False), uow=uow, clock=FakeClock())

        assert uow.users.get(known.id).identities == []
        assert len(uow.users.rows) == 1
        assert not uow.committed

    def test_an_unverified_email_nobody_has_still_makes_a_user(self):
        uow = FakeUnitOfWork()

        user = sign_in(google(verified=False), uow=uow, clock=FakeClock())

        assert uow.users.get(user.id).email == Email("wanjiku@example.com")

    def test_a_verified_email_takes_the_address_from_an_account_that_never_proved_it(self):
        # Someone signed up first with Wanjiku's address, which their provider never checked.
        uow = FakeUnitOfWork()
        squatter = sign_in(google(subject="squatter", verified=False), uow=uow,
                           clock=FakeClock())

        owner = sign_in(google(subject="wanjiku-real"), uow=uow, clock=FakeClock())

        assert owner.id != squatter.id
        assert uow.users.get(owner.id).email == Email("wanjiku@example.com")
        assert uow.users.get(owner.id).email_verified
        left = uow.users.get(squatter.id)
        assert left.identities == [Identity("google", "squatter")]
        assert left.email == Email(f"{squatter.id.hex}@unverified.invalid")
        assert not left.email_verified
        assert uow.committed

    def test_the_squatter_signing_in_again_keeps_their_account_not_the_address(self):
        uow = FakeUnitOfWork()
        squatter = sign_in(google(subject="squatter", verified=False), uow=uow,
                           clock=FakeClock())
        sign_in(google(subject="wanjiku-real"), uow=uow, clock=FakeClock())

        again = sign_in(google(subject="squatter", verified=False), uow=uow, clock=FakeClock())

        assert again.id == squatter.id
        assert uow.users.get(squatter.id).email.value.endswith("@unverified.invalid")

    def test_an_unverified_sign_in_never_takes_an_address_another_account_holds(self):
        uow = FakeUnitOfWork()
        owner = sign_in(google(subject="wanjiku-real"), uow=uow, clock=FakeClock())

        with pytest.raises(EmailNotVerified):
            sign_in(google(subject="squatter", verified=False), uow=uow, clock=FakeClock())

        assert uow.users.get(owner.id).email == Email("wanjiku@example.com")

    def test_a_verified_sign_in_marks_the_address_verified(self):
        uow = FakeUnitOfWork()

        user = sign_in(google(), uow=uow, clock=FakeClock())

        assert uow.users.get(user.id).email_verified

    def test_linking_to_an_administrator_keeps_the_role_and_grants_nothing_new(self):
        uow = FakeUnitOfWork()
        admin = existing_user(uow, email="grace@example.com", role=Role.ADMIN)

        sign_in(google(email="grace@example.com"), uow=uow, clock=FakeClock())
        newcomer = sign_in(google(subject="777", email="new@example.com"), uow=uow,
                           clock=FakeClock())

        assert uow.users.get(admin.id).role is Role.ADMIN
        assert uow.users.get(newcomer.id).role is Role.USER

    @pytest.mark.parametrize("email", [None, "", "not-an-address"])
    def test_an_identity_without_a_usable_email_is_refused(self, email):
        uow = FakeUnitOfWork()

        with pytest.raises(EmailMissing):
            sign_in(google(email=email), uow=uow, clock=FakeClock())

        assert uow.users.rows == {}

    def test_a_missing_name_falls_back_to_the_stored_name_then_the_email(self):
        uow = FakeUnitOfWork()

        user = sign_in(google(name=None), uow=uow, clock=FakeClock())
        sign_in(google(name="  "), uow=uow, clock=FakeClock())

        assert uow.users.get(user.id).name == "wanjiku"
