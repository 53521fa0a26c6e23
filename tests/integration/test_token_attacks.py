"""Forged, tampered, misused and stale tokens get nobody into the admin API.

Expiry of an access token, a refresh token used as an access token and the reverse, and
revocation by logout and by rotation are proved in test_api_admin_flow.py; this file adds
the attacks on the token itself and the checks that every admin route applies the guard.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from app.config import DEVELOPMENT_SECRETS
from app.domain.users import Role
from tests.integration.test_api_admin_flow import assert_error

SERVICE_KEY = DEVELOPMENT_SECRETS["JWT_SECRET_KEY"]  # what settings_for_tests signs with
ANOTHER_KEY = "an-attackers-key-of-decent-length-0123456789"
ADMIN_ROUTE = "/api/lookup/all-users/"
AN_ORDER_ID = str(uuid.uuid4())
# Every route that only an administrator's access token opens, with a body it would accept.
ADMIN_ROUTES = [
    ("POST", "/api/auth/add-user-number/", {"user_id": str(uuid.uuid4()),
                                            "phone_number": "+254719485369"}),
    ("POST", "/api/auth/create-customer/", {"user_id": str(uuid.uuid4())}),
    ("GET", "/api/lookup/all-users/", None),
    ("POST", "/api/lookup/all-users/", {}),
    ("GET", "/api/lookup/all-customers/", None),
    ("POST", "/api/lookup/all-customers/", {}),
    ("POST", "/api/orders/create/", {"customer_code": "ABCD1234", "item": "Maize",
                                     "amount": "1"}),
    ("GET", f"/api/orders/{AN_ORDER_ID}/", None),
    ("POST", "/api/orders/customer-order/confirm/", {"customer_code": "ABCD1234",
                                                     "order_id": str(uuid.uuid4())}),
    ("GET", "/api/orders/all-orders/", None),
    ("POST", "/api/orders/all-orders/", {}),
    ("GET", "/api/orders/customer/all-orders/?customer_code=ABCD1234", None),
    ("POST", "/api/orders/customer/all-orders/", {"customer_code": "ABCD1234"}),
]


def mint(subject: str, *, key: str = SERVICE_KEY, algorithm: str = "HS256",
         kind: str = "access", role: str = "admin", lifetime: int = 600) -> str:
    """A token shaped exactly like the service's own, signed as the caller chooses."""
    now = int(time.time())
    claims = {"fresh": False, "iat": now, "nbf": now, "jti": str(uuid.uuid4()),
              "type": kind, "sub": subject, "exp": now + lifetime, "role": role}
    return jwt.encode(claims, key, algorithm=algorithm)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def call(api, method, path, body, token):
    return api.request(method, path, token=token, json=body)


def test_the_service_key_mints_tokens_the_service_accepts(api, admin):
    # Guards the tests below: their forgeries differ from a good token in one respect only.
    response = api.get(ADMIN_ROUTE, token=mint(admin.user_id))

    assert response.status_code == 200


def test_an_unsigned_token_with_alg_none_is_invalid(api, admin):
    now = int(time.time())
    claims = {"fresh": False, "iat": now, "nbf": now, "jti": str(uuid.uuid4()),
              "type": "access", "sub": admin.user_id, "exp": now + 600, "role": "admin"}
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."

        assert_error(api.get(ADMIN_ROUTE, token=unsigned), 401, "token_invalid")


def test_a_tampered_signature_is_invalid(api, admin):
    header, payload, signature = admin.access_token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    response = api.get(ADMIN_ROUTE, token=f"{header}.{payload}.{flipped}")

    assert_error(response, 401, "token_invalid")


def test_claims_changed_under_a_good_signature_are_invalid(api, admin, user):
    header, payload, signature = admin.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = user

    response = api.get(ADMIN_ROUTE, token=f"{header}.{b64(claims)}.{signature}")

    assert_error(response, 401, "token_invalid")


def test_a_token_signed_with_another_key_is_invalid(api, admin):
    response = api.get(ADMIN_ROUTE, token=mint(admin.user_id, key=ANOTHER_KEY))

    assert_error(response, 401, "token_invalid")


