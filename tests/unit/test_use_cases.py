from datetime import timedelta
from decimal import Decimal

import pytest

from app.domain.errors import AlreadyCustomer, OrderAlreadyConfirmed, PhoneNumberRequired
from app.domain.orders import OrderStatus
from app.domain.users import Role, User
from app.domain.values import CustomerCode, Email, PhoneNumber
from app.services import auth, customers, housekeeping, orders, users
from app.services.errors import (
    CustomerNotFound,
    EmailTaken,
    IdempotencyKeyReused,
    InvalidApiKey,
    InvalidCredentials,
    OrderNotFound,
    PhoneNumberTaken,
    TokenRevoked,
    UserNotFound,
)
from app.services.views import PageRequest
from tests.unit.fakes import FakeClock, FakePasswordHasher, FakeUnitOfWork

API_KEY = "123456721"
DECOY = FakePasswordHasher().hash("not anybody's password")


def register(uow, email="admin@example.com", password="s3cret-pass", **extra):
    cmd = auth.RegisterAdmin(email=email, password=password, api_key=API_KEY, **extra)
    return auth.register_admin(cmd, uow=uow, hasher=FakePasswordHasher(), admin_api_key=API_KEY,
                               clock=FakeClock())


def a_user(uow, *, email="wanjiku@example.com", phone="+254719485369", clock=None):
    user = User(email=Email(email), name="Wanjiku Kamau", role=Role.USER,
                phone_number=PhoneNumber(phone) if phone else None,
                created_at=(clock or FakeClock())())
    uow.users.add(user)
    return user


def a_customer(uow, **kwargs):
    user = a_user(uow, **kwargs)
    return customers.create_customer(user.id, uow=uow, clock=FakeClock())


FAMILY_END = FakeClock()() + timedelta(days=30)


def revoked(jti, uow, family="another-family"):
    return auth.check_token(jti, "no-such-user", family=family, uow=uow).revoked


def a_token(jti, family="family-1", *, lifetime=timedelta(days=30)):
    return auth.IssuedToken(jti=jti, expires_at=FakeClock()() + lifetime, family=family)


def place(uow, code, *, item="Sack of maize", amount="420", key=None, clock=None):
    cmd = orders.PlaceOrder(customer_code=code, item=item, amount=amount, currency="KES",
                            idempotency_key=key)
    return orders.place_order(cmd, uow=uow, clock=clock or FakeClock())


class TestRegisterAdmin:
    def test_an_admin_is_stored_with_a_hashed_password(self):
        uow = FakeUnitOfWork()

        admin = register(uow, email="Grace@Example.com", name="Grace")

        stored = uow.users.get(admin.id)
        assert stored.role is Role.ADMIN
        assert stored.email == Email("grace@example.com")
        assert stored.password_hash != "s3cret-pass"
        assert uow.committed

    def test_a_wrong_api_key_is_refused(self):
        uow = FakeUnitOfWork()
        cmd = auth.RegisterAdmin(email="a@example.com", password="s3cret-pass", api_key="nope")

        with pytest.raises(InvalidApiKey):
            auth.register_admin(cmd, uow=uow, hasher=FakePasswordHasher(),
                                admin_api_key=API_KEY, clock=FakeClock())

        assert uow.users.rows == {}

    def test_an_email_is_taken_whatever_its_case(self):
        uow = FakeUnitOfWork()
        register(uow, email="grace@example.com")

        with pytest.raises(EmailTaken):
            register(uow, email="GRACE@example.com")

    def test_a_phone_number_belongs_to_one_user(self):
        uow = FakeUnitOfWork()
        register(uow, email="one@example.com", phone_number="0719485369")

        with pytest.raises(PhoneNumberTaken):
            register(uow, email="two@example.com", phone_number="+254719485369")


