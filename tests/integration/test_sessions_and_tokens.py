"""Sessions end when their owner ends them: refresh-token families, browser logout, pending
sign-ins, idempotency keys that belong to their sender, and addresses that belong to whoever
proves them. Over HTTP, on both databases."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app import create_app
from app.services.views import PageRequest
from tests.integration.live_server import ApiClient, serve, settings_for_tests
from tests.integration.signing_in import Browser, local_sign_in, set_person
from tests.integration.test_api_admin_flow import assert_error
from tests.integration.test_token_attacks import SERVICE_KEY


def login(api: ApiClient, email: str = "admin@example.com") -> dict[str, str]:
    answer = api.post("/api/auth/login/", json={"email": email, "password": "s3cret-pass"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(api: ApiClient, refresh_token: str):
    return api.post("/api/auth/refresh/", token=refresh_token)


def lookup(api: ApiClient, access_token: str):
    return api.get("/api/lookup/all-users/", token=access_token)


class TestRefreshTokenFamilies:
    def test_a_replayed_refresh_token_ends_the_tokens_refreshed_from_it(self, api, admin):
        stolen = login(api)
        thiefs = refresh(api, stolen["refresh_token"]).json()

        replay = refresh(api, stolen["refresh_token"])

        assert_error(replay, 401, "token_revoked")
        assert_error(refresh(api, thiefs["refresh_token"]), 401, "token_revoked")
        assert_error(lookup(api, thiefs["access_token"]), 401, "token_revoked")

    def test_another_sign_in_of_the_same_admin_lives_on(self, api, admin):
        stolen, other_device = login(api), login(api)
        refresh(api, stolen["refresh_token"])

        refresh(api, stolen["refresh_token"])

        assert lookup(api, other_device["access_token"]).status_code == 200
        assert refresh(api, other_device["refresh_token"]).status_code == 200

    def test_refreshing_carries_the_session_on(self, api, admin):
        first = login(api)
        second = refresh(api, first["refresh_token"]).json()
        third = refresh(api, second["refresh_token"]).json()

        assert lookup(api, third["access_token"]).status_code == 200

    def test_logging_out_with_the_access_token_alone_ends_its_refresh_token(self, api, admin):
        session = login(api)

        out = api.post("/api/auth/logout/", token=session["access_token"], json={})

        assert out.status_code == 200
        assert_error(refresh(api, session["refresh_token"]), 401, "token_revoked")
        assert lookup(api, login(api)["access_token"]).status_code == 200

    @pytest.mark.parametrize("missing", ["exp", "iat", "jti", "type"])
    def test_a_correctly_signed_token_without_a_standard_claim_is_refused(self, api, admin,
                                                                        missing):
        now = int(time.time())
        claims = {"iat": now, "nbf": now, "jti": str(uuid.uuid4()), "type": "access",
                  "sub": admin.user_id, "exp": now + 600, "role": "admin", "fresh": False}
        del claims[missing]

        answer = lookup(api, jwt.encode(claims, SERVICE_KEY, algorithm="HS256"))

        assert_error(answer, 401, "token_invalid")


class TestIdempotencyKeys:
    def test_two_callers_using_the_same_key_each_get_their_own_order(self, api, admin,
                                                                    customer):
        other = api.register_admin("other-admin@example.com")
        body = {"customer_code": customer["code"], "item": "Tea", "amount": "5"}

        first = api.post("/api/orders/create/", token=admin.access_token, json=body,
                         headers={"Idempotency-Key": "order-1"})
        second = api.post("/api/orders/create/", token=other.access_token, json=body,
                          headers={"Idempotency-Key": "order-1"})
        replay = api.post("/api/orders/create/", token=admin.access_token, json=body,
                          headers={"Idempotency-Key": "order-1"})

        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json()["order"]["id"] != second.json()["order"]["id"]
        assert replay.json()["order"]["id"] == first.json()["order"]["id"]

    def test_the_cleanup_command_forgets_keys_older_than_a_day(self, database_url, api, admin,
                                                              customer, uow_factory):
        body = {"customer_code": customer["code"], "item": "Tea", "amount": "5"}
        first = api.post("/api/orders/create/", token=admin.access_token, json=body,
                         headers={"Idempotency-Key": "yesterday"})
        with uow_factory() as uow:
            uow.revoked_tokens.add("long-expired", expires_at=datetime.now(UTC) - timedelta(1))
            uow.commit()
        app = create_app(settings_for_tests(database_url))
        a_day_later = datetime.now(UTC) + timedelta(hours=25)
        app.extensions["customer_order_service"] = _with_clock(app, lambda: a_day_later)

        output = app.test_cli_runner().invoke(args=["cleanup"]).output

        assert output.strip() == "forgot 1 idempotency keys and 1 revoked tokens"
        again = api.post("/api/orders/create/", token=admin.access_token, json=body,
                         headers={"Idempotency-Key": "yesterday"})
        assert again.json()["order"]["id"] != first.json()["order"]["id"]


def _with_clock(app, clock):
    """The app's services with another clock, as if the command ran later."""
    return replace(app.extensions["customer_order_service"], clock=clock)


