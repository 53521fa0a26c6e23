"""The published admin flow over HTTP, on SQLite and on PostgreSQL."""

import time

import pytest

ORDER_KEYS = {"id", "customer_id", "customer_code", "item", "amount", "currency", "status",
              "created_at", "confirmed_at", "notification"}


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


class TestRegistrationAndLogin:
    def test_an_admin_registers_with_the_api_key_and_gets_tokens(self, api):
        response = api.post("/api/auth/admin-register/", json={
            "email": "Grace@Example.com", "password": "s3cret-pass", "api_key": "123456721"})

        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "grace@example.com"
        assert body["role"] == "admin"
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 15 * 60
        assert body["access_token"] and body["refresh_token"]

    def test_the_original_curl_examples_work_verbatim(self, api):
        # The original service's first published example, as curl --data-raw sends it: JSON
        # labelled as a form, with a phone number one digit short.
        published = ('{\n    "email":"blabla@gmail.com",\n    "phone_number":"+25471232435",\n'
                     '    "password":"////.///Rono123",\n    "api_key":"123456721"\n}')
        as_curl_sends_it = {"Content-Type": "application/x-www-form-urlencoded"}

        refused = api.post("/api/auth/admin-register/", data=published,
                           headers=as_curl_sends_it)
        registered = api.post("/api/auth/admin-register/", headers=as_curl_sends_it,
                              data=published.replace("+25471232435", "+254712324350"))
        logged_in = api.post("/api/auth/login/", headers=as_curl_sends_it,
                             data=published.replace("+25471232435", "ignored"))

        expected = ("Not a valid phone number: expected a mobile number of Kenya, "
                    "+2547XXXXXXXX, such as +254712123456.")
        assert refused.status_code == 422
        assert refused.json() == {"error": expected, "code": "phone_number_invalid",
                                  "details": {"phone_number": [expected]}}
        assert registered.status_code == 201, registered.text
        assert logged_in.status_code == 200
        assert logged_in.json()["email"] == "blabla@gmail.com"

    def test_a_real_form_body_is_accepted(self, api):
        response = api.post("/api/auth/admin-register/", data={
            "email": "form@example.com", "password": "s3cret-pass", "api_key": "123456721"})

        assert response.status_code == 201

    def test_a_wrong_api_key_is_forbidden(self, api):
        response = api.post("/api/auth/admin-register/", json={
            "email": "x@example.com", "password": "s3cret-pass", "api_key": "guess"})

        assert_error(response, 403, "invalid_api_key")

    def test_an_email_registers_once_whatever_its_case(self, api, admin):
        response = api.post("/api/auth/admin-register/", json={
            "email": admin.email.upper(), "password": "s3cret-pass", "api_key": "123456721"})

        assert_error(response, 409, "email_taken")

    def test_a_short_password_and_missing_fields_are_named(self, api):
        response = api.post("/api/auth/admin-register/", json={"password": "short"})

        body = assert_error(response, 400, "validation_error")
        assert set(body["details"]) >= {"email", "password", "api_key"}

    def test_a_bad_phone_number_is_refused_naming_the_expected_form(self, api):
        response = api.post("/api/auth/admin-register/", json={
            "email": "p@example.com", "password": "s3cret-pass", "api_key": "123456721",
            "phone_number": "12"})

        body = assert_error(response, 422, "phone_number_invalid")
        assert body["error"] == ("Not a valid phone number: expected a mobile number of Kenya, "
                                 "+2547XXXXXXXX, such as +254712123456.")
        assert body["details"] == {"phone_number": [body["error"]]}

    def test_login_with_a_wrong_password_or_unknown_email_says_the_same(self, api, admin):
        wrong_password = api.post("/api/auth/login/", json={
            "email": admin.email, "password": "not-it", "api_key": "ignored"})
        unknown_email = api.post("/api/auth/login/", json={
            "email": "nobody@example.com", "password": "not-it"})

        assert_error(wrong_password, 401, "invalid_credentials")
        assert_error(unknown_email, 401, "invalid_credentials")
        assert wrong_password.json()["error"] == unknown_email.json()["error"]