class TestAuthenticateAdmin:
    def test_the_right_password_signs_the_admin_in(self):
        uow = FakeUnitOfWork()
        admin = register(uow)

        user = auth.authenticate_admin("ADMIN@example.com", "s3cret-pass", uow=uow,
                                       hasher=FakePasswordHasher(), decoy_hash=DECOY)

        assert user.id == admin.id

    @pytest.mark.parametrize(("email", "password"), [
        ("admin@example.com", "wrong-password"),
        ("nobody@example.com", "s3cret-pass"),
        ("not an email", "s3cret-pass"),
    ])
    def test_wrong_credentials_are_refused_alike(self, email, password):
        uow = FakeUnitOfWork()
        register(uow)

        with pytest.raises(InvalidCredentials):
            auth.authenticate_admin(email, password, uow=uow, hasher=FakePasswordHasher(),
                                    decoy_hash=DECOY)

    def test_a_browser_user_cannot_sign_in_as_admin(self):
        uow = FakeUnitOfWork()
        a_user(uow, email="user@example.com")

        with pytest.raises(InvalidCredentials):
            auth.authenticate_admin("user@example.com", "", uow=uow,
                                    hasher=FakePasswordHasher(), decoy_hash=DECOY)


class TestTokens:
    def test_a_refresh_token_can_be_spent_once(self):
        uow = FakeUnitOfWork()
        admin = register(uow)
        token = a_token("r1")
        auth.rotate_refresh_token(admin.id, token, uow=uow, family_expires_at=FAMILY_END)

        with pytest.raises(TokenRevoked):
            auth.rotate_refresh_token(admin.id, token, uow=uow, family_expires_at=FAMILY_END)

        assert revoked("r1", uow)

    def test_a_spent_refresh_token_spent_again_ends_its_whole_family(self):
        # A thief who copied r1 refreshed first (getting r2); the owner then replays r1.
        uow = FakeUnitOfWork()
        admin = register(uow)
        auth.rotate_refresh_token(admin.id, a_token("r1"), uow=uow,
                                  family_expires_at=FAMILY_END)

        with pytest.raises(TokenRevoked):
            auth.rotate_refresh_token(admin.id, a_token("r1"), uow=uow,
                                      family_expires_at=FAMILY_END)

        assert revoked("r2", uow, family="family-1")
        assert revoked("access-of-r2", uow, family="family-1")
        assert not revoked("r7", uow, family="family-2")
        assert uow.revoked_tokens.rows[auth.family_key("family-1")] == FAMILY_END

    def test_logging_out_ends_the_tokens_of_the_same_sign_in(self):
        uow = FakeUnitOfWork()

        auth.revoke_tokens([a_token("a1", lifetime=timedelta(minutes=15))], uow=uow,
                           family_expires_at=FAMILY_END)

        assert revoked("a1", uow)
        assert revoked("its-refresh-token", uow, family="family-1")
        assert not revoked("a2", uow)

    def test_revoking_a_token_twice_is_harmless(self):
        uow = FakeUnitOfWork()
        token = a_token("a1")

        auth.revoke_tokens([token], uow=uow, family_expires_at=FAMILY_END)
        auth.revoke_tokens([token], uow=uow, family_expires_at=FAMILY_END)

        assert revoked("a1", uow)
        assert not revoked("a2", uow)


class TestPhoneNumbers:
    def test_a_phone_number_is_stored_in_e164(self):
        uow = FakeUnitOfWork()
        user = a_user(uow, phone=None)

        view = users.add_phone_number(user.id, "0719 485 369", uow=uow)

        assert view.phone_number == "+254719485369"
        assert uow.users.get(user.id).phone_number == PhoneNumber("+254719485369")

    def test_another_users_number_is_refused(self):
        uow = FakeUnitOfWork()
        a_user(uow, email="one@example.com", phone="+254719485369")
        other = a_user(uow, email="two@example.com", phone=None)

        with pytest.raises(PhoneNumberTaken):
            users.add_phone_number(other.id, "+254719485369", uow=uow)

    def test_an_unknown_user_is_reported(self):
        with pytest.raises(UserNotFound):
            users.add_phone_number(User(email=Email("x@y.z"), name="", role=Role.USER,
                                        created_at=FakeClock()()).id, "+254719485369",
                                   uow=FakeUnitOfWork())


