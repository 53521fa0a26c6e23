"""Hostile input gets a 400 (or a 404 for ids in paths, a 422 for phone numbers) in the error shape,
never a 500; text that is merely unusual is stored and returned as sent, less the control and
format characters that no SMS should carry.

Malformed JSON, a body over 64 KiB, a whole body nested 50,000 deep, per_page out of range,
malformed order ids in the path and the amounts 0, -5, 1.234, "NaN", "1e400" and "ten" are
in test_api_contract.py and test_api_admin_flow.py; this file covers the rest.
"""

from __future__ import annotations

import uuid

import pytest

from app.domain.sms_text import clean_text
from tests.integration.test_api_admin_flow import assert_error

TEXTS = {
    "sql-quote": "Robert'); DROP TABLE orders;--",
    "sql-tautology": "' OR '1'='1' --",
    "sql-like": "100% _pure_ \\ maize",
    "sql-sleep": "\"; SELECT pg_sleep(10);--",
    "emoji": "Wanjikũ's 🌽 maize 👩🏾‍🌾",
    "scripts": "中文 עברית العربية हिन्दी",
    "combining": "Cafe\u0301 ma\u0301ize",
    "bidi-override": "\u202eezi\u0430m",
    "zero-width": "mai\u200bze\ufeff",
    "astral": "\U0001d544\U0001d552\U0001d55a \U00013000",
    "html": "<script>alert(1)</script>",
}
LONG = "x" * 10_000


def create(api, admin, customer, **changes):
    body = {"customer_code": customer["code"], "item": "Sack of maize", "amount": "420"}
    return api.post("/api/orders/create/", token=admin.access_token, json=body | changes)


def assert_refused(response, *fields, status=400, code="validation_error"):
    body = assert_error(response, status, code)
    for field in fields:
        assert field in body["details"], body
    return body


class TestTextIsKeptIntact:
    def test_an_item_comes_back_as_sent_less_control_and_format_characters(self, api, admin,
                                                                            customer):
        for text in TEXTS.values():
            created = create(api, admin, customer, item=text)

            assert created.status_code == 201, created.text
            read = api.get(f"/api/orders/{created.json()['order']['id']}/",
                           token=admin.access_token)
            assert read.json()["order"]["item"] == clean_text(text)

    def test_a_name_comes_back_cleaned_and_a_password_works_exactly(self, api):
        for text in TEXTS.values():
            email = f"{uuid.uuid4().hex[:8]}@example.com"
            password = f"pw-{text}"
            registered = api.post("/api/auth/admin-register/", json={
                "email": email, "password": password, "api_key": "123456721", "name": text})
            login = api.post("/api/auth/login/", json={"email": email, "password": password})

            assert registered.status_code == 201, registered.text
            assert login.status_code == 200, login.text
            found = api.get("/api/lookup/all-users/", token=login.json()["access_token"],
                            params={"email": email}).json()["users"]
            assert [u["name"] for u in found] == [clean_text(text)]

    def test_an_email_with_quotes_and_wildcards_is_one_address(self, api):
        email = "o'brien+100%_off@example.com"
        registered = api.post("/api/auth/admin-register/", json={
            "email": email, "password": "s3cret-pass", "api_key": "123456721"})
        api.post("/api/auth/admin-register/", json={
            "email": "obrien1000off@example.com", "password": "s3cret-pass",
            "api_key": "123456721"}).raise_for_status()
        token = registered.json()["access_token"]

        found = api.get("/api/lookup/all-users/", token=token,
                        params={"email": "100%_"}).json()["users"]
        everyone = api.get("/api/lookup/all-users/", token=token,
                           params={"email": "%"}).json()["users"]

        assert registered.json()["email"] == email
        assert [u["email"] for u in found] == [email]
        assert [u["email"] for u in everyone] == [email]

    def test_sql_in_a_lookup_finds_nothing_and_breaks_nothing(self, api, admin, customer):
        for text in TEXTS.values():
            by_email = api.get("/api/lookup/all-users/", token=admin.access_token,
                               params={"email": text})
            by_code = api.get("/api/orders/all-orders/", token=admin.access_token,
                              params={"customer_code": text})

            assert by_email.status_code == 200, by_email.text
            assert by_email.json()["total"] == 0
            assert_refused(by_code, "customer_code")  # not 8 letters or digits
        assert api.get("/api/orders/all-orders/", token=admin.access_token).status_code == 200

    def test_an_idempotency_key_with_sql_in_it_still_replays(self, api, admin, customer):
        headers = {"Idempotency-Key": "k'; DELETE FROM idempotency_keys; --"}
        first = api.post("/api/orders/create/", token=admin.access_token, headers=headers,
                         json={"customer_code": customer["code"], "item": "Tea", "amount": "5"})
        again = api.post("/api/orders/create/", token=admin.access_token, headers=headers,
                         json={"customer_code": customer["code"], "item": "Tea", "amount": "5"})

        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()


