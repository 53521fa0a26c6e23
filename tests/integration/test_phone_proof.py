"""Proof of a phone number and the limits on what anyone can make the service send, over HTTP
on both databases, with every SMS sent through the fake Africa's Talking and read there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from app import create_app
from app.services.views import PageRequest
from tests.integration.fake_africastalking import FakeAfricasTalking, accept_all
from tests.integration.live_server import CALLBACK_TOKEN, live_app, serve, settings_for_tests
from tests.integration.signing_in import Browser, local_sign_in, set_person
from tests.integration.texting import (
    UowFactory,
    code_received,
    prove_phone,
    texts_received,
)

WANJIKU = "+254719485369"
STRANGER = "+254733000111"


@pytest.fixture
def gateway() -> Iterator[FakeAfricasTalking]:
    with FakeAfricasTalking(otherwise=accept_all()) as fake:
        yield fake


@pytest.fixture(scope="module")
def limited_site(database_url: str, local_issuer: str) -> Iterator[str]:
    """The site with small limits, so that tests reach them quickly."""
    settings = settings_for_tests(database_url, **local_sign_in(local_issuer),
                                  orders_per_person_per_day=2, sms_per_number_per_day=4,
                                  phone_codes_per_person_per_day=2, metrics_enabled=True)
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture
def person(limited_site: str, local_issuer: str, clean_tables: None) -> Browser:
    """Someone who signed in with an address the provider did not verify."""
    set_person(local_issuer, "mallory", email="mallory@example.com", email_verified=False,
               name="Mallory")
    browser = Browser(limited_site)
    browser.sign_in_locally("mallory")
    return browser


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="{name}-error">([^<]+)</p>', page)
    assert found, page
    return found.group(1)


class TestProvingANumberInTheBrowser:
    def test_a_typed_number_is_texted_a_code_and_stays_unconfirmed(self, person, uow_factory,
                                                                 gateway):
        answer = person.submit("/account/phone/", phone_number="0719 485 369")

        assert answer.status_code == 302
        page = person.get("/account/").text
        assert "We texted a code to <strong>+254719485369</strong>" in page
        [sms] = texts_received(WANJIKU, uow_factory=uow_factory, gateway=gateway)
        assert re.search(r"\b\d{6}\b", sms)
        assert "Never share it" in sms

    def test_the_code_from_the_sms_confirms_the_number(self, person, uow_factory, gateway):
        prove_phone(person, "0719 485 369", WANJIKU, uow_factory=uow_factory, gateway=gateway)

        page = person.get("/account/").text
        assert "<strong>+254719485369</strong> is confirmed" in page
        assert person.submit("/account/customer/").status_code == 302

    def test_a_wrong_code_is_shown_next_to_the_field_with_the_tries_left(self, person,
                                                                       uow_factory, gateway):
        person.submit("/account/phone/", phone_number=WANJIKU)
        code = code_received(WANJIKU, uow_factory=uow_factory, gateway=gateway)

        answer = person.submit("/account/phone/verify/", code=f"{(int(code) + 1) % 10**6:06d}")

        assert answer.status_code == 400
        assert field_error(answer.text, "code") == "That code is not right; 4 tries left."
        assert "is confirmed" not in person.get("/account/").text

    def test_an_unconfirmed_number_does_not_make_a_customer(self, person, uow_factory,
                                                          gateway):
        person.submit("/account/phone/", phone_number=WANJIKU)

        answer = person.submit("/account/customer/")
        order = person.submit("/account/orders/", item="URGENT: your M-PESA is locked",
                              amount="1")

        assert answer.status_code == 400
        assert "has not been confirmed" in field_error(answer.text, "customer")
        assert order.status_code == 400
        [only_the_code] = texts_received(WANJIKU, uow_factory=uow_factory, gateway=gateway)
        assert "code" in only_the_code

    def test_a_new_code_within_the_minute_is_refused_with_retry_after(self, person):
        person.submit("/account/phone/", phone_number=WANJIKU)

        answer = person.submit("/account/phone/", phone_number=WANJIKU)

        assert answer.status_code == 429
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        assert "ask for another in" in field_error(answer.text, "phone_number")

    def test_a_person_gets_a_few_codes_a_day(self, person, uow_factory, gateway):
        answers = []
        for number in ("+254700000001", "+254700000002", "+254700000003"):
            answers.append(person.submit("/account/phone/", phone_number=number))
            _a_minute_passes(uow_factory)

        assert [a.status_code for a in answers] == [302, 302, 429]
        assert "as many codes today" in field_error(answers[2].text, "phone_number")
        assert texts_received("+254700000003", uow_factory=uow_factory, gateway=gateway) == []

    @pytest.mark.parametrize(("number", "why"), [
        ("+1 900 555 0123", "That is a premium-rate number"),
        ("+44 909 090 1234", "That is a premium-rate number"),
        ("0800 720 000", "That is a toll-free number"),
        ("0719 48", "Not a valid phone number"),
        ("+14155552671", "That is a number of United States"),
    ])
    def test_numbers_the_service_does_not_text_are_refused_next_to_the_field(
            self, person, uow_factory, gateway, number, why):
        answer = person.submit("/account/phone/", phone_number=number)

        assert answer.status_code == 400
        assert field_error(answer.text, "phone_number").startswith(why)
        assert texts_received(number, uow_factory=uow_factory, gateway=gateway) == []


class TestLimits:
    def test_a_person_places_the_days_orders_then_is_told_when_to_come_back(
            self, person, uow_factory, gateway, limited_site):
        prove_phone(person, WANJIKU, WANJIKU, uow_factory=uow_factory, gateway=gateway)
        person.submit("/account/customer/")
        placed = [person.submit("/account/orders/", item=f"Maize {n}", amount="5")
                  for n in range(3)]

        assert [p.status_code for p in placed] == [302, 302, 429]
        assert int(placed[2].headers["Retry-After"]) > 0
        assert "2 orders today" in field_error(placed[2].text, "order")
        metrics = person.get("/metrics").text
        assert 'limit_reached_total{limit="orders_per_person"} 1.0' in metrics

    def test_a_number_gets_at_most_the_days_sms_and_the_rest_wait_saying_so(
            self, database_url, user, uow_factory, gateway):
        settings = settings_for_tests(database_url, sms_per_number_per_day=3,
                                      metrics_enabled=True)
        with live_app(settings) as api:
            admin = api.register_admin()
            response = api.post("/api/auth/add-user-number/", token=admin.access_token,
                                json={"user_id": user, "phone_number": "0719485369"})
            assert response.status_code == 200, response.text
            code = api.post("/api/auth/create-customer/", token=admin.access_token,
                            json={"user_id": user}).json()["customer"]["code"]
            created = [api.post("/api/orders/create/", token=admin.access_token,
                                json={"customer_code": code, "item": "Tea", "amount": "5"})
                       for _ in range(5)]
            received = texts_received(WANJIKU, uow_factory=uow_factory, gateway=gateway)
            held = api.get(f"/api/orders/{created[4].json()['order']['id']}/",
                           token=admin.access_token).json()["order"]["notification"]
            metrics = api.get("/metrics").text

        assert [c.status_code for c in created] == [201] * 5
        assert len(received) == 3
        assert held["status"] == "queued"
        assert held["last_error"].startswith("Held back: 3 SMS a day at most to one number")
        assert 'limit_reached_total{limit="sms_per_number"} 2.0' in metrics

    def test_a_stranger_texting_in_gets_one_answer_an_hour_and_short_codes_none(
            self, api, uow_factory, gateway):
        for n, sender in enumerate([STRANGER, STRANGER, STRANGER, "20880", "MPESA"]):
            answer = api.post(f"/callbacks/africastalking/incoming-messages/{CALLBACK_TOKEN}",
                              data={"from": sender, "to": "20880", "text": "hi",
                                    "id": f"ATXid_in_{n}"})
            assert answer.status_code == 200

        assert len(texts_received(STRANGER, uow_factory=uow_factory, gateway=gateway)) == 1
        assert gateway.texts_to("20880") == gateway.texts_to("MPESA") == []


def _a_minute_passes(uow_factory: UowFactory) -> None:
    """Every code waiting was sent a minute earlier than it was: the cooldown is over."""
    with uow_factory() as uow:
        for view in uow.users.list(PageRequest(per_page=100), email_contains=None).items:
            user = uow.users.get(view.id)
            assert user is not None
            if user.pending_phone and user.pending_phone.code_sent_at:
                user.pending_phone = replace(
                    user.pending_phone,
                    code_sent_at=user.pending_phone.code_sent_at - timedelta(minutes=1))
                uow.users.add(user)
        uow.commit()
