"""Two requests racing for the same thing: transactions and constraints pick one winner.

Each race sends its two requests from two threads released together by a barrier, over
separate connections to the running app on PostgreSQL, and is run many times: a race the
database does not decide would let both requests through in some round.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from app.domain.notifications import SmsKind
from app.domain.users import Role, User
from app.domain.values import Email, PhoneNumber
from tests.integration.live_server import CALLBACK_TOKEN, ApiClient
from tests.integration.test_api_admin_flow import assert_error

pytestmark = pytest.mark.postgres_only
ROUNDS = 20


def race(api: ApiClient, path: str, *bodies: dict[str, Any], token: str | None = None,
         headers: dict[str, str] | None = None) -> list[requests.Response]:
    """POST each body to ``path`` at the same moment, each over a connection of its own."""
    barrier = threading.Barrier(len(bodies))

    def send(body: dict[str, Any]) -> requests.Response:
        client = ApiClient(api.base_url)  # its own session, so its own connection
        client.get("/healthz")  # connect before the barrier, so both start level
        barrier.wait(timeout=10)
        return client.post(path, token=token, headers=headers, json=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def statuses(responses: list[requests.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


def a_user_with_a_phone(uow_factory, n: int) -> str:
    user = User(email=Email(f"racer{n}@example.com"), name="Akinyi Racer", role=Role.USER,
                phone_number=PhoneNumber(f"+2547190000{n:02d}"), created_at=datetime.now(UTC))
    with uow_factory() as uow:
        uow.users.add(user)
        uow.commit()
    return str(user.id)


def test_one_order_confirmed_twice_at_once_is_confirmed_once(api, admin, customer, uow_factory):
    body = {"customer_code": customer["code"], "item": "Sack of maize", "amount": "420"}
    for _ in range(ROUNDS):
        order = api.post("/api/orders/create/", token=admin.access_token, json=body).json()[
            "order"]
        confirm = {"customer_code": customer["code"], "order_id": order["id"]}

        responses = race(api, "/api/orders/customer-order/confirm/", confirm, confirm,
                         token=admin.access_token)

        assert statuses(responses) == [200, 409], [r.text for r in responses]
        assert_error(max(responses, key=lambda r: r.status_code), 409,
                     "order_already_confirmed")
        with uow_factory() as uow:
            kinds = Counter(m.kind for m in uow.outbox.for_order(uuid.UUID(order["id"])))
        assert kinds == {SmsKind.ORDER_PLACED: 1, SmsKind.ORDER_CONFIRMED: 1}


def test_one_user_made_a_customer_twice_at_once_is_one_customer(api, admin, uow_factory):
    for n in range(ROUNDS):
        user_id = a_user_with_a_phone(uow_factory, n)

        body = {"user_id": user_id}
        responses = race(api, "/api/auth/create-customer/", body, body,
                         token=admin.access_token)

        assert statuses(responses) == [201, 409], [r.text for r in responses]
        created, refused = sorted(responses, key=lambda r: r.status_code)
        body = assert_error(refused, 409, "already_customer")
        assert body["details"]["customer_code"] == created.json()["customer"]["code"]
        with uow_factory() as uow:
            assert uow.customers.get_by_user(uuid.UUID(user_id)).code.value == \
                created.json()["customer"]["code"]
    listed = api.get("/api/lookup/all-customers/?per_page=100", token=admin.access_token)
    assert listed.json()["total"] == ROUNDS


def test_one_idempotency_key_sent_twice_at_once_is_one_order_and_one_sms(
        api, admin, customer, uow_factory):
    body = {"customer_code": customer["code"], "item": "Cooking oil 5L", "amount": "730.50"}
    for n in range(ROUNDS):
        headers = {"Idempotency-Key": f"race-{n}-{uuid.uuid4()}"}

        responses = race(api, "/api/orders/create/", body, body, token=admin.access_token,
                         headers=headers)

        assert statuses(responses) == [201, 201], [r.text for r in responses]
        first, second = (r.json() for r in responses)
        assert first == second
        with uow_factory() as uow:
            messages = uow.outbox.for_order(uuid.UUID(first["order"]["id"]))
        assert [m.id for m in messages] == [uuid.UUID(first["notification"]["id"])]
    listed = api.get("/api/orders/all-orders/", token=admin.access_token)
    assert listed.json()["total"] == ROUNDS


def test_one_email_registered_twice_at_once_is_one_admin(api, uow_factory):
    for n in range(ROUNDS):
        # The same address in two spellings: emails are one account whatever their case.
        spellings = [f"twin{n}@example.com", f"Twin{n}@Example.COM"]

        responses = race(api, "/api/auth/admin-register/", *[
            {"email": email, "password": "s3cret-pass", "api_key": "123456721"}
            for email in spellings])

        assert statuses(responses) == [201, 409], [r.text for r in responses]
        assert_error(max(responses, key=lambda r: r.status_code), 409, "email_taken")
        with uow_factory() as uow:
            assert uow.users.get_by_email(Email(f"twin{n}@example.com")) is not None
    token = ApiClient(api.base_url).post("/api/auth/login/", json={
        "email": "twin0@example.com", "password": "s3cret-pass"}).json()["access_token"]
    assert api.get("/api/lookup/all-users/", token=token).json()["total"] == ROUNDS


def test_an_sms_reply_and_an_admin_confirming_at_once_confirm_once(
        api, admin, customer, uow_factory):
    body = {"customer_code": customer["code"], "item": "Sack of maize", "amount": "420"}
    for n in range(ROUNDS):
        order = api.post("/api/orders/create/", token=admin.access_token, json=body).json()[
            "order"]

        admin_answer, sms_answer = confirm_by_admin_and_by_sms(api, admin, customer, order,
                                                               message_id=f"ATXid_race_{n}")

        assert sorted([admin_answer.status_code == 200,
                       sms_answer.json()["outcome"] == "confirmed"]) == [False, True]
        with uow_factory() as uow:
            kinds = Counter(m.kind for m in uow.outbox.for_order(uuid.UUID(order["id"])))
        assert kinds[SmsKind.ORDER_CONFIRMED] == 1


def confirm_by_admin_and_by_sms(api, admin, customer, order, *, message_id):
    """The admin confirms over the API while the customer's "YES <ref>" arrives."""
    reference = order["id"].replace("-", "")[:6].upper()
    barrier = threading.Barrier(2)

    def send(path, **kwargs):
        client = ApiClient(api.base_url)
        client.get("/healthz")
        barrier.wait(timeout=10)
        return client.post(path, **kwargs)

    with ThreadPoolExecutor(2) as pool:
        by_admin = pool.submit(send, "/api/orders/customer-order/confirm/",
                               token=admin.access_token,
                               json={"customer_code": customer["code"], "order_id": order["id"]})
        by_sms = pool.submit(send, f"/callbacks/africastalking/incoming-messages/{CALLBACK_TOKEN}",
                             data={"from": customer["phone_number"], "text": f"YES {reference}",
                                   "id": message_id})
        return by_admin.result(), by_sms.result()
