"""The baseline: a bare Flask + SQLAlchemy app answering the benchmarked endpoints.

It runs the service's SQL for each endpoint, in the same query shapes (when the service's
queries change, these follow), one look-up per thing it needs, with no validation, no
auth, no layers and no ORM: text statements on a plain engine, rows straight to JSON.
Served by the same gunicorn command and settings as the service:

    gunicorn --config deploy/gunicorn.conf.py 'bench.baseline_app:create_app()'

Login does the work a login must do whatever the framework: one look-up, one Argon2
verification with the production cost (``ARGON2_*`` as the service reads them), two
signed JWTs. Nothing here is an example to follow; it is a yardstick.
"""

from __future__ import annotations

import json
import math
import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, request
from sqlalchemy import create_engine, text

# An order comes with the state of the SMS that announced it, as the service's orders do.
ORDER_COLUMNS = ("orders.id, orders.customer_id, orders.customer_code, orders.item, "
                 "orders.amount, orders.currency, orders.status, orders.created_at, "
                 "orders.confirmed_at, sms_outbox.status AS sms_status, sms_outbox.attempts, "
                 "sms_outbox.last_error, sms_outbox.sent_at")
ORDERS = ("orders LEFT OUTER JOIN sms_outbox ON sms_outbox.order_id = orders.id "
          "AND sms_outbox.kind = 'order_placed'")
ORDER_BY_ID = text(f"SELECT {ORDER_COLUMNS} FROM {ORDERS} WHERE orders.id = :id")
ORDER_REPLIES = text("SELECT id, sender, text, received_at, outcome FROM incoming_sms "
                     "WHERE order_id = :id ORDER BY received_at, id")
NEWEST_FIRST = "ORDER BY orders.created_at DESC, orders.id DESC"


def _total(name: str) -> str:
    """An exact total kept in row_counts: the sum of its shards."""
    return (f"(SELECT CAST(coalesce(sum(value), 0) AS BIGINT) FROM row_counts "
            f"WHERE name = '{name}')")


ORDERS_TOTAL, CUSTOMERS_TOTAL, USERS_TOTAL = _total("orders"), _total("customers"), _total("users")
# A page is picked by id from an index, then joined; the total rides along as a subquery.
ORDERS_PAGE = text(
    f"SELECT {ORDER_COLUMNS}, {ORDERS_TOTAL} AS total FROM (SELECT orders.id "
    f"FROM orders {NEWEST_FIRST} LIMIT :limit OFFSET :offset) AS picked JOIN {ORDERS} "
    f"ON orders.id = picked.id {NEWEST_FIRST}")
ORDERS_COUNT = text(f"SELECT {ORDERS_TOTAL}")
CUSTOMER_ORDERS_PAGE = text(
    f"SELECT {ORDER_COLUMNS}, (SELECT CAST(coalesce(sum(value), 0) AS BIGINT) "
    "FROM row_counts WHERE name = :total_name) AS total "
    "FROM (SELECT orders.id FROM orders WHERE orders.customer_id = :customer_id "
    f"{NEWEST_FIRST} LIMIT :limit OFFSET :offset) AS picked JOIN {ORDERS} "
    f"ON orders.id = picked.id {NEWEST_FIRST}")
CUSTOMER_ORDERS_COUNT = text("SELECT CAST(coalesce(sum(value), 0) AS BIGINT) FROM row_counts "
                             "WHERE name = :total_name")
CUSTOMER_COLUMNS = ("customers.id, customers.code, customers.user_id, users.name, users.email, "
                    "users.phone_number, customers.created_at")
CUSTOMER_BY_CODE = text(f"SELECT {CUSTOMER_COLUMNS} FROM customers JOIN users "
                        "ON users.id = customers.user_id WHERE customers.code = :code")
CUSTOMERS_PAGE = text(f"SELECT {CUSTOMER_COLUMNS}, {CUSTOMERS_TOTAL} AS total "
                      "FROM customers JOIN users ON users.id = customers.user_id "
                      "ORDER BY customers.created_at DESC, customers.id DESC "
                      "LIMIT :limit OFFSET :offset")
CUSTOMERS_COUNT = text(f"SELECT {CUSTOMERS_TOTAL}")
USERS_PAGE = text(
    "SELECT users.id, users.email, users.name, users.role, users.phone_number, "
    "users.created_at, customers.code, (SELECT string_agg(provider, ',') FROM identities "
    f"WHERE identities.user_id = users.id) AS providers, {USERS_TOTAL} AS total "
    "FROM users LEFT OUTER JOIN customers ON customers.user_id = users.id "
    "ORDER BY users.created_at DESC, users.id DESC LIMIT :limit OFFSET :offset")
