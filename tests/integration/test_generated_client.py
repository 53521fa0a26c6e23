"""The README's admin flow through a client generated from the running app's /openapi.json
with openapi-python-client, as the API's users make one: typed models in, typed models out,
the Idempotency-Key replay and the documented errors included.

The client is generated once (a few seconds) into a temporary folder and imported from there;
the flow then runs on each database.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tests.integration.live_server import ApiClient

PACKAGE = "orders_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
RESPONSE_MODELS = ["TokensOut", "UserPageOut", "UserOut", "UserEnvelope", "CustomerOut",
                   "CustomerEnvelope", "CustomerPageOut", "OrderOut", "OrderDetailOut",
                   "OrderEnvelope", "OrderDetailEnvelope", "PlacedOrderOut",
                   "NotificationOut", "NotificationRefOut", "OrderPageOut",
                   "CustomerOrdersOut", "ReplyOut", "MessageOut"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The generated client's modules, and what the generator said."""
    from tests.integration.test_fuzz_openapi import openapi_document

    folder = tmp_path_factory.mktemp("generated-client")
    document = folder / "openapi.json"
    document.write_text(json.dumps(openapi_document()))
    # The generator formats what it writes with ruff, which is beside it in the virtualenv.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(document), "--meta", "none",
         "--output-path", str(folder / PACKAGE)],
        capture_output=True, text=True, timeout=120, env=env, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(folder))
    try:
        yield SimpleNamespace(
            output=run.stdout + run.stderr, package_folder=folder / PACKAGE,
            models_folder=folder / PACKAGE / "models",
            client=importlib.import_module(PACKAGE),
            models=importlib.import_module(f"{PACKAGE}.models"),
            types=importlib.import_module(f"{PACKAGE}.types"),
            api=SimpleNamespace(**{
                name: importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")
                for tag, names in {
                    "auth": ["register_admin", "login", "add_user_number", "create_customer"],
                    "lookups": ["list_users", "get_users", "get_customers"],
                    "orders": ["create_order", "get_order", "confirm_order", "list_orders",
                               "list_customer_orders", "get_customer_orders"],
                }.items() for name in names}),
        )
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class TestTheGeneratedClient:
    def test_is_generated_without_warnings(self, generated):
        assert generated.output.splitlines() == [f"Generating {generated.package_folder}"]

    def test_has_one_model_per_schema_and_one_enum_per_enumeration(self, generated):
        modules = sorted(p.stem for p in generated.models_folder.glob("*.py"))

        assert not [m for m in modules if "_type_" in m], modules
        assert {"order_status", "sms_status", "role", "reply_outcome"} <= set(modules)
        assert len(modules) == 37, modules  # 36 schemas and __init__

    def test_types_every_response_field_as_always_there(self, generated):
        for name in RESPONSE_MODELS:
            annotations = getattr(generated.models, name).__annotations__

            assert not [a for a, kind in annotations.items() if "Unset" in str(kind)], name

    def test_takes_money_as_a_string_and_an_optional_header_never_as_none(self, generated):
        place = generated.models.PlaceOrderIn.__annotations__
        header = generated.api.create_order.sync.__annotations__["idempotency_key"]

        assert place["amount"] == "float | str"
        assert header == str | generated.types.Unset


def test_the_readme_admin_flow_runs_through_the_generated_client(api: ApiClient, generated):
    m, ops = generated.models, generated.api
    anonymous = generated.client.Client(base_url=api.base_url, raise_on_unexpected_status=True)

    # Register an administrator with the API key, then log in.
    registered = ops.register_admin.sync(client=anonymous, body=m.RegisterAdminIn(
        email="grace@example.com", password="s3cret-pass", api_key="123456721",
        name="Grace Wanjiru"))
    tokens = ops.login.sync(client=anonymous, body=m.LoginIn(email="grace@example.com",
                                                             password="s3cret-pass"))
    assert isinstance(registered, m.TokensOut) and registered.role is m.Role.ADMIN
    assert isinstance(tokens, m.TokensOut) and tokens.token_type == "Bearer"
    admin = generated.client.AuthenticatedClient(base_url=api.base_url, token=tokens.access_token,
                                                 raise_on_unexpected_status=True)

    # Look users up, by POST with a body and by GET with parameters.
    everyone = ops.list_users.sync(client=admin, body=m.UserListIn(page=1, per_page=10))
    found = ops.get_users.sync(client=admin, email="grace")
    assert isinstance(everyone, m.UserPageOut) and everyone.total == 1
    [grace] = found.users
    assert isinstance(grace.id, uuid.UUID) and grace.phone_number is None

    # Give the user a phone number, and make them a customer.
    numbered = ops.add_user_number.sync(client=admin, body=m.AddUserNumberIn(
        user_id=grace.id, phone_number="0719485369"))
    made = ops.create_customer.sync(client=admin, body=m.CreateCustomerIn(user_id=grace.id))
    assert numbered.user.phone_number == "+254719485369"
    assert isinstance(made, m.CustomerEnvelope)
    code = made.customer.code

    # Record an order with an Idempotency-Key; the same request again is the same order.
    order_in = m.PlaceOrderIn(customer_code=code, item="Sack of maize", amount="420")
    placed = ops.create_order.sync(client=admin, body=order_in, idempotency_key="first-order")
    replayed = ops.create_order.sync(client=admin, body=order_in, idempotency_key="first-order")
    assert isinstance(placed, m.PlacedOrderOut)
    assert placed.order.amount == "420.00" and placed.order.currency == "KES"
    assert placed.order.status is m.OrderStatus.PENDING and placed.order.confirmed_at is None
    assert placed.notification.status is m.SmsStatus.QUEUED
    assert replayed.to_dict() == placed.to_dict()
    read = ops.get_order.sync(placed.order.id, client=admin)
    assert isinstance(read, m.OrderDetailEnvelope) and read.order.replies == []
    assert read.order.notification.status is m.SmsStatus.QUEUED

    # The customer received it.
    confirmed = ops.confirm_order.sync(client=admin, body=m.ConfirmOrderIn(
        customer_code=code, order_id=placed.order.id))
    assert confirmed.order.status is m.OrderStatus.CONFIRMED
    assert confirmed.order.confirmed_at is not None

    # Lists: every order, one customer's orders (by code and by id), customers.
    listed = ops.list_orders.sync(client=admin, body=m.OrderListIn(
        page=1, per_page=10, status=m.OrderStatus.CONFIRMED))
    by_code = ops.list_customer_orders.sync(client=admin,
                                            body=m.CustomerOrdersByCode(customer_code=code))
    by_id = ops.get_customer_orders.sync(client=admin, customer_id=made.customer.id)
    customers = ops.get_customers.sync(client=admin)
    assert [o.id for o in listed.orders] == [placed.order.id]
    assert by_code.to_dict() == by_id.to_dict() and by_code.customer.code == code
    assert [c.code for c in customers.customers] == [code]