class TestTextNoDatabaseCanHold:
    """PostgreSQL refuses NUL in text and no column holds a lone surrogate: both are 400s."""

    @pytest.mark.parametrize("bad", ["maize\x00", "\x00"], ids=["nul", "only-nul"])
    def test_in_a_body_field(self, api, admin, customer, bad):
        assert_refused(create(api, admin, customer, item=bad), "item")
        assert_refused(create(api, admin, customer, customer_code=bad), "customer_code")
        assert_refused(api.post("/api/auth/admin-register/", json={
            "email": f"a{bad}@example.com", "password": "s3cret-pass",
            "api_key": "123456721"}), "email")
        assert_refused(api.post("/api/auth/admin-register/", json={
            "email": "nul@example.com", "password": "s3cret-pass", "api_key": "123456721",
            "name": bad}), "name")
        assert_refused(api.post("/api/auth/login/", json={
            "email": "admin@example.com", "password": f"s3cret-pass{bad}"}), "password")
        assert_refused(api.post("/api/orders/customer-order/confirm/",
                                token=admin.access_token,
                                json={"customer_code": customer["code"], "order_id": bad}),
                       "order_id")

    def test_in_the_query_string(self, api, admin):
        for path, field in [("/api/lookup/all-users/", "email"),
                            ("/api/orders/all-orders/", "customer_code"),
                            ("/api/orders/customer/all-orders/", "customer_id")]:
            response = api.get(path, token=admin.access_token, params={field: "a\x00b"})

            assert_refused(response, field)

    def test_in_the_idempotency_key(self, api, admin, customer):
        response = api.post("/api/orders/create/", token=admin.access_token,
                            headers={"Idempotency-Key": "key\x00"},
                            json={"customer_code": customer["code"], "item": "Tea",
                                  "amount": "5"})

        assert_refused(response, "Idempotency-Key")

    def test_a_lone_surrogate_escaped_in_json(self, api, admin, customer):
        raw = '{"customer_code": "%s", "item": "\\ud800 maize", "amount": "5"}'
        response = api.post("/api/orders/create/", token=admin.access_token,
                            data=raw % customer["code"],
                            headers={"Content-Type": "application/json"})
        login = api.post("/api/auth/login/", data='{"email": "\\udfff@x.co", "password": "p"}')

        assert_refused(response, "item")
        assert_refused(login, "email")


class TestSizes:
    def test_very_long_strings_are_refused_by_field(self, api, admin, customer, user):
        assert_refused(create(api, admin, customer, item="x" * 201), "item")
        assert_refused(create(api, admin, customer, customer_code=LONG), "customer_code")
        assert_refused(create(api, admin, customer, currency=LONG), "currency")
        assert_refused(api.post("/api/auth/admin-register/", json={
            "email": LONG + "@example.com", "password": "s3cret-pass",
            "api_key": "123456721"}), "email")
        assert_refused(api.post("/api/auth/admin-register/", json={
            "email": "long@example.com", "password": LONG, "api_key": "123456721"}),
            "password")
        assert_refused(api.post("/api/auth/add-user-number/", token=admin.access_token,
                                json={"user_id": user, "phone_number": "7" * 5_000}),
                       "phone_number", status=422, code="phone_number_invalid")
        assert_refused(api.get("/api/lookup/all-users/", token=admin.access_token,
                               params={"email": LONG}), "email")

    def test_a_very_long_idempotency_key_is_refused(self, api, admin, customer):
        response = api.post("/api/orders/create/", token=admin.access_token,
                            headers={"Idempotency-Key": "k" * 256},
                            json={"customer_code": customer["code"], "item": "Tea",
                                  "amount": "5"})

        assert_refused(response, "Idempotency-Key")

    def test_a_huge_body_is_too_large(self, api, admin):
        response = api.post("/api/lookup/all-users/", token=admin.access_token,
                            json={f"field{n}": "x" * 100 for n in range(20_000)})

        assert_error(response, 413, "payload_too_large")

    def test_a_wide_body_just_under_the_limit_is_read(self, api, admin):
        fields = {f"f{n}": n for n in range(4_500)}  # about 60 KiB of fields it ignores

        response = api.post("/api/lookup/all-users/", token=admin.access_token,
                            json=fields | {"per_page": 5})

        assert response.status_code == 200, response.text
        assert response.json()["per_page"] == 5

    def test_deep_nesting_inside_a_field_is_unreadable(self, api, admin, customer):
        nested = "[" * 20_000 + "]" * 20_000
        code = customer["code"]
        raw = f'{{"customer_code": "{code}", "item": {nested}, "amount": "5"}}'

        response = api.post("/api/orders/create/", token=admin.access_token, data=raw)

        assert_refused(response, code="invalid_json")

    def test_a_number_with_thousands_of_digits_is_unreadable(self, api, admin):
        response = api.post("/api/lookup/all-users/", token=admin.access_token,
                            data='{"page": ' + "9" * 5_000 + "}")

        assert_refused(response, code="invalid_json")