class TestTokens:
    def test_an_admin_route_needs_a_token(self, api):
        assert_error(api.get("/api/lookup/all-users/"), 401, "token_missing")

    def test_a_garbled_token_is_invalid(self, api):
        assert_error(api.get("/api/lookup/all-users/", token="not.a.jwt"), 401, "token_invalid")

    def test_a_refresh_token_is_not_an_access_token(self, api, admin):
        response = api.get("/api/lookup/all-users/", token=admin.refresh_token)

        assert_error(response, 401, "token_invalid")

    def test_an_access_token_cannot_refresh(self, api, admin):
        assert_error(api.post("/api/auth/refresh/", token=admin.access_token), 401,
                     "token_invalid")

    def test_refreshing_rotates_the_refresh_token(self, api, admin):
        first = api.post("/api/auth/refresh/", token=admin.refresh_token)

        assert first.status_code == 200
        new_tokens = first.json()
        assert api.get("/api/lookup/all-users/", token=new_tokens["access_token"]).ok
        assert api.post("/api/auth/refresh/", token=new_tokens["refresh_token"]).ok

    def test_a_replayed_refresh_token_is_refused_and_ends_its_session(self, api, admin):
        first = api.post("/api/auth/refresh/", token=admin.refresh_token).json()

        replay = api.post("/api/auth/refresh/", token=admin.refresh_token)

        assert_error(replay, 401, "token_revoked")
        assert_error(api.get("/api/lookup/all-users/", token=first["access_token"]), 401,
                     "token_revoked")
        assert_error(api.post("/api/auth/refresh/", token=first["refresh_token"]), 401,
                     "token_revoked")

    def test_logout_revokes_the_access_and_the_refresh_token(self, api, admin):
        response = api.post("/api/auth/logout/", token=admin.access_token,
                            json={"refresh_token": admin.refresh_token})

        assert response.status_code == 200
        assert_error(api.get("/api/lookup/all-users/", token=admin.access_token), 401,
                     "token_revoked")
        assert_error(api.post("/api/auth/refresh/", token=admin.refresh_token), 401,
                     "token_revoked")

    def test_an_expired_token_is_refused(self, expiring_api):
        admin = expiring_api.register_admin()
        time.sleep(1.1)

        response = expiring_api.get("/api/lookup/all-users/", token=admin.access_token)

        assert_error(response, 401, "token_expired")

    def test_logins_are_rate_limited_per_email(self, limited_api):
        limited_api.register_admin(email="limited@example.com")
        attempts = [limited_api.post("/api/auth/login/", json={
            "email": "limited@example.com", "password": "wrong-pass"}) for _ in range(4)]

        assert [r.status_code for r in attempts] == [401, 401, 401, 429]
        assert_error(attempts[-1], 429, "rate_limited")
        assert int(attempts[-1].headers["Retry-After"]) > 0


class TestUsersAndCustomers:
    def test_an_admin_adds_a_phone_number_in_e164(self, api, admin, user):
        response = api.post("/api/auth/add-user-number/", token=admin.access_token,
                            json={"user_id": user, "phone_number": "0719 485 369"})

        assert response.status_code == 200
        assert response.json()["user"]["phone_number"] == "+254719485369"

    def test_a_number_already_in_use_is_a_conflict(self, api, admin, user, another_user):
        api.post("/api/auth/add-user-number/", token=admin.access_token,
                 json={"user_id": user, "phone_number": "+254719485369"})

        response = api.post("/api/auth/add-user-number/", token=admin.access_token,
                            json={"user_id": another_user, "phone_number": "0719485369"})

        assert_error(response, 409, "phone_number_taken")

    def test_an_unknown_user_is_not_found(self, api, admin):
        response = api.post("/api/auth/add-user-number/", token=admin.access_token, json={
            "user_id": "5b0e4a4e-0000-4000-8000-000000000000", "phone_number": "0719485369"})

        assert_error(response, 404, "user_not_found")

    def test_a_user_without_a_phone_cannot_become_a_customer(self, api, admin, user):
        response = api.post("/api/auth/create-customer/", token=admin.access_token,
                            json={"user_id": user})

        assert_error(response, 422, "phone_number_required")

    def test_a_user_becomes_a_customer_once(self, api, admin, user):
        api.post("/api/auth/add-user-number/", token=admin.access_token,
                 json={"user_id": user, "phone_number": "0719485369"})

        created = api.post("/api/auth/create-customer/", token=admin.access_token,
                           json={"user_id": user})
        again = api.post("/api/auth/create-customer/", token=admin.access_token,
                         json={"user_id": user})

        assert created.status_code == 201
        customer = created.json()["customer"]
        assert len(customer["code"]) == 8 and customer["phone_number"] == "+254719485369"
        body = assert_error(again, 409, "already_customer")
        assert body["details"]["customer_code"] == customer["code"]

    def test_users_are_listed_with_their_customer_code_and_filtered(self, api, admin, customer):
        by_post = api.post("/api/lookup/all-users/", token=admin.access_token,
                           json={"page": "1", "per_page": 5, "email": "WANJIKU"})
        by_get = api.get("/api/lookup/all-users/?email=wanjiku&per_page=5",
                         token=admin.access_token)

        assert by_post.status_code == 200
        assert by_post.json() == by_get.json()
        page = by_post.json()
        assert page["total"] == 1 and page["page"] == 1 and page["per_page"] == 5
        [listed] = page["users"]
        assert listed["customer_code"] == customer["code"]
        assert listed["role"] == "user" and listed["providers"] == ["google"]

    def test_customers_are_listed(self, api, admin, customer):
        response = api.get("/api/lookup/all-customers/", token=admin.access_token)

        assert response.status_code == 200
        assert response.json()["customers"][0]["code"] == customer["code"]
        assert response.json()["total_pages"] == 1