class TestListUsers:
    def test_users_are_listed_newest_first_and_filtered_by_email(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        a_user(uow, email="old@example.com", phone=None, clock=clock)
        clock.advance(minutes=1)
        a_user(uow, email="new@example.com", phone=None, clock=clock)
        clock.advance(minutes=1)
        a_user(uow, email="other@elsewhere.org", phone=None, clock=clock)

        page = users.list_users(PageRequest(1, 10), email_contains="EXAMPLE", uow=uow)

        assert [u.email for u in page.items] == ["new@example.com", "old@example.com"]
        assert page.total == 2


class TestCreateCustomer:
    def test_a_user_with_a_phone_number_becomes_a_customer_with_a_code(self):
        uow = FakeUnitOfWork()
        user = a_user(uow)

        customer = customers.create_customer(user.id, uow=uow, clock=FakeClock())

        assert customer.user_id == user.id
        assert len(customer.code) == 8
        assert customer.phone_number == "+254719485369"
        assert uow.users.view(user.id).customer_code == customer.code

    def test_a_user_without_a_phone_number_cannot_become_a_customer(self):
        uow = FakeUnitOfWork()
        user = a_user(uow, phone=None)

        with pytest.raises(PhoneNumberRequired):
            customers.create_customer(user.id, uow=uow, clock=FakeClock())

    def test_becoming_a_customer_twice_names_the_existing_code(self):
        uow = FakeUnitOfWork()
        first = a_customer(uow)

        with pytest.raises(AlreadyCustomer) as refused:
            customers.create_customer(first.user_id, uow=uow, clock=FakeClock())

        assert refused.value.code == first.code

    def test_a_code_already_in_use_is_never_handed_out_again(self):
        uow = FakeUnitOfWork()
        first = a_customer(uow, email="one@example.com", phone="+254719485369")
        second_user = a_user(uow, email="two@example.com", phone="+254700000001")
        codes = iter([CustomerCode(first.code), CustomerCode("FRESH123")])

        second = customers.create_customer(second_user.id, uow=uow, clock=FakeClock(),
                                           new_code=lambda: next(codes))

        assert second.code == "FRESH123"


class TestPlaceOrder:
    def test_an_order_and_its_sms_are_recorded_together(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)

        placed = place(uow, customer.code.lower(), amount="420")

        assert placed.order.amount.amount == Decimal("420.00")
        assert uow.orders.get(placed.order.id).status is OrderStatus.PENDING
        [text] = uow.outbox.to("+254719485369")
        assert "Sack of maize" in text and "KES 420.00" in text
        assert placed.notification.status == "queued"
        assert uow.committed

    def test_an_unknown_customer_is_reported(self):
        with pytest.raises(CustomerNotFound):
            place(FakeUnitOfWork(), "NOPE0000")

    def test_a_retry_with_the_same_key_returns_the_first_order_and_sends_one_sms(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)

        first = place(uow, customer.code, key="k-1")
        again = place(uow, customer.code, key="k-1")

        assert again.order.id == first.order.id
        assert len(uow.orders.rows) == 1
        assert len(uow.outbox.to("+254719485369")) == 1

    def test_the_same_key_with_another_body_is_refused(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        place(uow, customer.code, key="k-1", amount="420")

        with pytest.raises(IdempotencyKeyReused):
            place(uow, customer.code, key="k-1", amount="421")

    def test_a_long_item_still_fits_in_one_sms(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)

        place(uow, customer.code, item="Very long item description " * 7)

        [text] = uow.outbox.to("+254719485369")
        assert len(text) <= 160


class TestConfirmOrder:
    def test_the_customer_confirms_receipt_once(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        customer = a_customer(uow)
        placed = place(uow, customer.code, clock=clock)
        clock.advance(hours=5)

        order = orders.confirm_order(customer.code, str(placed.order.id), uow=uow, clock=clock)

        assert order.status is OrderStatus.CONFIRMED
        assert order.confirmed_at == clock.now
        with pytest.raises(OrderAlreadyConfirmed):
            orders.confirm_order(customer.code, str(placed.order.id), uow=uow, clock=clock)

    def test_a_confirmation_is_acknowledged_by_sms(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        placed = place(uow, customer.code)

        orders.confirm_order(customer.code, str(placed.order.id), uow=uow, clock=FakeClock())

        assert "confirming" in uow.outbox.to("+254719485369")[-1]

    def test_another_customers_order_is_not_found(self):
        uow = FakeUnitOfWork()
        owner = a_customer(uow, email="one@example.com", phone="+254719485369")
        stranger = a_customer(uow, email="two@example.com", phone="+254700000001")
        placed = place(uow, owner.code)

        with pytest.raises(OrderNotFound):
            orders.confirm_order(stranger.code, str(placed.order.id), uow=uow, clock=FakeClock())

    @pytest.mark.parametrize("order_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
    def test_unknown_or_malformed_ids_are_not_found(self, order_id):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)

        with pytest.raises(OrderNotFound):
            orders.confirm_order(customer.code, order_id, uow=uow, clock=FakeClock())


class TestListOrders:
    def test_orders_are_newest_first_and_filtered(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        one = a_customer(uow, email="one@example.com", phone="+254719485369")
        two = a_customer(uow, email="two@example.com", phone="+254700000001")
        first = place(uow, one.code, item="First", clock=clock)
        clock.advance(minutes=1)
        place(uow, two.code, item="Second", clock=clock)
        clock.advance(minutes=1)
        place(uow, one.code, item="Third", clock=clock)
        orders.confirm_order(one.code, str(first.order.id), uow=uow, clock=clock)

        everything = orders.list_orders(PageRequest(1, 10), uow=uow)
        ones_pending = orders.list_orders(PageRequest(1, 10), customer_code=one.code,
                                          status=OrderStatus.PENDING, uow=uow)

        assert [o.item for o in everything.items] == ["Third", "Second", "First"]
        assert [o.item for o in ones_pending.items] == ["Third"]

    def test_a_page_past_the_end_is_empty(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        place(uow, customer.code)

        page = orders.list_orders(PageRequest(5, 10), uow=uow)

        assert page.items == [] and page.total == 1 and page.total_pages == 1

    def test_a_customers_orders_come_with_the_customer(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        place(uow, customer.code)

        view, page = orders.list_customer_orders(PageRequest(1, 10), customer_id=str(customer.id),
                                                 uow=uow)

        assert view.code == customer.code
        assert page.total == 1

    def test_an_unknown_customer_has_no_order_list(self):
        with pytest.raises(CustomerNotFound):
            orders.list_customer_orders(PageRequest(1, 10), customer_code="NOPE0000",
                                        uow=FakeUnitOfWork())


def test_revoking_the_same_token_twice_in_one_request_revokes_it():
    uow = FakeUnitOfWork()
    token = a_token("r9")

    auth.revoke_tokens([token, token], uow=uow, family_expires_at=FAMILY_END)

    assert revoked("r9", uow)
    assert sorted(uow.revoked_tokens.rows) == ["family:family-1", "r9"]


class TestIdempotencyKeysBelongToTheCaller:
    def test_the_same_key_from_two_callers_places_two_orders(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)

        first = orders.place_order(orders.PlaceOrder(
            customer_code=customer.code, item="Tea", amount="5", currency="KES",
            idempotency_key="k1", caller="admin-1"), uow=uow, clock=FakeClock())
        second = orders.place_order(orders.PlaceOrder(
            customer_code=customer.code, item="Tea", amount="5", currency="KES",
            idempotency_key="k1", caller="person-2"), uow=uow, clock=FakeClock())

        assert first.order.id != second.order.id
        assert len(uow.orders.rows) == 2

    def test_keys_older_than_a_day_and_expired_revocations_are_forgotten(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        customer = a_customer(uow)
        place(uow, customer.code, key="old", clock=clock)
        uow.revoked_tokens.add("expired", expires_at=clock() + timedelta(minutes=15))
        uow.revoked_tokens.add("alive", expires_at=clock() + timedelta(days=30))
        clock.advance(hours=23)
        place(uow, customer.code, key="recent", clock=clock)
        clock.advance(hours=2)

        forgotten = housekeeping.forget_expired(uow=uow, clock=clock)

        assert forgotten == housekeeping.Forgotten(idempotency_keys=1, revoked_tokens=1)
        assert [key for _, key in uow.idempotency_keys.rows] == ["recent"]
        assert list(uow.revoked_tokens.rows) == ["alive"]
        assert uow.committed


def test_logging_out_of_the_browser_moves_the_session_version_on():
    uow = FakeUnitOfWork()
    user = a_user(uow)

    users.end_browser_sessions(user.id, uow=uow)

    assert uow.users.get(user.id).session_version == 1
    assert uow.committed