class TestNumbersAndStrings:
    def test_amounts_as_numbers_or_strings_are_exact(self, api, admin, customer):
        for amount, shown in [
                ("420", "420.00"), (420, "420.00"), (420.5, "420.50"), ("0.01", "0.01"),
                ("9999999999.99", "9999999999.99"), ("1.50", "1.50")]:
            response = create(api, admin, customer, amount=amount)

            assert response.status_code == 201, response.text
            assert response.json()["order"]["amount"] == shown

    def test_impossible_amounts_are_refused(self, api, admin, customer):
        for amount in ["-0", "0.00", -1, 0, "-0.01", "Infinity", "-Infinity", "sNaN",
                       "1e-400", 1e-400, "0.001", "1.005", "10000000000", 1e10, "1e999999999",
                       "", " ", "1,000.00", "0x10", True, None, [], {}, "420 KES", "1E2",
                       " 420", "+420", "0420"]:
            assert_refused(create(api, admin, customer, amount=amount), "amount")

    def test_non_finite_json_numbers_are_refused(self, api, admin, customer):
        code = customer["code"]
        for raw in ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"]:
            body = f'{{"customer_code": "{code}", "item": "Tea", "amount": {raw}}}'

            response = api.post("/api/orders/create/", token=admin.access_token, data=body)

            assert_refused(response, "amount")

    def test_page_numbers_may_be_strings(self, api, admin):
        response = api.post("/api/lookup/all-users/", token=admin.access_token,
                            json={"page": "1", "per_page": "3"})

        assert response.status_code == 200
        assert (response.json()["page"], response.json()["per_page"]) == (1, 3)

    def test_a_page_that_is_not_a_whole_number_is_refused(self, api, admin):
        for page in [1.5, "1.5", "one", True, "", [], 10**30, -1, 0]:
            response = api.post("/api/lookup/all-users/", token=admin.access_token,
                                json={"page": page})

            assert_refused(response, "page")

    def test_a_number_or_structure_where_text_belongs_is_refused(self, api, admin, customer):
        for value in [12345678, 4.2, True, ["ABCD1234"], {"a": 1}]:
            assert_refused(create(api, admin, customer, customer_code=value), "customer_code")
            assert_refused(create(api, admin, customer, item=value), "item")
            assert_refused(api.post("/api/auth/login/", json={"email": value,
                                                              "password": value}),
                           "email", "password")