class TestOrders:
    def create(self, api, admin, customer, **changes):
        body = {"customer_code": customer["code"], "item": "Sack of maize", "amount": "420"}
        return api.post("/api/orders/create/", token=admin.access_token, json=body | changes)

    def test_an_order_is_created_and_its_sms_queued(self, api, admin, customer):
        response = self.create(api, admin, customer, amount=420)

        assert response.status_code == 201
        body = response.json()
        order = body["order"]
        assert set(order) == ORDER_KEYS
        assert order["amount"] == "420.00" and order["currency"] == "KES"
        assert order["status"] == "pending" and order["confirmed_at"] is None
        assert order["created_at"].endswith("Z")
        assert body["notification"]["status"] == "queued"
        assert order["notification"] == {"status": "queued", "attempts": 0, "last_error": None,
                                         "sent_at": None}

    def test_an_order_is_read_back(self, api, admin, customer):
        order = self.create(api, admin, customer).json()["order"]

        response = api.get(f"/api/orders/{order['id']}/", token=admin.access_token)

        assert response.status_code == 200
        assert response.json()["order"] == order | {"replies": []}

    @pytest.mark.parametrize(("order_id", "code"), [
        ("7f0e4a4e-0000-4000-8000-000000000000", "order_not_found"),
        ("not-a-uuid", "not_found")])
    def test_unknown_and_malformed_order_ids_in_the_path_are_not_found(self, api, admin,
                                                                       order_id, code):
        response = api.get(f"/api/orders/{order_id}/", token=admin.access_token)

        assert_error(response, 404, code)

    def test_a_malformed_id_in_a_body_or_query_is_a_validation_error(self, api, admin,
                                                                     customer):
        confirm = api.post("/api/orders/customer-order/confirm/", token=admin.access_token,
                           json={"customer_code": customer["code"], "order_id": "not-a-uuid"})
        by_id = api.get("/api/orders/customer/all-orders/?customer_id=not-a-uuid",
                        token=admin.access_token)
        by_code = api.post("/api/orders/create/", token=admin.access_token,
                           json={"customer_code": "ZZZ", "item": "Tea", "amount": "5"})

        assert "order_id" in assert_error(confirm, 400, "validation_error")["details"]
        assert "customer_id" in assert_error(by_id, 400, "validation_error")["details"]
        assert "customer_code" in assert_error(by_code, 400, "validation_error")["details"]

    def test_an_unknown_customer_cannot_order(self, api, admin, customer):
        response = self.create(api, admin, {"code": "ZZZZ9999"})

        assert_error(response, 404, "customer_not_found")

    @pytest.mark.parametrize(("amount", "field"), [
        ("0", "amount"), ("-5", "amount"), ("1.234", "amount"), ("NaN", "amount"),
        ("1e400", "amount"), ("ten", "amount")])
    def test_impossible_amounts_are_refused_by_field(self, api, admin, customer, amount, field):
        body = assert_error(self.create(api, admin, customer, amount=amount), 400,
                            "validation_error")

        assert field in body["details"]

    def test_a_blank_item_is_refused(self, api, admin, customer):
        body = assert_error(self.create(api, admin, customer, item="   "), 400,
                            "validation_error")

        assert "item" in body["details"]

    def test_a_retry_with_the_same_idempotency_key_returns_the_same_order(
            self, api, admin, customer):
        headers = {"Idempotency-Key": "order-42"}
        body = {"customer_code": customer["code"], "item": "Maize", "amount": "420"}

        first = api.post("/api/orders/create/", token=admin.access_token, json=body,
                         headers=headers)
        again = api.post("/api/orders/create/", token=admin.access_token, json=body,
                         headers=headers)
        different = api.post("/api/orders/create/", token=admin.access_token,
                             json=body | {"amount": "421"}, headers=headers)

        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert_error(different, 409, "idempotency_key_reused")
        listed = api.get("/api/orders/all-orders/", token=admin.access_token).json()
        assert listed["total"] == 1

    def test_the_customer_confirms_receipt_once(self, api, admin, customer):
        order = self.create(api, admin, customer).json()["order"]
        body = {"customer_code": customer["code"], "order_id": order["id"]}

        confirmed = api.post("/api/orders/customer-order/confirm/", token=admin.access_token,
                             json=body)
        twice = api.post("/api/orders/customer-order/confirm/", token=admin.access_token,
                         json=body)

        assert confirmed.status_code == 200
        assert confirmed.json()["order"]["status"] == "confirmed"
        assert confirmed.json()["order"]["confirmed_at"].endswith("Z")
        assert_error(twice, 409, "order_already_confirmed")

    def test_an_order_cannot_be_confirmed_by_another_customer(
            self, api, admin, customer, another_customer):
        order = self.create(api, admin, customer).json()["order"]

        response = api.post("/api/orders/customer-order/confirm/", token=admin.access_token,
                            json={"customer_code": another_customer["code"],
                                  "order_id": order["id"]})

        assert_error(response, 404, "order_not_found")

    def test_orders_are_listed_newest_first_and_filtered(
            self, api, admin, customer, another_customer):
        first = self.create(api, admin, customer, item="First").json()["order"]
        self.create(api, admin, another_customer, item="Second")
        self.create(api, admin, customer, item="Third")
        api.post("/api/orders/customer-order/confirm/", token=admin.access_token,
                 json={"customer_code": customer["code"], "order_id": first["id"]})

        everything = api.post("/api/orders/all-orders/", token=admin.access_token, json={})
        pending_of_one = api.get(
            f"/api/orders/all-orders/?customer_code={customer['code']}&status=pending",
            token=admin.access_token)
        second_page = api.get("/api/orders/all-orders/?per_page=2&page=2",
                              token=admin.access_token)

        assert [o["item"] for o in everything.json()["orders"]] == ["Third", "Second", "First"]
        assert [o["item"] for o in pending_of_one.json()["orders"]] == ["Third"]
        assert [o["item"] for o in second_page.json()["orders"]] == ["First"]
        assert second_page.json()["total_pages"] == 2

    def test_a_page_past_the_end_is_empty(self, api, admin, customer):
        self.create(api, admin, customer)

        response = api.get("/api/orders/all-orders/?page=9", token=admin.access_token)

        assert response.status_code == 200
        assert response.json()["orders"] == [] and response.json()["total"] == 1

    def test_a_customers_orders_come_with_the_customer(self, api, admin, customer):
        self.create(api, admin, customer)

        by_code = api.post("/api/orders/customer/all-orders/", token=admin.access_token,
                           json={"customer_code": customer["code"]})
        by_id = api.get(f"/api/orders/customer/all-orders/?customer_id={customer['id']}",
                        token=admin.access_token)

        assert by_code.status_code == 200
        assert by_code.json() == by_id.json()
        assert by_code.json()["customer"]["code"] == customer["code"]
        assert by_code.json()["total"] == 1

    def test_a_customers_orders_need_a_customer(self, api, admin):
        missing = api.post("/api/orders/customer/all-orders/", token=admin.access_token, json={})
        missing_in_query = api.get("/api/orders/customer/all-orders/", token=admin.access_token)
        unknown = api.post("/api/orders/customer/all-orders/", token=admin.access_token,
                           json={"customer_code": "ZZZZ9999"})

        # The body's schema states "one of the two"; query parameters cannot, so it is a 422.
        assert_error(missing, 400, "validation_error")
        assert_error(missing_in_query, 422, "customer_required")
        assert_error(unknown, 404, "customer_not_found")

    def test_an_amount_as_a_json_number_with_three_decimals_is_refused_by_the_use_case(
            self, api, admin, customer):
        response = self.create(api, admin, customer, amount=1.234)

        assert "amount" in assert_error(response, 422, "amount_invalid")["details"]