USERS_COUNT = text(f"SELECT {USERS_TOTAL}")
USER_BY_EMAIL = text("SELECT id, email, role, password_hash FROM users WHERE email = :email")
INSERT_ORDER = text(
    "INSERT INTO orders (id, customer_id, customer_code, item, amount, currency, status, "
    "created_at, confirmed_at) VALUES (:id, :customer_id, :customer_code, :item, :amount, "
    ":currency, 'pending', :created_at, NULL)")
COUNT_ORDER = text(
    "INSERT INTO row_counts (name, shard, value) VALUES ('orders', :shard, 1), "
    "('orders:pending', :shard, 1), (:customer, :shard, 1), (:customer_pending, :shard, 1) "
    "ON CONFLICT (name, shard) "
    "DO UPDATE SET value = row_counts.value + excluded.value")


def _insert_sms(engine_columns: set[str]) -> Any:
    kind = ("kind, ", "'order_placed', ") if "kind" in engine_columns else ("", "")
    return text(
        f"INSERT INTO sms_outbox (id, order_id, {kind[0]}recipient, text, status, attempts, "
        "next_attempt_at, last_error, provider_message_id, sent_at, created_at) VALUES "
        f"(:id, :order_id, {kind[1]}:recipient, :text, 'queued', 0, :created_at, NULL, NULL, "
        "NULL, :created_at)")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _order(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "customer_id": str(row.customer_id),
            "customer_code": row.customer_code, "item": row.item,
            "amount": f"{row.amount:.2f}", "currency": row.currency, "status": row.status,
            "created_at": _time(row.created_at), "confirmed_at": _time(row.confirmed_at),
            "notification": None if row.sms_status is None else {
                "status": row.sms_status, "attempts": row.attempts,
                "last_error": row.last_error, "sent_at": _time(row.sent_at)}}


def _customer(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "code": row.code, "user_id": str(row.user_id), "name": row.name,
            "email": row.email, "phone_number": row.phone_number,
            "created_at": _time(row.created_at)}


def _paging() -> tuple[int, int]:
    args = request.args if request.method == "GET" else json.loads(request.get_data() or "{}")
    return int(args.get("page", 1)), int(args.get("per_page", 10))


def _page(name: str, items: list[dict[str, Any]], page: int, per_page: int,
          total: int) -> dict[str, Any]:
    return {name: items, "page": page, "per_page": per_page, "total": total,
            "total_pages": math.ceil(total / per_page)}