class TestPhoneNumbers:
    def test_kenyan_mobile_numbers_in_any_form_are_stored_in_e164(self, api, admin, user):
        for given in ["0719 485 369", "+254-719-485-369", "254719485369", "(0719) 485369"]:
            response = api.post("/api/auth/add-user-number/", token=admin.access_token,
                                json={"user_id": user, "phone_number": given})

            assert response.status_code == 200, response.text
            assert response.json()["user"]["phone_number"] == "+254719485369"

    @pytest.mark.parametrize(("given", "why"), [
        ("+14155552671", "That is a number of United States"),
        ("+255 712 345 678", "That is a number of Tanzania"),
        ("+1 900 555 0123", "That is a premium-rate number"),
        ("+44 909 090 1234", "That is a premium-rate number"),
        ("+1 800 555 0199", "That is a toll-free number"),
        ("+254 20 1234567", "That is a landline number"),
    ])
    def test_numbers_the_service_will_not_text_are_refused_saying_why(self, api, admin, user,
                                                                      given, why):
        response = api.post("/api/auth/add-user-number/", token=admin.access_token,
                            json={"user_id": user, "phone_number": given})

        body = assert_refused(response, "phone_number", status=422, code="phone_number_invalid")
        assert body["error"].startswith(why), body
        assert body["error"].endswith("such as +254712123456."), body

    def test_invalid_numbers_are_refused(self, api, admin, user):
        for given in ["12345", "+254 000 000", "+1 415 555", "+999 123456789", "not a number",
                      "+", "", "0719485369; DROP TABLE users", "+254719485369" + "0" * 20,
                      "\u0660\u0667 and more", "+254 71\uff19 485 36"]:
            response = api.post("/api/auth/add-user-number/", token=admin.access_token,
                                json={"user_id": user, "phone_number": given})
            registered = api.post("/api/auth/admin-register/", json={
                "email": "phone@example.com", "password": "s3cret-pass",
                "api_key": "123456721", "phone_number": given})

            assert_refused(response, "phone_number", status=422, code="phone_number_invalid")
            if given:  # an empty number at registration means none, which admins may have
                assert_refused(registered, "phone_number", status=422,
                               code="phone_number_invalid")


class TestIds:
    NOT_UUIDS = ["not-a-uuid", "", "1234", "00000000-0000-0000-0000-00000000000g",
                 "' OR 1=1 --", "0" * 5_000]

    def test_a_user_id_that_is_not_a_uuid_is_a_validation_error(self, api, admin):
        for user_id in [*self.NOT_UUIDS, 12345, None, ["x"]]:
            number = api.post("/api/auth/add-user-number/", token=admin.access_token,
                              json={"user_id": user_id, "phone_number": "+254719485369"})
            customer = api.post("/api/auth/create-customer/", token=admin.access_token,
                                json={"user_id": user_id})

            assert_refused(number, "user_id")
            assert_refused(customer, "user_id")

    def test_an_order_id_that_is_not_a_uuid_is_a_validation_error(self, api, admin, customer):
        for order_id in [*self.NOT_UUIDS, 12345, None]:
            response = api.post("/api/orders/customer-order/confirm/",
                                token=admin.access_token,
                                json={"customer_code": customer["code"], "order_id": order_id})

            assert_refused(response, "order_id")

    def test_a_path_id_that_is_not_a_uuid_is_not_found(self, api, admin):
        for path_id in ["%27%20OR%201%3D1", "..%2F..%2Fetc", "x" * 2_000]:
            response = api.get(f"/api/orders/{path_id}/", token=admin.access_token)

            assert response.status_code == 404
            assert response.json()["code"] in {"order_not_found", "not_found"}

    def test_a_customer_id_that_is_not_a_uuid_is_a_validation_error(self, api, admin):
        for customer_id in ["not-a-uuid", "1234", "00000000-0000-0000-0000-00000000000g",
                            "' OR 1=1 --"]:
            response = api.get("/api/orders/customer/all-orders/", token=admin.access_token,
                               params={"customer_id": customer_id})

            assert_refused(response, "customer_id")


class TestRepeatedParameters:
    """A parameter given twice is ambiguous (which one wins differs between parsers and
    proxies), so it is refused rather than guessed."""

    def test_a_repeated_query_parameter_is_refused(self, api, admin):
        for query, field in [("page=1&page=2", "page"), ("per_page=5&per_page=100", "per_page"),
                             ("email=a&email=b", "email")]:
            response = api.get(f"/api/lookup/all-users/?{query}", token=admin.access_token)

            assert_refused(response, field)

    def test_repeated_filters_on_orders_are_refused(self, api, admin):
        response = api.get("/api/orders/all-orders/?status=pending&status=confirmed",
                           token=admin.access_token)

        assert_refused(response, "status")

    def test_a_repeated_parameter_the_service_does_not_read_is_ignored(self, api, admin):
        response = api.get("/api/lookup/all-users/?_=1&_=2", token=admin.access_token)

        assert response.status_code == 200

    def test_a_repeated_json_field_is_refused(self, api, admin):
        response = api.post("/api/lookup/all-users/", token=admin.access_token,
                            data='{"per_page": 1, "per_page": 100}')

        body = assert_refused(response, code="invalid_json")
        assert "per_page" in str(body["details"])

    def test_a_repeated_form_field_is_refused(self, api):
        response = api.post("/api/auth/login/", data="email=a@b.co&email=c@d.co&password=x",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

        assert_refused(response, code="invalid_json")
