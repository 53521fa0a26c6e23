"""What every client can rely on: the error shape, body rules, ids, docs and health."""

import json

from openapi_spec_validator import validate

from tests.integration.test_api_admin_flow import assert_error


def test_an_unknown_path_answers_in_the_error_shape(api):
    assert_error(api.get("/api/nope/"), 404, "not_found")


def test_a_wrong_method_answers_in_the_error_shape(api):
    response = api.request("DELETE", "/api/auth/login/")

    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_a_400_not_a_500(api):
    response = api.post("/api/auth/login/", data='{"email": "a@b.c", "password": ',
                        headers={"Content-Type": "application/json"})

    assert_error(response, 400, "invalid_json")


def test_deeply_nested_json_is_refused_cleanly(api):
    response = api.post("/api/auth/login/", data="[" * 50_000 + "]" * 50_000)

    assert response.status_code in {400, 413}
    assert response.json()["code"] in {"invalid_json", "payload_too_large"}


def test_a_body_over_64_kib_is_too_large(api, admin):
    response = api.post("/api/orders/create/", token=admin.access_token,
                        json={"item": "x" * 70_000})

    assert_error(response, 413, "payload_too_large")


def test_per_page_is_bounded(api, admin):
    response = api.get("/api/lookup/all-users/?per_page=101", token=admin.access_token)

    body = assert_error(response, 400, "validation_error")
    assert "per_page" in body["details"]


def test_every_response_carries_a_request_id_and_echoes_a_given_one(api):
    echoed = api.get("/healthz", headers={"X-Request-ID": "trace-123"})
    generated = api.get("/api/nope/")

    assert echoed.headers["X-Request-ID"] == "trace-123"
    assert len(generated.headers["X-Request-ID"]) >= 16


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").status_code == 200


def test_readiness_fails_when_the_database_does_not_answer(tmp_path):
    from tests.integration.live_server import live_app, settings_for_tests

    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"
    with live_app(settings_for_tests(unreachable)) as client:
        ready = client.get("/readyz")
        login = client.post("/api/auth/login/", json={"email": "a@b.co", "password": "x"})

    assert ready.status_code == 503
    assert_error(login, 503, "service_unavailable")


def test_the_openapi_document_is_valid_and_lists_every_endpoint(api):
    spec = api.get("/openapi.json").json()

    validate(spec)
    paths = spec["paths"]
    assert set(paths) >= {
        "/api/auth/admin-register/", "/api/auth/login/", "/api/auth/refresh/",
        "/api/auth/logout/", "/api/auth/add-user-number/", "/api/auth/create-customer/",
        "/api/lookup/all-users/", "/api/lookup/all-customers/", "/api/orders/create/",
        "/api/orders/{order_id}/", "/api/orders/customer-order/confirm/",
        "/api/orders/all-orders/", "/api/orders/customer/all-orders/",
    }
    create = paths["/api/orders/create/"]["post"]
    assert "requestBody" in create and "201" in create["responses"]
    assert {"get", "post"} <= set(paths["/api/lookup/all-users/"])
    assert "bearerAuth" in json.dumps(spec["components"])


def test_the_docs_page_loads_its_assets_from_the_service(api):
    page = api.get("/docs")

    assert page.status_code == 200
    assert "https://" not in page.text
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"]:
        assert api.get(f"/docs/assets/{asset}").status_code == 200


def _subschemas(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


def test_the_document_is_written_the_way_code_generators_read_it(api):
    spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    create = spec["paths"]["/api/orders/create/"]["post"]

    assert not [s for s in _subschemas(spec) if None in (s.get("enum") or [])]
    assert not [s for s in _subschemas(spec)
                if {"type": "object", "nullable": True} in (s.get("anyOf") or [])]
    for name, schema in schemas.items():
        if name.endswith(("Out", "Envelope")):
            assert set(schema["required"]) == set(schema["properties"]), name
    [key] = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["required"] is False and "nullable" not in key["schema"]
    assert "default" not in key["schema"]
    assert schemas["PlaceOrderIn"]["properties"]["amount"]["oneOf"][0]["type"] == "string"
    assert schemas["OrderOut"]["properties"]["status"] == {
        "$ref": "#/components/schemas/OrderStatus"}


def test_list_bodies_are_optional_and_links_lead_to_the_core(api):
    paths = api.get("/openapi.json").json()["paths"]

    for path in ["/api/lookup/all-users/", "/api/lookup/all-customers/",
                 "/api/orders/all-orders/", "/api/auth/logout/"]:
        assert paths[path]["post"]["requestBody"]["required"] is False, path
    customer_links = paths["/api/auth/create-customer/"]["post"]["responses"]["201"]["links"]
    order_links = paths["/api/orders/create/"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in customer_links.values()} >= {
        "createOrder", "listCustomerOrders", "getCustomerOrders"}
    assert {link["operationId"] for link in order_links.values()} == {"getOrder", "confirmOrder"}
