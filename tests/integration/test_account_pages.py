"""The account page and its forms over HTTP, on both databases: the same use cases as the API."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app import create_app
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.domain.orders import Order, OrderStatus
from app.domain.users import Role, User
from app.domain.values import Email
from app.services import customers, orders, users
from app.services.views import PageRequest
from tests.integration.fake_africastalking import FakeAfricasTalking, accept_all
from tests.integration.live_server import serve, settings_for_tests
from tests.integration.signing_in import Browser, local_sign_in, set_person
from tests.integration.texting import prove_phone

UowFactory = Callable[[], SqlAlchemyUnitOfWork]
FORMS = ["/logout/", "/account/phone/", "/account/phone/verify/", "/account/customer/",
         "/account/orders/", "/account/orders/00000000-0000-0000-0000-000000000000/confirm/"]


@pytest.fixture(scope="module")
def site(database_url: str, local_issuer: str) -> Iterator[str]:
    settings = settings_for_tests(database_url, **local_sign_in(local_issuer))
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture
def browser(site: str, local_issuer: str, clean_tables: None) -> Browser:
    """Wanjiku, signed in."""
    set_person(local_issuer, "wanjiku", email="wanjiku@example.com", email_verified=True,
               name="Wanjiku Kamau")
    browser = Browser(site)
    browser.sign_in_locally("wanjiku")
    return browser


@pytest.fixture
def gateway() -> Iterator[FakeAfricasTalking]:
    with FakeAfricasTalking(otherwise=accept_all()) as fake:
        yield fake


@pytest.fixture
def customer(browser: Browser, uow_factory: UowFactory, gateway: FakeAfricasTalking) -> Browser:
    """Wanjiku, signed in, with a confirmed phone number and a customer code."""
    prove_phone(browser, "0719 485 369", "+254719485369", uow_factory=uow_factory,
                gateway=gateway)
    assert browser.submit("/account/customer/").status_code == 302
    return browser


def her_orders(uow_factory: UowFactory) -> list[Order]:
    with uow_factory() as uow:
        [user] = uow.users.list(PageRequest(), email_contains="wanjiku").items
        customer = uow.customers.get_by_user(user.id)
        assert customer is not None
        return list(uow.orders.list(PageRequest(), customer_id=customer.id).items)


def test_signed_out_the_account_page_leads_to_sign_in(site, clean_tables):
    answer = Browser(site).get("/account/")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_the_sign_in_page_offers_each_configured_provider(site, clean_tables):
    page = Browser(site).get("/").text

    assert re.findall(r'href="/login/(\w+)/"', page) == ["dev"]
    assert "Continue with Local test provider" in page


def test_an_unknown_provider_is_a_page_not_found(site, clean_tables):
    answer = Browser(site).get("/login/myspace/")

    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("text/html")


def test_a_confirmed_phone_number_is_stored_in_e164(browser, uow_factory, gateway):
    prove_phone(browser, "0719 485 369", "+254719485369", uow_factory=uow_factory,
                gateway=gateway)

    assert "<strong>+254719485369</strong> is confirmed" in browser.get("/account/").text


def test_an_invalid_phone_number_is_shown_next_to_the_field(browser):
    answer = browser.submit("/account/phone/", phone_number="12")

    assert answer.status_code == 400
    field = re.search(r'<input id="phone_number"[^>]*>\s*<p class="error" id="phone_number-error">'
                      r"([^<]+)</p>", answer.text)
    assert field, answer.text
    assert field.group(1) == ("Not a valid phone number: expected a mobile number of Kenya, "
                              "+2547XXXXXXXX, such as +254712123456.")
    assert 'aria-invalid="true"' in field.group(0)
    assert 'value="12"' in field.group(0)


def test_becoming_a_customer_needs_a_phone_number_first(browser):
    answer = browser.submit("/account/customer/")

    assert answer.status_code == 400
    assert 'id="customer-error"' in answer.text
    assert "needs a phone number" in answer.text


def test_a_customer_sees_their_code(customer, uow_factory):
    page = customer.get("/account/").text

    with uow_factory() as uow:
        [user] = uow.users.list(PageRequest(), email_contains="wanjiku").items
    assert user.customer_code
    assert f'<strong class="code">{user.customer_code}</strong>' in page


def test_an_order_placed_in_the_browser_queues_its_sms(customer, uow_factory):
    answer = customer.submit("/account/orders/", item="Sack of maize", amount="420")

    assert answer.status_code == 302
    [order] = her_orders(uow_factory)
    assert (order.item, order.amount.amount, order.status) == (
        "Sack of maize", Decimal("420.00"), OrderStatus.PENDING)
    with uow_factory() as uow:
        [sms] = uow.outbox.for_order(order.id)
    assert sms.recipient.e164 == "+254719485369"
    assert "KES 420.00" in customer.get("/account/").text


def test_a_double_click_on_place_order_places_one_order(customer, uow_factory):
    form = {"item": "Sack of maize", "amount": "420", "idempotency_key": "form-7f3a"}

    customer.submit("/account/orders/", **form)
    again = customer.submit("/account/orders/", **form)

    assert again.status_code == 302
    assert len(her_orders(uow_factory)) == 1


def test_an_invalid_amount_is_shown_next_to_the_field(customer, uow_factory):
    answer = customer.submit("/account/orders/", item="Sack of maize", amount="4.205")

    assert answer.status_code == 400
    assert 'id="amount-error">The amount may have at most two decimal places.' in answer.text
    assert 'value="Sack of maize"' in answer.text
    assert her_orders(uow_factory) == []


def test_confirming_receipt_marks_the_order_confirmed(customer, uow_factory):
    customer.submit("/account/orders/", item="Sack of maize", amount="420")
    [order] = her_orders(uow_factory)

    answer = customer.submit(f"/account/orders/{order.id}/confirm/")

    assert answer.status_code == 302
    [confirmed] = her_orders(uow_factory)
    assert confirmed.status is OrderStatus.CONFIRMED
    assert "Confirm receipt" not in customer.get("/account/").text


def test_nobody_confirms_another_customers_order(customer, uow_factory):
    stranger = _someone_elses_order(uow_factory)

    answer = customer.submit(f"/account/orders/{stranger.id}/confirm/")

    assert answer.status_code == 400
    assert "No such order." in answer.text
    with uow_factory() as uow:
        still = uow.orders.get(stranger.id)
    assert still is not None
    assert still.status is OrderStatus.PENDING


@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize("token", [None, "forged"])
def test_a_form_without_this_sessions_token_is_refused(customer, uow_factory, path, token):
    fields = {"phone_number": "+254700000009", "item": "Goat", "amount": "1"}
    if token:
        fields["csrf_token"] = token

    answer = customer.post(path, data=fields)

    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "did not come from this site" in answer.text
    assert "+254719485369" in customer.get("/account/").text
    assert her_orders(uow_factory) == []


def test_signing_out_ends_the_session(browser):
    answer = browser.submit("/logout/")

    assert answer.status_code == 302
    assert browser.get("/account/").status_code == 302


def test_the_session_cookie_is_secure_in_production(database_url, local_issuer, clean_tables):
    settings = settings_for_tests(database_url, app_env="production",
                                  secret_key=secrets.token_hex(32),
                                  jwt_secret_key=secrets.token_hex(32),
                                  admin_api_key=secrets.token_hex(32),
                                  at_callback_token=secrets.token_hex(32),
                                  public_base_url="https://orders.example.com",
                                  **local_sign_in(local_issuer))
    with serve(create_app(settings)) as site:
        answer = Browser(site).get("/login/dev/")

    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def _someone_elses_order(uow_factory: UowFactory) -> Order:
    other = User(email=Email("otieno@example.com"), name="Otieno", role=Role.USER,
                 created_at=datetime.now(UTC))
    with uow_factory() as uow:
        uow.users.add(other)
        uow.commit()
    users.add_phone_number(other.id, "+254700000001", uow=uow_factory())
    code = customers.create_customer(other.id, uow=uow_factory(), clock=lambda: datetime.now(UTC))
    placed = orders.place_order(orders.PlaceOrder(customer_code=code.code, item="Goat",
                                                  amount="1500", currency="KES"),
                                uow=uow_factory(), clock=lambda: datetime.now(UTC))
    return placed.order
