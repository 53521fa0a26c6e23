"""schemathesis against every operation of the service's own /openapi.json, every check on.

It generates requests the document allows and requests it forbids (examples, boundary
values of the coverage phase, then random data, NUL characters and odd Unicode included)
and sends them to the app as an administrator; then, statefully, chains operations along
the document's links (create a customer, list its orders; create an order, read it, confirm
it). Every answer must be one the document lists for the operation and match its schema; a
request the document allows must never get a 400 (the statuses it may get are in
``schemathesis.toml``), one it forbids never a 2xx; nothing is a 5xx; every error has the
contract's error shape.

``schemathesis.toml`` bounds the run (examples per operation, scenarios and their steps, a
timeout per request). In CI (``CI`` set) the seed is fixed, so a run is repeatable; elsewhere
each run draws a new seed and explores further. ``FUZZ_EXAMPLES`` raises the number of
random examples per operation for a longer local run.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky

from app import create_app
from tests.integration.live_server import Admin, ApiClient, settings_for_tests

CONFIG_FILE = Path(__file__).parents[2] / "schemathesis.toml"
CI_SEED = 20261128
ERROR_KEYS = {"error", "code", "details"}
# The operations whose tokens a request spends: each such request gets tokens of its own.
SPENDS_ACCESS_TOKEN = "/api/auth/logout/"
SPENDS_REFRESH_TOKEN = "/api/auth/refresh/"


@schemathesis.check
def error_shape(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """Every error is ``{"error": str, "code": str, "details"?: {...}}`` and nothing else."""
    if response.status_code < 400:
        return True
    body = response.json()
    assert isinstance(body, dict), f"an error body is an object, not {body!r}"
    assert set(body) <= ERROR_KEYS, f"unexpected keys in an error: {set(body) - ERROR_KEYS}"
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("details", {}), dict), body
    assert "Traceback" not in response.text and "SELECT" not in response.text, body
    return True


class Caller:
    """Who schemathesis calls as: the admin (and server) of the test running now."""

    api: ApiClient | None = None
    admin: Admin | None = None


@pytest.fixture
def caller(api: ApiClient, admin: Admin) -> Iterator[ApiClient]:
    Caller.api, Caller.admin = api, admin
    yield api
    Caller.api = Caller.admin = None


# Cases are generated before any admin exists (explicit examples at collection), so the
# auth below writes this placeholder, and ``authorise`` puts the token in at call time.
ADMIN_TOKEN = "Bearer admin-token"


def authorise(case: schemathesis.Case) -> None:
    """Replace the placeholder with the admin's access token; a fresh one where the request
    spends it. A case sent without a token, or with a wrong one, keeps what it has."""
    if not case.headers or case.headers.get("Authorization") != ADMIN_TOKEN:
        return
    assert Caller.api is not None and Caller.admin is not None, "set by the caller fixture"
    token = Caller.admin.access_token
    if case.operation.path in (SPENDS_ACCESS_TOKEN, SPENDS_REFRESH_TOKEN):
        login = Caller.api.post("/api/auth/login/",
                                json={"email": Caller.admin.email, "password": "s3cret-pass"})
        assert login.status_code == 200, login.text
        kind = "refresh_token" if case.operation.path == SPENDS_REFRESH_TOKEN else "access_token"
        token = login.json()[kind]
    case.headers["Authorization"] = f"Bearer {token}"


def openapi_document() -> dict[str, Any]:
    """The document exactly as the app serves it. Collection needs it, before any database
    exists, so it comes from an app on a database it never opens."""
    unused = Path(tempfile.gettempdir()) / "openapi-document-only.db"
    app = create_app(settings_for_tests(f"sqlite:///{unused}"))
    document: dict[str, Any] = app.test_client().get("/openapi.json").json
    return document


def fuzz_config() -> schemathesis.Config:
    """``schemathesis.toml``, with CI's fixed seed and ``FUZZ_EXAMPLES``."""
    options = tomllib.loads(CONFIG_FILE.read_text())
    if os.environ.get("CI"):
        options["seed"] = CI_SEED
    if "FUZZ_EXAMPLES" in os.environ:
        options["generation"]["max-examples"] = int(os.environ["FUZZ_EXAMPLES"])
    return schemathesis.Config.from_dict(options)


schema = schemathesis.openapi.from_dict(openapi_document(), config=fuzz_config())


# Through schemathesis's auth, so that the cases it means to send without a token (or with a
# bad one) reach the server that way.
@schema.auth(refresh_interval=None, retry_on=[])
class AdminToken:
    def get(self, case: schemathesis.Case, ctx: Any) -> str:
        return ADMIN_TOKEN

    def set(self, case: schemathesis.Case, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schema.parametrize()
# One app and one admin serve all the examples of an operation, as they would serve clients.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_every_operation_answers_as_documented(case: schemathesis.Case,
                                                caller: ApiClient) -> None:
    authorise(case)

    case.call_and_validate(base_url=caller.base_url, additional_checks=[error_shape])


def test_linked_operations_answer_as_documented(caller: ApiClient, admin: Admin,
                                                customer: dict[str, Any],
                                                another_user: str) -> None:
    # Someone to find in the lists: a customer, and (the newest user) one with a number who
    # is not a customer yet; the links lead from them to customers, orders, confirmations.
    caller.post("/api/auth/add-user-number/", token=admin.access_token, json={
        "user_id": another_user, "phone_number": "+254700000002"}).raise_for_status()
    failures: list[BaseException] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            authorise(case)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": caller.base_url}

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, additional_checks=[error_shape],
                                          **kwargs)
            except BaseException as failure:
                failures.append(failure)
                raise

    bounds = schema.config.phases_for(operation=None).stateful
    try:
        Workflow.run(settings=settings(
            max_examples=bounds.generation.max_examples, stateful_step_count=bounds.max_steps,
            deadline=None, database=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck)))
    except Flaky:
        # The server keeps what earlier scenarios did, so Hypothesis cannot replay one the
        # same way; as schemathesis's own runner does, only a failed check fails the test.
        if failures:
            raise failures[0] from None