def test_the_documented_errors_come_back_as_typed_errors(api: ApiClient, generated):
    m, ops = generated.models, generated.api
    anonymous = generated.client.Client(base_url=api.base_url, raise_on_unexpected_status=True)
    tokens = ops.register_admin.sync(client=anonymous, body=m.RegisterAdminIn(
        email="grace@example.com", password="s3cret-pass", api_key="123456721"))
    admin = generated.client.AuthenticatedClient(base_url=api.base_url, token=tokens.access_token,
                                                 raise_on_unexpected_status=True)
    made = _customer(ops, m, admin, tokens.user_id)
    order_in = m.PlaceOrderIn(customer_code=made.code, item="Tea", amount="5.50")
    ops.create_order.sync(client=admin, body=order_in, idempotency_key="tea")

    answers: dict[str, tuple[Any, HTTPStatus, str]] = {
        "wrong API key": (ops.register_admin.sync_detailed(client=anonymous, body=m.RegisterAdminIn(
            email="x@example.com", password="s3cret-pass", api_key="guess")),
            HTTPStatus.FORBIDDEN, "invalid_api_key"),
        "email taken": (ops.register_admin.sync_detailed(client=anonymous, body=m.RegisterAdminIn(
            email="GRACE@example.com", password="s3cret-pass", api_key="123456721")),
            HTTPStatus.CONFLICT, "email_taken"),
        "wrong password": (ops.login.sync_detailed(client=anonymous, body=m.LoginIn(
            email="grace@example.com", password="not-it")),
            HTTPStatus.UNAUTHORIZED, "invalid_credentials"),
        "no token": (ops.get_customers.sync_detailed(client=anonymous),
                     HTTPStatus.UNAUTHORIZED, "token_missing"),
        "landline": (ops.add_user_number.sync_detailed(client=admin, body=m.AddUserNumberIn(
            user_id=tokens.user_id, phone_number="+254 20 1234567")),
            HTTPStatus.UNPROCESSABLE_ENTITY, "phone_number_invalid"),
        "unknown user": (ops.create_customer.sync_detailed(client=admin, body=m.CreateCustomerIn(
            user_id=uuid.uuid4())), HTTPStatus.NOT_FOUND, "user_not_found"),
        "already a customer": (ops.create_customer.sync_detailed(
            client=admin, body=m.CreateCustomerIn(user_id=tokens.user_id)),
            HTTPStatus.CONFLICT, "already_customer"),
        "unknown customer": (ops.create_order.sync_detailed(client=admin, body=m.PlaceOrderIn(
            customer_code="ZZZZ9999", item="Tea", amount="5")),
            HTTPStatus.NOT_FOUND, "customer_not_found"),
        "key reused": (ops.create_order.sync_detailed(
            client=admin, body=m.PlaceOrderIn(customer_code=made.code, item="Tea", amount="6"),
            idempotency_key="tea"), HTTPStatus.CONFLICT, "idempotency_key_reused"),
        "unknown order": (ops.get_order.sync_detailed(uuid.uuid4(), client=admin),
                          HTTPStatus.NOT_FOUND, "order_not_found"),
        "blank item": (ops.create_order.sync_detailed(client=admin, body=m.PlaceOrderIn(
            customer_code=made.code, item="   ", amount="5")),
            HTTPStatus.BAD_REQUEST, "validation_error"),
        "no customer named": (ops.get_customer_orders.sync_detailed(client=admin),
                              HTTPStatus.UNPROCESSABLE_ENTITY, "customer_required"),
    }

    for name, (response, status, code) in answers.items():
        assert (response.status_code, getattr(response.parsed, "code", None)) == (status, code), \
            name
        assert isinstance(response.parsed, m.Error) and response.parsed.error, name


def _customer(ops: SimpleNamespace, m: ModuleType, admin: Any, user_id: uuid.UUID) -> Any:
    ops.add_user_number.sync(client=admin, body=m.AddUserNumberIn(
        user_id=user_id, phone_number="+254719485369"))
    return ops.create_customer.sync(client=admin, body=m.CreateCustomerIn(user_id=user_id)).customer