@pytest.fixture(scope="module")
def site(database_url: str, local_issuer: str) -> Iterator[str]:
    with serve(create_app(settings_for_tests(database_url, **local_sign_in(local_issuer)))) \
            as url:
        yield url


@pytest.fixture
def wanjiku(site: str, local_issuer: str, clean_tables: None) -> Browser:
    set_person(local_issuer, "wanjiku", email="wanjiku@example.com", email_verified=True,
               name="Wanjiku Kamau")
    browser = Browser(site)
    assert browser.sign_in_locally("wanjiku").status_code == 302
    return browser


class TestBrowserSessions:
    def test_a_cookie_copied_before_logout_opens_nothing_after_it(self, wanjiku, site):
        copy = Browser(site)
        copy.http.cookies.update(wanjiku.http.cookies)
        assert copy.get("/account/").status_code == 200

        wanjiku.submit("/logout/")

        assert copy.get("/account/").status_code == 302
        assert copy.get("/account/").headers["Location"] == "/"

    def test_signing_in_again_after_logout_works(self, wanjiku):
        wanjiku.submit("/logout/")

        wanjiku.sign_in_locally("wanjiku")

        assert wanjiku.get("/account/").status_code == 200

    def test_unfinished_sign_ins_keep_one_state_per_provider(self, site, clean_tables):
        browser = Browser(site)
        for _ in range(25):
            browser.start_sign_in("dev")

        cookie = browser.http.cookies["session"]

        assert len(cookie) < 1024
        assert browser.sign_in_locally("wanjiku").status_code == 302


class TestAddressesBelongToWhoProvesThem:
    def test_a_verified_sign_in_takes_the_address_from_an_account_that_never_proved_it(
            self, site, local_issuer, clean_tables, api, admin, uow_factory):
        set_person(local_issuer, "squatter", email="owner@example.com", email_verified=False,
                   name="Squatter")
        set_person(local_issuer, "owner", email="owner@example.com", email_verified=True,
                   name="Owner")
        assert Browser(site).sign_in_locally("squatter").status_code == 302

        owner = Browser(site)
        answer = owner.sign_in_locally("owner")

        assert answer.status_code == 302
        assert owner.get("/account/").status_code == 200
        found = {u["name"]: u for u in lookup(api, admin.access_token).json()["users"]}
        assert (found["Owner"]["email"], found["Owner"]["email_verified"]) == (
            "owner@example.com", True)
        assert found["Squatter"]["email"].endswith("@unverified.invalid")
        assert found["Squatter"]["email_verified"] is False
        with uow_factory() as uow:
            assert uow.users.list(PageRequest(), email_contains="owner@").total == 1
