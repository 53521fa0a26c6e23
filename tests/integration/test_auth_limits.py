"""Guessing passwords and the admin API key over HTTP, and what the limits let through.

Clients at different addresses are told apart by X-Forwarded-For, as behind one proxy
(TRUST_PROXY=true); every request of these tests really comes from 127.0.0.1.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import pytest

from tests.integration.live_server import ApiClient, live_app, settings_for_tests

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"
GRACE = {"email": "grace@example.com", "password": "s3cret-pass"}
PRODUCTION_API_KEY = secrets.token_hex(16)


def production(**changes: Any) -> dict[str, Any]:
    return dict(app_env="production", secret_key=secrets.token_hex(32),
                jwt_secret_key=secrets.token_hex(32), admin_api_key=PRODUCTION_API_KEY,
                at_callback_token=secrets.token_hex(32),
                public_base_url="https://orders.example.com", **changes)


def log_in(api: ApiClient, address: str, password: str) -> int:
    answer = api.post("/api/auth/login/", headers={"X-Forwarded-For": address},
                      json={"email": GRACE["email"], "password": password})
    return answer.status_code


def register(api: ApiClient, address: str, api_key: str = "wrong-key") -> Any:
    return api.post("/api/auth/admin-register/", headers={"X-Forwarded-For": address},
                    json=GRACE | {"api_key": api_key})


def assert_rate_limited(answer: Any) -> None:
    assert answer.status_code == 429
    assert answer.json()["code"] == "rate_limited"
    assert isinstance(answer.json()["error"], str)
    assert int(answer.headers["Retry-After"]) > 0


class TestLogin:
    def test_guessing_from_one_address_does_not_lock_the_admin_out_elsewhere(
            self, database_url, clean_tables):
        settings = settings_for_tests(database_url, trust_proxy=True, login_rate_limit="3/minute",
                                      login_email_rate_limit="20/minute")
        with live_app(settings) as api:
            api.register_admin(GRACE["email"])
            guesses = [log_in(api, ATTACKER, f"guess-{n}") for n in range(6)]
            owner = log_in(api, OWNER, GRACE["password"])

        assert guesses == [401, 401, 401, 429, 429, 429]
        assert owner == 200

    def test_guessing_one_email_from_many_addresses_is_bounded(self, database_url,
                                                               clean_tables):
        settings = settings_for_tests(database_url, trust_proxy=True, login_rate_limit="3/minute",
                                      login_email_rate_limit="5/minute")
        with live_app(settings) as api:
            api.register_admin(GRACE["email"])
            guesses = [log_in(api, f"203.0.113.{n}", "guess") for n in range(1, 8)]

        assert guesses == [401] * 5 + [429, 429]

    def test_without_a_trusted_proxy_a_forged_forwarded_address_is_ignored(
            self, database_url, clean_tables):
        settings = settings_for_tests(database_url, login_rate_limit="3/minute")
        with live_app(settings) as api:
            api.register_admin(GRACE["email"])
            guesses = [log_in(api, f"203.0.113.{n}", "guess") for n in range(1, 5)]

        assert guesses == [401, 401, 401, 429]

    def test_behind_the_proxy_only_the_address_it_wrote_counts(self, database_url,
                                                                clean_tables):
        settings = settings_for_tests(database_url, trust_proxy=True, login_rate_limit="3/minute")
        with live_app(settings) as api:
            api.register_admin(GRACE["email"])
            guesses = [log_in(api, f"192.0.2.{n}, {ATTACKER}", "guess") for n in range(1, 5)]

        assert guesses == [401, 401, 401, 429]

    def test_logins_are_counted_in_memory_while_redis_is_unreachable(
            self, database_url, clean_tables, caplog):
        # Nothing listens on port 1.
        settings = settings_for_tests(database_url, ratelimit_storage_uri="redis://127.0.0.1:1/0",
                                      login_rate_limit="3/minute")
        with caplog.at_level(logging.WARNING), live_app(settings) as api:
            api.register_admin(GRACE["email"])
            right = api.post("/api/auth/login/", json=GRACE)
            wrong = api.post("/api/auth/login/", json=GRACE | {"password": "guess"})
            api.post("/api/auth/login/", json=GRACE | {"password": "guess"})
            limited = api.post("/api/auth/login/", json=GRACE)

        assert right.status_code == 200
        assert wrong.status_code == 401
        assert_rate_limited(limited)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("in-memory" in message for message in warnings), warnings


class TestAdminRegistration:
    def test_guessing_the_api_key_is_limited_per_address(self, database_url, clean_tables):
        settings = settings_for_tests(database_url, trust_proxy=True,
                                      admin_register_rate_limit="2/hour")
        with live_app(settings) as api:
            guesses = [register(api, ATTACKER) for _ in range(3)]
            elsewhere = register(api, OWNER, api_key="123456721")

        assert [g.status_code for g in guesses] == [403, 403, 429]
        assert_rate_limited(guesses[-1])
        assert elsewhere.status_code == 201

    def test_guessing_the_api_key_is_limited_across_all_addresses(self, database_url,
                                                                  clean_tables):
        settings = settings_for_tests(database_url, trust_proxy=True,
                                      admin_register_global_rate_limit="3/hour")
        with live_app(settings) as api:
            guesses = [register(api, f"203.0.113.{n}") for n in range(1, 5)]

        assert [g.status_code for g in guesses] == [403, 403, 403, 429]
        assert_rate_limited(guesses[-1])

    def test_a_closed_registration_refuses_even_the_right_key(self, database_url,
                                                              clean_tables):
        settings = settings_for_tests(database_url, admin_registration_enabled=False)
        with live_app(settings) as api:
            answer = register(api, OWNER, api_key="123456721")
            login = api.post("/api/auth/login/", json=GRACE)

        assert answer.status_code == 403
        assert answer.json() == {"error": answer.json()["error"], "code": "registration_closed"}
        assert login.status_code == 401

    def test_production_keeps_registration_closed_unless_the_operator_opens_it(
            self, database_url, clean_tables):
        with live_app(settings_for_tests(database_url, **production())) as api:
            closed = register(api, OWNER, api_key=PRODUCTION_API_KEY)
        opened_settings = settings_for_tests(database_url,
                                             **production(admin_registration_enabled=True))
        with live_app(opened_settings) as api:
            opened = register(api, OWNER, api_key=PRODUCTION_API_KEY)

        assert closed.status_code == 403
        assert closed.json()["code"] == "registration_closed"
        assert opened.status_code == 201


@pytest.mark.parametrize("path", ["/api/auth/admin-register/", "/api/auth/login/"])
def test_the_published_document_lists_the_rate_limit_answer(api, path):
    document = api.get("/openapi.json").json()

    assert "429" in document["paths"][path]["post"]["responses"]
