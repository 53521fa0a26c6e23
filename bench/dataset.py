"""A fresh PostgreSQL database per run, migrated, then filled in bulk with realistic rows.

Users sign in from a browser (one or two linked identities each), four in five are
customers, and orders are spread over the customers (about 20 each, at every size) and
over the two years since each customer joined. Older orders are mostly confirmed. Every
order has its "placed" SMS in the outbox, every confirmed order its "confirmed" SMS too,
all sent or delivered (a few failed), so a worker started later finds an empty queue.

Users, identities and customers go in with COPY; orders and outbox rows with
``INSERT ... SELECT`` over ``generate_series``, in the server; then ``row_counts`` is
rebuilt from them, as the repositories would have kept it.
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from app.adapters.passwords import Argon2PasswordHasher
from app.adapters.sqlalchemy.migrate import upgrade_database
from app.config import Settings
from bench.recount import RECOUNT

SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
ORDERS_PER_CUSTOMER = 20
USERS_PER_CUSTOMER = 1.25
HISTORY = timedelta(days=730)
ADMIN_EMAIL = "bench-admin@example.com"
FIRST_NAMES = ["Grace", "Brian", "Amina", "Kevin", "Wanjiru", "Otieno", "Njeri", "Kamau",
               "Achieng", "Mutua", "Fatuma", "Kiprop", "Zawadi", "Baraka", "Imani", "Juma"]
LAST_NAMES = ["Wanjiru", "Otieno", "Mwangi", "Kariuki", "Odhiambo", "Chebet", "Mutiso",
              "Njoroge", "Wambui", "Kiptoo", "Achieng", "Omondi", "Kimani", "Nyambura"]
PROVIDERS = ["google", "github", "facebook", "oidc"]
ITEMS = ["Sack of maize", "Bag of rice 25kg", "Cooking oil 5L", "Sugar 2kg", "Tea leaves 500g",
         "Wheat flour 2kg", "Solar lantern", "Water tank 1000L", "Gas refill 13kg",
         "School uniform", "Mobile phone", "Bicycle", "Iron sheets x10", "Fertiliser 50kg"]
CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CODE_SPACE = 36 ** 8
CODE_MULTIPLIER = 2_654_435_761  # coprime with 36: i -> i*m mod 36^8 is a bijection


@dataclass(frozen=True)
class Dataset:
    """A loaded database and the samples the scenarios draw their requests from."""

    name: str
    url: str
    orders: int
    customers: int
    users: int
    admin_email: str
    admin_password: str
    order_ids: list[str]
    customer_codes: list[str]
    load_seconds: float


@contextmanager
def fresh_database(orders: int, *, keep: bool = False) -> Iterator[Dataset]:
    """A new database named ``bench_<orders>_<random>``, loaded, dropped when the block ends."""
    name = f"bench_{orders}_{secrets.token_hex(4)}"
    with psycopg.connect(SERVER, autocommit=True) as server:
        server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield load(name, orders)
    finally:
        if not keep:
            with psycopg.connect(SERVER, autocommit=True) as server:
                server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dsn(name: str) -> str:
    return SERVER.replace("dbname=postgres", f"dbname={name}")


def load(name: str, orders: int) -> Dataset:
    started = time.perf_counter()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade_database(url)
    customers = max(orders // ORDERS_PER_CUSTOMER, 10)
    users = int(customers * USERS_PER_CUSTOMER)
    password = secrets.token_urlsafe(16)
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(orders)
    with psycopg.connect(dsn(name)) as db:
        db.execute("SET synchronous_commit = off")
        db.execute("SET maintenance_work_mem = '256MB'")
        _copy_people(db, rng, now, users=users, customers=customers, admin_password=password)
        _insert_orders(db, now, orders=orders)
        _insert_outbox(db)
        for statement in RECOUNT:  # the rows went in without the repositories that count them
            db.execute(statement)
        db.commit()
        order_ids = [str(r[0]) for r in db.execute(
            "SELECT id FROM orders ORDER BY md5(id::text) LIMIT 1000")]
        codes = [r[0] for r in db.execute(
            "SELECT code FROM customers WHERE EXISTS "
            "(SELECT 1 FROM orders WHERE customer_id = customers.id) "
            "ORDER BY md5(code) LIMIT 200")]
    with psycopg.connect(dsn(name), autocommit=True) as db:
        db.execute("VACUUM ANALYZE")  # what autovacuum leaves a steady database like
        # The load's dirty pages written out now, not by the checkpointer while scenarios run.
        db.execute("CHECKPOINT")
    return Dataset(name=name, url=url, orders=orders, customers=customers, users=users + 1,
                   admin_email=ADMIN_EMAIL, admin_password=password, order_ids=order_ids,
                   customer_codes=codes, load_seconds=time.perf_counter() - started)


def customer_code(index: int) -> str:
    value = (index * CODE_MULTIPLIER) % CODE_SPACE
    digits = []
    for _ in range(8):
        value, digit = divmod(value, 36)
        digits.append(CODE_ALPHABET[digit])
    return "".join(digits)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _copy_people(db: psycopg.Connection, rng: random.Random, now: datetime, *, users: int,
                 customers: int, admin_password: str) -> None:
    defaults = Settings()  # production hashing cost: the service verifies with these
    hasher = Argon2PasswordHasher(time_cost=defaults.argon2_time_cost,
                                  memory_kib=defaults.argon2_memory_kib)
    user_rows: list[tuple[object, ...]] = []
    identity_rows: list[tuple[object, ...]] = []
    customer_rows: list[tuple[object, ...]] = []
    user_rows.append((_uuid(rng), ADMIN_EMAIL, "Bench Admin", "admin", None,
                      hasher.hash(admin_password), now - HISTORY))
    for i in range(users):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        joined = now - HISTORY * rng.random()
        user_id = _uuid(rng)
        user_rows.append((user_id, f"{first.lower()}.{last.lower()}{i}@example.com",
                          f"{first} {last}", "user", f"+2547{10_000_000 + i:08d}", None, joined))
        for provider in rng.sample(PROVIDERS, 2 if rng.random() < 0.1 else 1):
            identity_rows.append((provider, f"{provider}-{i}", user_id))
        if i < customers:
            became = min(joined + timedelta(days=30) * rng.random(), now)
            customer_rows.append((_uuid(rng), user_id, customer_code(i + 1), became))
    with db.cursor() as cursor:
        with cursor.copy("COPY users (id, email, name, role, phone_number, password_hash, "
                         "created_at) FROM STDIN") as copy:
            for row in user_rows:
                copy.write_row(row)
        with cursor.copy("COPY identities (provider, subject, user_id) FROM STDIN") as copy:
            for row in identity_rows:
                copy.write_row(row)
        with cursor.copy("COPY customers (id, user_id, code, created_at) FROM STDIN") as copy:
            for row in customer_rows:
                copy.write_row(row)


def _insert_orders(db: psycopg.Connection, now: datetime, *, orders: int) -> None:
    db.execute("SELECT setseed(0.42)")
    db.execute("CREATE TEMP TABLE numbered AS SELECT row_number() OVER (ORDER BY code) AS rn, "
               "id, code, created_at FROM customers")
    db.execute("CREATE UNIQUE INDEX ON numbered (rn)")
    db.execute(
        """
        INSERT INTO orders (id, customer_id, customer_code, item, amount, currency, status,
                            created_at, confirmed_at)
        SELECT gen_random_uuid(), c.id, c.code, (%(items)s::text[])[1 + (g.n %% %(n_items)s)],
               round((50 + g.r_amount * 49950)::numeric, 2), 'KES',
               CASE WHEN g.confirmed THEN 'confirmed' ELSE 'pending' END, t.at,
               CASE WHEN g.confirmed
                    THEN least(t.at + g.r_confirm * interval '3 days', %(now)s) END
        FROM (SELECT n, 1 + floor(random() * (SELECT count(*) FROM numbered))::int AS rn,
                     random() AS r_time, random() AS r_amount, random() AS r_confirm,
                     random() < 0.85 AS confirmed
              FROM generate_series(1, %(orders)s) AS n) AS g
        JOIN numbered AS c ON c.rn = g.rn
        CROSS JOIN LATERAL (SELECT c.created_at + g.r_time * (%(now)s - c.created_at) AS at) t
        """,
        {"items": ITEMS, "n_items": len(ITEMS), "now": now, "orders": orders},
    )
    # Orders of the last three days are still pending, as they would be.
    db.execute("UPDATE orders SET status = 'pending', confirmed_at = NULL "
               "WHERE status = 'confirmed' AND created_at > %(now)s - interval '3 days'",
               {"now": now})


def _insert_outbox(db: psycopg.Connection) -> None:
    placed = ("'Hi ' || split_part(u.name, ' ', 1) || ', your order ' || "
              "upper(left(replace(o.id::text, '-', ''), 6)) || ' for ' || o.item || ' (KES ' || "
              "to_char(o.amount, 'FM999,999,990.00') || ') has been recorded. Thank you!'")
    confirmed = ("'Hi ' || split_part(u.name, ' ', 1) || ', thank you for confirming you "
                 "received order ' || upper(left(replace(o.id::text, '-', ''), 6)) || "
                 "' (' || o.item || ').'")
    # The outbox grows columns as the worker does; fill those known, refuse unknown ones.
    columns = {name: (nullable, default) for name, nullable, default in db.execute(
        "SELECT column_name, is_nullable = 'YES', column_default IS NOT NULL "
        "FROM information_schema.columns WHERE table_name = 'sms_outbox'")}
    known = {"id", "order_id", "recipient", "text", "status", "attempts", "next_attempt_at",
             "last_error", "provider_message_id", "sent_at", "created_at", "kind"}
    unknown = [n for n, (nullable, default) in columns.items()
               if n not in known and not nullable and not default]
    if unknown:
        raise RuntimeError(f"bench/dataset.py does not know how to fill sms_outbox.{unknown}")
    for kind, text, at, condition in (
        ("order_placed", placed, "o.created_at", "TRUE"),
        ("order_confirmed", confirmed, "o.confirmed_at", "o.status = 'confirmed'"),
    ):
        kind_column, kind_value = (", kind", f", '{kind}'") if "kind" in columns else ("", "")
        db.execute(
            f"""
            INSERT INTO sms_outbox (id, order_id, recipient, text, status, attempts,
                                    next_attempt_at, last_error, provider_message_id, sent_at,
                                    created_at{kind_column})
            SELECT gen_random_uuid(), o.id, u.phone_number, {text}, o.sms_status, 1, NULL,
                   CASE WHEN o.sms_status = 'failed' THEN 'InvalidPhoneNumber' END,
                   CASE WHEN o.sms_status <> 'failed'
                        THEN 'ATXid_' || md5(o.id::text || {at}) END,
                   CASE WHEN o.sms_status <> 'failed' THEN {at} + interval '2 seconds' END,
                   {at}{kind_value}
            FROM (SELECT orders.*, CASE WHEN r < 0.01 THEN 'failed' WHEN r < 0.9 THEN 'delivered'
                                        ELSE 'sent' END AS sms_status
                  FROM (SELECT *, random() AS r FROM orders) AS orders) AS o
            JOIN customers AS c ON c.id = o.customer_id
            JOIN users AS u ON u.id = c.user_id
            WHERE {condition}
            """
        )