def test_a_forged_admin_role_for_a_user_is_invalid(api, admin, user):
    forged = mint(user, key=ANOTHER_KEY, role="admin")

    assert_error(api.get(ADMIN_ROUTE, token=forged), 401, "token_invalid")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_algorithm_is_refused_even_with_the_right_key(api, admin):
    for algorithm in ("HS384", "HS512"):
        token = mint(admin.user_id, algorithm=algorithm)

        assert_error(api.get(ADMIN_ROUTE, token=token), 401, "token_invalid")


def test_an_expired_refresh_token_cannot_refresh(api, admin):
    stale = mint(admin.user_id, kind="refresh", lifetime=-60)

    assert_error(api.post("/api/auth/refresh/", token=stale), 401, "token_expired")


def test_a_token_whose_subject_is_not_an_id_is_invalid_not_an_error(api, admin):
    response = api.get(ADMIN_ROUTE, token=mint("'; DROP TABLE users; --"))

    assert_error(response, 401, "token_invalid")


def test_a_token_for_a_user_who_does_not_exist_is_refused(api, admin):
    ghost = mint(str(uuid.uuid4()))

    assert_error(api.get(ADMIN_ROUTE, token=ghost), 401, "token_invalid")
    assert_error(api.post("/api/auth/refresh/", token=mint(str(uuid.uuid4()), kind="refresh")),
                 401, "token_invalid")


def test_an_admin_who_is_no_longer_one_loses_access_at_once(api, admin, uow_factory):
    with uow_factory() as uow:
        demoted = uow.users.get(uuid.UUID(admin.user_id))
        demoted.role = Role.USER
        uow.users.add(demoted)
        uow.commit()

    response = api.get(ADMIN_ROUTE, token=admin.access_token)

    assert_error(response, 403, "admin_required")


def test_the_token_is_read_from_the_authorization_header_only(api, admin):
    in_query = api.get(f"{ADMIN_ROUTE}?jwt={admin.access_token}")
    wrong_scheme = api.get(ADMIN_ROUTE, headers={"Authorization": f"Basic {admin.access_token}"})
    in_cookie = api.get(ADMIN_ROUTE, cookies={"access_token_cookie": admin.access_token})

    for response in (in_query, wrong_scheme, in_cookie):
        assert_error(response, 401, "token_missing")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES,
                         ids=[f"{m} {p.split('?')[0]}" for m, p, _ in ADMIN_ROUTES])
class TestEveryAdminRoute:
    def test_no_token_is_refused(self, api, method, path, body):
        assert_error(call(api, method, path, body, None), 401, "token_missing")

    def test_a_users_token_is_forbidden(self, api, user, method, path, body):
        token = mint(user, role="user")

        assert_error(call(api, method, path, body, token), 403, "admin_required")

    def test_a_refresh_token_is_not_an_access_token(self, api, admin, method, path, body):
        assert_error(call(api, method, path, body, admin.refresh_token), 401, "token_invalid")

    def test_a_revoked_token_is_refused(self, api, admin, method, path, body):
        api.post("/api/auth/logout/", token=admin.access_token).raise_for_status()

        assert_error(call(api, method, path, body, admin.access_token), 401, "token_revoked")

    def test_an_expired_token_is_refused(self, api, admin, method, path, body):
        token = mint(admin.user_id, lifetime=-1)

        assert_error(call(api, method, path, body, token), 401, "token_expired")


def test_every_admin_route_of_the_openapi_document_is_in_the_table(api):
    spec = api.get("/openapi.json").json()
    secured = {(method.upper(), path) for path, operations in spec["paths"].items()
               for method, operation in operations.items()
               if method != "parameters" and operation.get("security")}
    tabled = {(m, p.split("?")[0].replace(AN_ORDER_ID, "{order_id}"))
              for m, p, _ in ADMIN_ROUTES}

    assert secured - {("POST", "/api/auth/refresh/"), ("POST", "/api/auth/logout/")} == tabled
