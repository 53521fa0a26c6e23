"""Property-based fuzzing of every operation in the service's own /openapi.json.

schemathesis generates valid and invalid requests from the document (examples, boundary
values, then random data, NUL characters and odd Unicode included) and sends them to the
app as an administrator. Every answer must be one the document lists for the operation,
match its schema, never be a 5xx, and every error must have the contract's error shape.

It runs on PostgreSQL only: that is the database that refuses what SQLite lets through
(NUL in text, for one), so a fuzz run there finds strictly more, and one run keeps the
file inside its time budget. In CI (``CI`` set) the seed is fixed, so a run is repeatable;
elsewhere each run draws a new seed and explores further. ``FUZZ_EXAMPLES`` raises the
number of random examples per operation for a longer local run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from tests.integration.live_server import Admin, ApiClient, settings_for_tests

pytestmark = pytest.mark.postgres_only
CI_SEED = 20261128
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
ERROR_KEYS = {"error", "code", "details"}
# The operations whose tokens a request spends: each such case gets tokens of its own.
SPENDS_ACCESS_TOKEN = "/api/auth/logout/"
SPENDS_REFRESH_TOKEN = "/api/auth/refresh/"


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


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, ignored_auth, error_shape]


def token_for(case: schemathesis.Case, api: ApiClient, admin: Admin) -> str:
    """The admin's access token; a fresh one where the request would spend it."""
    if case.operation.path not in (SPENDS_ACCESS_TOKEN, SPENDS_REFRESH_TOKEN):
        return admin.access_token
    login = api.post("/api/auth/login/", json={"email": admin.email, "password": "s3cret-pass"})
    assert login.status_code == 200, login.text
    kind = "refresh_token" if case.operation.path == SPENDS_REFRESH_TOKEN else "access_token"
    return str(login.json()[kind])


def openapi_document() -> dict[str, Any]:
    """The document exactly as the app serves it. Collection needs it, before any database
    exists, so it comes from an app on a database it never opens."""
    unused = Path(tempfile.gettempdir()) / "openapi-document-only.db"
    app = create_app(settings_for_tests(f"sqlite:///{unused}"))
    document: dict[str, Any] = app.test_client().get("/openapi.json").json
    return document


schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config.from_dict({
    **({"seed": CI_SEED} if os.environ.get("CI") else {}),
    "generation": {"max-examples": EXAMPLES, "database": "none", "mode": "all"},
    "phases": {"stateful": {"enabled": False}},
}))


@schema.parametrize()
# One app and one admin serve all the examples of an operation, as they would serve clients.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(case: schemathesis.Case, api: ApiClient,
                                                admin: Admin) -> None:
    token = token_for(case, api, admin)

    case.call_and_validate(base_url=api.base_url, headers={"Authorization": f"Bearer {token}"},
                           checks=CHECKS)