def create_app() -> Flask:
    engine = create_engine(os.environ["DATABASE_URL"],
                           pool_size=int(os.environ.get("DATABASE_POOL_SIZE") or 5))
    hasher = PasswordHasher(time_cost=int(os.environ.get("ARGON2_TIME_COST") or 3),
                            memory_cost=int(os.environ.get("ARGON2_MEMORY_KIB") or 65536),
                            type=Type.ID)
    jwt_key = os.environ["JWT_SECRET_KEY"]
    with engine.connect() as connection:
        outbox_columns = {r[0] for r in connection.execute(text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'sms_outbox'"))}
    insert_sms = _insert_sms(outbox_columns)
    app = Flask(__name__)

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ready"}

    @app.get("/api/orders/<order_id>/")
    def get_order(order_id: str) -> Any:
        with engine.connect() as connection:
            row = connection.execute(ORDER_BY_ID, {"id": order_id}).first()
            if row is None:
                return {"error": "Order not found.", "code": "order_not_found"}, 404
            replies = connection.execute(ORDER_REPLIES, {"id": order_id}).all()
        return {"order": {**_order(row), "replies": [
            {"id": str(r.id), "sender": r.sender, "text": r.text,
             "received_at": _time(r.received_at), "outcome": r.outcome} for r in replies]}}

    @app.post("/api/orders/create/")
    def create_order() -> Any:
        body = json.loads(request.get_data())
        now = datetime.now(UTC)
        order_id, sms_id = uuid.uuid4(), uuid.uuid4()
        with engine.begin() as connection:
            customer = connection.execute(CUSTOMER_BY_CODE, {"code": body["customer_code"]}
                                          ).first()
            if customer is None:
                return {"error": "Customer not found.", "code": "customer_not_found"}, 404
            order = {"id": order_id, "customer_id": customer.id, "customer_code": customer.code,
                     "item": body["item"], "amount": body["amount"], "currency": "KES",
                     "created_at": now}
            connection.execute(INSERT_ORDER, order)
            connection.execute(insert_sms, {
                "id": sms_id, "order_id": order_id, "recipient": customer.phone_number,
                "text": f"Hi {customer.name.split()[0]}, your order {order_id.hex[:6].upper()} "
                        f"for {body['item']} (KES {body['amount']}) has been recorded.",
                "created_at": now})
            counted_as = f"orders:customer:{uuid.UUID(str(customer.id)).hex}"
            connection.execute(COUNT_ORDER, {"shard": random.randrange(16), "customer": counted_as,
                                             "customer_pending": f"{counted_as}:pending"})
        placed = {"id": str(order_id), "customer_id": str(customer.id),
                  "customer_code": customer.code, "item": body["item"],
                  "amount": f"{float(body['amount']):.2f}", "currency": "KES",
                  "status": "pending", "created_at": _time(now), "confirmed_at": None,
                  "notification": {"status": "queued", "attempts": 0, "last_error": None,
                                   "sent_at": None}}
        return {"order": placed, "notification": {"id": str(sms_id), "status": "queued"}}, 201

    @app.route("/api/orders/all-orders/", methods=["GET", "POST"])
    def all_orders() -> Any:
        page, per_page = _paging()
        with engine.connect() as connection:
            rows = connection.execute(ORDERS_PAGE, {"limit": per_page,
                                                    "offset": (page - 1) * per_page}).all()
            total = rows[0].total if rows else connection.execute(ORDERS_COUNT).scalar_one()
        return _page("orders", [_order(r) for r in rows], page, per_page, total)

    @app.route("/api/orders/customer/all-orders/", methods=["GET", "POST"])
    def customer_orders() -> Any:
        page, per_page = _paging()
        code = request.args.get("customer_code") if request.method == "GET" else \
            json.loads(request.get_data())["customer_code"]
        with engine.connect() as connection:
            customer = connection.execute(CUSTOMER_BY_CODE, {"code": code}).first()
            if customer is None:
                return {"error": "Customer not found.", "code": "customer_not_found"}, 404
            params = {"customer_id": customer.id, "limit": per_page,
                      "offset": (page - 1) * per_page,
                      "total_name": f"orders:customer:{uuid.UUID(str(customer.id)).hex}"}
            rows = connection.execute(CUSTOMER_ORDERS_PAGE, params).all()
            total = rows[0].total if rows else \
                connection.execute(CUSTOMER_ORDERS_COUNT, params).scalar_one()
        return {"customer": _customer(customer),
                **_page("orders", [_order(r) for r in rows], page, per_page, total)}

    @app.route("/api/lookup/all-users/", methods=["GET", "POST"])
    def all_users() -> Any:
        page, per_page = _paging()
        with engine.connect() as connection:
            rows = connection.execute(USERS_PAGE, {"limit": per_page,
                                                   "offset": (page - 1) * per_page}).all()
            total = rows[0].total if rows else connection.execute(USERS_COUNT).scalar_one()
        users = [{"id": str(r.id), "email": r.email, "name": r.name, "role": r.role,
                  "phone_number": r.phone_number,
                  "providers": sorted(set(r.providers.split(","))) if r.providers else [],
                  "customer_code": r.code, "created_at": _time(r.created_at)} for r in rows]
        return _page("users", users, page, per_page, total)

    @app.route("/api/lookup/all-customers/", methods=["GET", "POST"])
    def all_customers() -> Any:
        page, per_page = _paging()
        with engine.connect() as connection:
            rows = connection.execute(CUSTOMERS_PAGE, {"limit": per_page,
                                                       "offset": (page - 1) * per_page}).all()
            total = rows[0].total if rows else connection.execute(CUSTOMERS_COUNT).scalar_one()
        return _page("customers", [_customer(r) for r in rows], page, per_page, total)

    @app.post("/api/auth/login/")
    def login() -> Any:
        body = json.loads(request.get_data())
        with engine.connect() as connection:
            user = connection.execute(USER_BY_EMAIL, {"email": body["email"].lower()}).first()
        try:
            hasher.verify(user.password_hash if user else "", body["password"])
        except (VerificationError, InvalidHashError):
            user = None
        if user is None:
            return {"error": "Wrong email or password.", "code": "invalid_credentials"}, 401
        now = datetime.now(UTC)
        tokens = {
            kind: jwt.encode({"sub": str(user.id), "jti": str(uuid.uuid4()), "type": kind,
                              "iat": now, "nbf": now, "exp": now + lifetime, "fresh": False,
                              "role": user.role}, jwt_key, algorithm="HS256")
            for kind, lifetime in (("access", timedelta(minutes=15)),
                                   ("refresh", timedelta(days=30)))
        }
        return {"user_id": str(user.id), "email": user.email, "role": user.role,
                "access_token": tokens["access"], "refresh_token": tokens["refresh"],
                "token_type": "Bearer", "expires_in": 900}

    return app
