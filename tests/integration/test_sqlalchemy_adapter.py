"""The SQLAlchemy adapter on real SQLite and PostgreSQL (each test runs on both: see conftest)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event, text

from app.adapters.passwords import Argon2PasswordHasher
from app.adapters.sqlalchemy import tables
from app.adapters.sqlalchemy.customers import customer_values
from app.adapters.sqlalchemy.database import create_engine_for, database_answers
from app.adapters.sqlalchemy.idempotency import record_values
from app.adapters.sqlalchemy.orders import order_values
from app.adapters.sqlalchemy.outbox import incoming_values, sms_values
from app.adapters.sqlalchemy.tables import metadata
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.adapters.sqlalchemy.users import user_values
from app.domain.errors import PhoneCodeRefused
from app.domain.notifications import SmsMessage, SmsStatus
from app.domain.orders import Order, OrderStatus
from app.domain.replies import IncomingSms, ReplyOutcome
from app.domain.users import Customer, Identity, PendingPhone, Role, User
from app.domain.values import CustomerCode, Email, Money, PhoneNumber
from app.services import auth, orders, users
from app.services.errors import StorageUnavailable, UniqueViolation
from app.services.ports import IdempotencyRecord
from app.services.views import PageRequest, PlacedOrder

UowFactory = Callable[[], SqlAlchemyUnitOfWork]

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
NAIROBI = timezone(timedelta(hours=3))
UNREACHABLE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"


def a_user(
    email: str = "wanjiku@example.com", *, phone: str | None = None, at: datetime = NOW
) -> User:
    return User(
        email=Email(email),
        name="Wanjiku Kamau",
        role=Role.USER,
        phone_number=PhoneNumber(phone) if phone else None,
        created_at=at,
    )


def saved(uow_factory: UowFactory, *things: User | Customer | Order | SmsMessage) -> None:
    with uow_factory() as uow:
        for thing in things:
            match thing:
                case User():
                    uow.users.add(thing)
                case Customer():
                    uow.customers.add(thing)
                case Order():
                    uow.orders.add(thing)
                case SmsMessage():
                    uow.outbox.add(thing)
        uow.commit()


def a_customer(
    uow_factory: UowFactory,
    *,
    code: str = "K7Q2M9XD",
    email: str = "wanjiku@example.com",
    phone: str = "+254719485369",
    at: datetime = NOW,
) -> Customer:
    user = a_user(email, phone=phone, at=at)
    customer = Customer(user_id=user.id, code=CustomerCode(code), created_at=at)
    saved(uow_factory, user, customer)
    return customer


def an_order(customer: Customer, *, amount: str = "420.00", at: datetime = NOW) -> Order:
    return Order(
        customer_id=customer.id,
        customer_code=customer.code,
        item="Sack of maize",
        amount=Money.of(amount, "KES"),
        created_at=at,
    )


def newest_first(rows: list[Any]) -> list[UUID]:
    """The order the fakes (and the API contract) promise: created_at, then id, descending."""
    return [r.id for r in sorted(rows, key=lambda r: (r.created_at, str(r.id)), reverse=True)]


@contextmanager
def statements_run_on(engine: Engine, *, verb: str = "") -> Iterator[list[str]]:
    """The SQL run on ``engine`` meanwhile, only that starting with ``verb`` if given."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(verb):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def selects_run_on(engine: Engine) -> AbstractContextManager[list[str]]:
    return statements_run_on(engine, verb="SELECT")


class TestUsers:
    def test_a_user_round_trips_with_times_in_utc(self, uow_factory: UowFactory) -> None:
        user = a_user(phone="+254719485369", at=datetime(2026, 3, 1, 12, 30, tzinfo=NAIROBI))
        user.password_hash = "$argon2id$v=19$m=1024,t=1,p=4$c2FsdA$aGFzaA"
        user.identities = [Identity("google", "1087"), Identity("github", "octocat")]

        saved(uow_factory, user)
        with uow_factory() as uow:
            loaded = uow.users.get(user.id)

        assert loaded is not None
        assert (loaded.id, loaded.email, loaded.name, loaded.role) == (
            user.id, Email("wanjiku@example.com"), "Wanjiku Kamau", Role.USER
        )
        assert loaded.phone_number == PhoneNumber("+254719485369")
        assert loaded.password_hash == user.password_hash
        assert set(loaded.identities) == set(user.identities)
        assert loaded.created_at == NOW
        assert loaded.created_at.tzinfo == UTC

    def test_adding_a_known_user_again_saves_its_changes(self, uow_factory: UowFactory) -> None:
        user = a_user()
        user.identities = [Identity("google", "1087")]
        saved(uow_factory, user)

        with uow_factory() as uow:
            changed = uow.users.get(user.id)
            assert changed is not None
            changed.phone_number = PhoneNumber("+254719485369")
            changed.identities = [Identity("github", "octocat")]
            uow.users.add(changed)
            uow.commit()
        with uow_factory() as uow:
            loaded = uow.users.get(user.id)

        assert loaded is not None
        assert loaded.phone_number == PhoneNumber("+254719485369")
        assert loaded.identities == [Identity("github", "octocat")]

    def test_users_are_found_by_email_and_phone_number(self, uow_factory: UowFactory) -> None:
        user = a_user(phone="+254719485369")
        saved(uow_factory, user, a_user("other@example.com"))

        with uow_factory() as uow:
            by_email = uow.users.get_by_email(Email("wanjiku@example.com"))
            by_phone = uow.users.get_by_phone_number(PhoneNumber("+254719485369"))
            nobody = uow.users.get_by_email(Email("nobody@example.com"))

        assert by_email is not None
        assert by_phone is not None
        assert by_email.id == by_phone.id == user.id
        assert nobody is None

    def test_a_users_view_has_providers_and_customer_code(self, uow_factory: UowFactory) -> None:
        customer = a_customer(uow_factory, code="K7Q2M9XD")
        with uow_factory() as uow:
            user = uow.users.get(customer.user_id)
            assert user is not None
            user.identities = [Identity("google", "1"), Identity("github", "2")]
            uow.users.add(user)
            uow.commit()

        with uow_factory() as uow:
            view = uow.users.view(customer.user_id)

        assert view is not None
        assert view.providers == ["github", "google"]
        assert view.customer_code == "K7Q2M9XD"
        assert view.phone_number == "+254719485369"
        assert view.role == "user"
        assert view.created_at == NOW

    def test_users_are_listed_newest_first_with_ties_broken_by_id(
        self, uow_factory: UowFactory
    ) -> None:
        tied = [a_user(f"tied{n}@example.com") for n in range(4)]
        newer = a_user("newer@example.com", at=NOW + timedelta(seconds=1))
        older = a_user("older@example.com", at=NOW - timedelta(microseconds=1))
        everyone = [*tied, newer, older]
        saved(uow_factory, *everyone)

        with uow_factory() as uow:
            first = uow.users.list(PageRequest(page=1, per_page=4), email_contains=None)
            second = uow.users.list(PageRequest(page=2, per_page=4), email_contains=None)
            past_the_end = uow.users.list(PageRequest(page=3, per_page=4), email_contains=None)

        listed = [u.id for u in [*first.items, *second.items]]
        assert listed == newest_first(everyone)
        assert listed[0] == newer.id
        assert listed[-1] == older.id
        assert (first.total, second.total, first.total_pages) == (6, 6, 2)
        assert past_the_end.items == []
        assert past_the_end.total == 6

    def test_the_email_filter_is_a_case_insensitive_substring(
        self, uow_factory: UowFactory
    ) -> None:
        saved(
            uow_factory,
            a_user("grace.wanjiru@example.com"),
            a_user("wanjiku@example.com"),
            a_user("otieno@example.org"),
        )

        with uow_factory() as uow:
            page = uow.users.list(PageRequest(), email_contains="WANJI")

        assert sorted(u.email for u in page.items) == [
            "grace.wanjiru@example.com",
            "wanjiku@example.com",
        ]
        assert page.total == 2

    @pytest.mark.parametrize(
        ("needle", "expected"),
        [
            ("100%", ["100%off@example.com"]),
            ("a_b", ["a_b@example.com"]),
            ("\\", ["back\\slash@example.com"]),
            ("/", ["for/ward@example.com"]),
        ],
    )
    def test_the_email_filter_takes_wildcards_literally(
        self, uow_factory: UowFactory, needle: str, expected: list[str]
    ) -> None:
        saved(
            uow_factory,
            a_user("100%off@example.com"),
            a_user("1000ff@example.com"),
            a_user("a_b@example.com"),
            a_user("axb@example.com"),
            a_user("back\\slash@example.com"),
            a_user("for/ward@example.com"),
        )

        with uow_factory() as uow:
            page = uow.users.list(PageRequest(), email_contains=needle)

        assert [u.email for u in page.items] == expected

    def test_a_page_of_users_costs_the_same_queries_however_long(
        self, uow_factory: UowFactory, engine: Engine
    ) -> None:
        for n in range(10):
            customer = a_customer(
                uow_factory, code=f"CODE{n:04d}", email=f"u{n}@example.com",
                phone=f"+25471948{n:04d}",
            )
            with uow_factory() as uow:
                user = uow.users.get(customer.user_id)
                assert user is not None
                user.identities = [Identity("google", str(n)), Identity("github", str(n))]
                uow.users.add(user)
                uow.commit()

        with uow_factory() as uow, selects_run_on(engine) as selects:
            page = uow.users.list(PageRequest(per_page=10), email_contains=None)

        assert all(view.providers == ["github", "google"] for view in page.items)
        assert all(view.customer_code for view in page.items)
        assert len(selects) <= 3  # the page, its identities, the count


class TestCustomers:
    def test_a_customer_round_trips(self, uow_factory: UowFactory) -> None:
        customer = a_customer(uow_factory, code="K7Q2M9XD")

        with uow_factory() as uow:
            by_code = uow.customers.get_by_code(CustomerCode("K7Q2M9XD"))
            by_user = uow.customers.get_by_user(customer.user_id)
            known = uow.customers.code_exists(CustomerCode("K7Q2M9XD"))
            unknown = uow.customers.code_exists(CustomerCode("ZZZZZZZZ"))

        assert by_code is not None
        assert by_user is not None
        assert (by_code.id, by_code.user_id, by_code.code) == (
            customer.id, customer.user_id, CustomerCode("K7Q2M9XD")
        )
        assert by_user.id == customer.id
        assert by_code.created_at == NOW
        assert by_code.created_at.tzinfo == UTC
        assert known
        assert not unknown

    def test_a_customer_view_carries_the_users_details(self, uow_factory: UowFactory) -> None:
        customer = a_customer(uow_factory, code="K7Q2M9XD")

        with uow_factory() as uow:
            by_code = uow.customers.view(code=CustomerCode("K7Q2M9XD"))
            by_id = uow.customers.view(customer_id=customer.id)
            missing = uow.customers.view(customer_id=uuid4())

        assert by_code == by_id
        assert by_code is not None
        assert (by_code.code, by_code.user_id, by_code.name) == (
            "K7Q2M9XD", customer.user_id, "Wanjiku Kamau"
        )
        assert (by_code.email, by_code.phone_number) == ("wanjiku@example.com", "+254719485369")
        assert missing is None

    def test_customers_are_listed_newest_first(self, uow_factory: UowFactory) -> None:
        made = [
            a_customer(
                uow_factory, code=f"CODE{n:04d}", email=f"u{n}@example.com",
                phone=f"+25471948{n:04d}", at=NOW + timedelta(minutes=n % 2),
            )
            for n in range(5)
        ]

        with uow_factory() as uow:
            first = uow.customers.list(PageRequest(page=1, per_page=3))
            second = uow.customers.list(PageRequest(page=2, per_page=3))

        assert [c.id for c in [*first.items, *second.items]] == newest_first(made)
        assert (first.total, first.total_pages, len(second.items)) == (5, 2, 2)


class TestOrders:
    @pytest.mark.parametrize("amount", ["0.01", "420.00", "9999999999.99"])
    def test_an_order_round_trips_with_exact_money(
        self, uow_factory: UowFactory, amount: str
    ) -> None:
        order = an_order(a_customer(uow_factory), amount=amount)
        saved(uow_factory, order)

        with uow_factory() as uow:
            loaded = uow.orders.get(order.id)

        assert loaded is not None
        assert loaded.amount == Money(Decimal(amount), "KES")
        assert str(loaded.amount.amount) == amount
        assert (loaded.customer_id, loaded.customer_code, loaded.item) == (
            order.customer_id, order.customer_code, "Sack of maize"
        )
        assert loaded.status is OrderStatus.PENDING
        assert loaded.created_at == NOW
        assert loaded.created_at.tzinfo == UTC
        assert loaded.confirmed_at is None

    def test_a_confirmed_order_is_saved(self, uow_factory: UowFactory) -> None:
        order = an_order(a_customer(uow_factory))
        saved(uow_factory, order)
        confirmed_at = datetime(2026, 3, 2, 11, 0, tzinfo=NAIROBI)

        with uow_factory() as uow:
            loaded = uow.orders.get(order.id)
            assert loaded is not None
            loaded.confirm(at=confirmed_at)
            uow.orders.save(loaded)
            uow.commit()
        with uow_factory() as uow:
            reloaded = uow.orders.get(order.id)

        assert reloaded is not None
        assert reloaded.status is OrderStatus.CONFIRMED
        assert reloaded.confirmed_at == confirmed_at
        assert reloaded.confirmed_at is not None
        assert reloaded.confirmed_at.tzinfo == UTC

    def test_a_confirmation_moves_the_order_between_the_status_counts(
        self, uow_factory: UowFactory
    ) -> None:
        customer = a_customer(uow_factory)
        order = an_order(customer)
        saved(uow_factory, order)

        with uow_factory() as uow:
            locked = uow.orders.get(order.id, for_update=True)
            assert locked is not None
            locked.confirm(at=NOW)
            uow.orders.save(locked)
            uow.commit()

        with uow_factory() as uow:
            pending = uow.orders.list(PageRequest(), status=OrderStatus.PENDING)
            confirmed = uow.orders.list(PageRequest(), customer_id=customer.id,
                                        status=OrderStatus.CONFIRMED)
        assert (pending.total, confirmed.total) == (0, 1)
        assert [o.id for o in confirmed.items] == [order.id]

    def test_an_order_not_loaded_in_the_unit_of_work_is_not_saved(
        self, uow_factory: UowFactory
    ) -> None:
        order = an_order(a_customer(uow_factory))
        saved(uow_factory, order)
        order.confirm(at=NOW)

        with uow_factory() as uow, pytest.raises(LookupError):
            uow.orders.save(order)

    def test_orders_are_listed_newest_first_and_filtered(self, uow_factory: UowFactory) -> None:
        wanjiku = a_customer(uow_factory, code="WANJIKU1")
        otieno = a_customer(
            uow_factory, code="OTIENO01", email="otieno@example.com", phone="+254722000000"
        )
        theirs = [an_order(wanjiku, at=NOW + timedelta(minutes=n % 3)) for n in range(5)]
        others = [an_order(otieno) for _ in range(2)]
        theirs[0].confirm(at=NOW)
        saved(uow_factory, *theirs, *others)

        with uow_factory() as uow:
            everything = uow.orders.list(PageRequest(per_page=100))
            wanjikus = uow.orders.list(PageRequest(per_page=3), customer_id=wanjiku.id)
            confirmed = uow.orders.list(PageRequest(), status=OrderStatus.CONFIRMED)
            pending_of_wanjiku = uow.orders.list(
                PageRequest(), customer_id=wanjiku.id, status=OrderStatus.PENDING
            )

        assert [o.id for o in everything.items] == newest_first([*theirs, *others])
        assert [o.id for o in wanjikus.items] == newest_first(theirs)[:3]
        assert (wanjikus.total, wanjikus.total_pages) == (5, 2)
        assert [o.id for o in confirmed.items] == [theirs[0].id]
        assert pending_of_wanjiku.total == 4


class TestSmsOutbox:
    def test_a_message_round_trips(self, uow_factory: UowFactory) -> None:
        order = an_order(a_customer(uow_factory))
        message = SmsMessage(
            recipient=PhoneNumber("+254719485369"),
            text="Hi Wanjiku, your order … has been recorded.",
            created_at=NOW,
            order_id=order.id,
            status=SmsStatus.SENT,
            attempts=2,
            next_attempt_at=NOW + timedelta(minutes=5),
            last_error="timeout",
            provider_message_id="ATXid_1234",
            sent_at=datetime(2026, 3, 1, 12, 31, tzinfo=NAIROBI),
        )
        saved(uow_factory, order, message)

        with uow_factory() as uow:
            loaded = uow.outbox.get(message.id)
            for_order = uow.outbox.for_order(order.id)

        assert loaded is not None
        assert vars(loaded) == vars(message)
        assert loaded.sent_at is not None
        assert loaded.sent_at.tzinfo == UTC
        assert [m.id for m in for_order] == [message.id]


class TestIdempotencyKeysAndRevokedTokens:
    def test_an_idempotency_record_round_trips(self, uow_factory: UowFactory) -> None:
        order = an_order(a_customer(uow_factory))
        message = SmsMessage(recipient=PhoneNumber("+254719485369"), text="Hi", created_at=NOW)
        saved(uow_factory, order, message)
        record = IdempotencyRecord(
            owner="admin-1", key="3f2a-key", fingerprint="ab" * 32, order_id=order.id,
            notification_id=message.id, created_at=NOW,
        )

        with uow_factory() as uow:
            uow.idempotency_keys.add(record)
            uow.commit()
        with uow_factory() as uow:
            loaded = uow.idempotency_keys.get("admin-1", "3f2a-key")
            missing = uow.idempotency_keys.get("admin-1", "other")
            someone_elses = uow.idempotency_keys.get("person-2", "3f2a-key")

        assert loaded == record
        assert missing is None
        assert someone_elses is None

    def test_old_keys_and_expired_revocations_are_removed(self, uow_factory: UowFactory) -> None:
        order = an_order(a_customer(uow_factory))
        message = SmsMessage(recipient=PhoneNumber("+254719485369"), text="Hi", created_at=NOW)
        saved(uow_factory, order, message)
        with uow_factory() as uow:
            for key, at in [("old", NOW - timedelta(days=2)), ("new", NOW)]:
                uow.idempotency_keys.add(IdempotencyRecord(
                    owner="a", key=key, fingerprint="f", order_id=order.id,
                    notification_id=message.id, created_at=at))
            uow.revoked_tokens.add("expired", expires_at=NOW - timedelta(seconds=1))
            uow.revoked_tokens.add("family:alive", expires_at=NOW + timedelta(days=1))
            uow.commit()

        with uow_factory() as uow:
            removed = (uow.idempotency_keys.remove_created_before(NOW - timedelta(days=1)),
                       uow.revoked_tokens.remove_expired(NOW))
            uow.commit()

        with uow_factory() as uow:
            assert removed == (1, 1)
            assert uow.idempotency_keys.get("a", "old") is None
            assert uow.idempotency_keys.get("a", "new") is not None
            assert not uow.revoked_tokens.contains("expired")
            assert uow.revoked_tokens.check("x", "family:alive", issued_to=None)[0]

    def test_a_revoked_token_is_remembered(self, uow_factory: UowFactory) -> None:
        with uow_factory() as uow:
            uow.revoked_tokens.add("jti-1", expires_at=NOW)
            uow.commit()

        with uow_factory() as uow:
            assert uow.revoked_tokens.contains("jti-1")
            assert not uow.revoked_tokens.contains("jti-2")


def race_for_email(uow_factory: UowFactory) -> Callable[[SqlAlchemyUnitOfWork, int], None]:
    return lambda uow, n: uow.users.add(a_user("same@example.com"))


def race_for_phone_number(uow_factory: UowFactory) -> Callable[[SqlAlchemyUnitOfWork, int], None]:
    return lambda uow, n: uow.users.add(a_user(f"u{n}@example.com", phone="+254719485369"))


def race_for_customer_user(uow_factory: UowFactory) -> Callable[[SqlAlchemyUnitOfWork, int], None]:
    user = a_user(phone="+254719485369")
    saved(uow_factory, user)
    return lambda uow, n: uow.customers.add(
        Customer(user_id=user.id, code=CustomerCode(f"RACE000{n}"), created_at=NOW)
    )


def race_for_customer_code(uow_factory: UowFactory) -> Callable[[SqlAlchemyUnitOfWork, int], None]:
    people = {n: a_user(f"u{n}@example.com") for n in (1, 2)}
    saved(uow_factory, *people.values())
    return lambda uow, n: uow.customers.add(
        Customer(user_id=people[n].id, code=CustomerCode("SAMECODE"), created_at=NOW)
    )


def race_for_idempotency_key(
    uow_factory: UowFactory,
) -> Callable[[SqlAlchemyUnitOfWork, int], None]:
    order = an_order(a_customer(uow_factory))
    message = SmsMessage(recipient=PhoneNumber("+254719485369"), text="Hi", created_at=NOW)
    saved(uow_factory, order, message)
    return lambda uow, n: uow.idempotency_keys.add(
        IdempotencyRecord(
            owner="admin-1", key="same-key", fingerprint=str(n), order_id=order.id,
            notification_id=message.id, created_at=NOW,
        )
    )


def race_for_revoked_token(uow_factory: UowFactory) -> Callable[[SqlAlchemyUnitOfWork, int], None]:
    return lambda uow, n: uow.revoked_tokens.add("same-jti", expires_at=NOW)


RACES = {
    "email": race_for_email,
    "phone_number": race_for_phone_number,
    "customer_user": race_for_customer_user,
    "customer_code": race_for_customer_code,
    "idempotency_key": race_for_idempotency_key,
    "revoked_token": race_for_revoked_token,
}


class TestUnitOfWork:
    def test_nothing_is_kept_without_commit(
        self, uow_factory: UowFactory, engine: Engine
    ) -> None:
        with uow_factory() as uow:
            uow.users.add(a_user())
            # The lookup flushes the insert to the database: it must still be rolled back.
            assert uow.users.get_by_email(Email("wanjiku@example.com")) is not None

        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        with uow_factory() as uow:
            assert uow.users.get_by_email(Email("wanjiku@example.com")) is None

    def test_an_error_in_the_block_keeps_nothing(self, uow_factory: UowFactory) -> None:
        def fail_after_writing() -> None:
            with uow_factory() as uow:
                uow.revoked_tokens.add("jti-1", expires_at=NOW)
                assert uow.revoked_tokens.contains("jti-1")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            fail_after_writing()

        with uow_factory() as uow:
            assert not uow.revoked_tokens.contains("jti-1")

    def test_reads_continue_after_commit_and_after_rollback(
        self, uow_factory: UowFactory
    ) -> None:
        user = a_user()

        with uow_factory() as uow:
            uow.users.add(user)
            uow.commit()
            after_commit = uow.users.view(user.id)
            uow.revoked_tokens.add("jti-1", expires_at=NOW)
            uow.rollback()
            after_rollback = uow.users.get(user.id)
            token_kept = uow.revoked_tokens.contains("jti-1")

        assert after_commit is not None
        assert after_commit.email == "wanjiku@example.com"
        assert after_rollback is not None
        assert not token_kept

    @pytest.mark.parametrize("what", RACES)
    def test_losing_a_race_for_a_unique_value_is_a_unique_violation(
        self, uow_factory: UowFactory, what: str
    ) -> None:
        write = RACES[what](uow_factory)
        winner, loser = uow_factory(), uow_factory()

        with winner, loser:
            write(winner, 1)
            write(loser, 2)
            winner.commit()
            with pytest.raises(UniqueViolation) as lost:
                loser.commit()

        assert lost.value.what == what

    def test_a_collision_flushed_by_a_lookup_is_a_unique_violation_too(
        self, uow_factory: UowFactory
    ) -> None:
        winner, loser = uow_factory(), uow_factory()

        def lose_while_looking_up() -> None:
            with loser:
                loser.revoked_tokens.add("same-jti", expires_at=NOW)
                loser.revoked_tokens.contains("another-jti")

        with winner:
            winner.revoked_tokens.add("same-jti", expires_at=NOW)
            winner.commit()
        with pytest.raises(UniqueViolation) as lost:
            lose_while_looking_up()

        assert lost.value.what == "revoked_token"

    def test_the_loser_of_a_race_can_read_on(self, uow_factory: UowFactory) -> None:
        winner, loser = uow_factory(), uow_factory()

        with winner, loser:
            winner.revoked_tokens.add("same-jti", expires_at=NOW)
            loser.revoked_tokens.add("same-jti", expires_at=NOW)
            winner.commit()
            with pytest.raises(UniqueViolation):
                loser.commit()
            loser.rollback()
            assert loser.revoked_tokens.contains("same-jti")

    def test_an_unreachable_database_is_storage_unavailable(self) -> None:
        engine = create_engine_for(UNREACHABLE_POSTGRES, pool_size=1)
        uow = SqlAlchemyUnitOfWork(engine)

        def read() -> None:
            with uow:
                uow.users.get(uuid4())

        def write() -> None:
            with uow:
                uow.revoked_tokens.add("jti-1", expires_at=NOW)
                uow.commit()

        with pytest.raises(StorageUnavailable):
            read()
        with pytest.raises(StorageUnavailable):
            write()
        assert not database_answers(engine)

    @pytest.mark.postgres_only
    def test_a_connection_lost_mid_transaction_is_storage_unavailable(
        self, uow_factory: UowFactory, engine: Engine
    ) -> None:

        def write_while_the_server_drops_us() -> None:
            with uow_factory() as uow:
                uow.revoked_tokens.add("jti-1", expires_at=NOW)
                assert uow.revoked_tokens.contains("jti-1")
                with engine.connect() as other:
                    other.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = current_setting('application_name')"
                        )
                    )
                uow.commit()

        with pytest.raises(StorageUnavailable):
            write_while_the_server_drops_us()

    def test_the_database_answers(self, engine: Engine) -> None:
        assert database_answers(engine)


def test_the_migrations_build_the_schema_the_models_describe(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)

    assert differences == []


class TestUseCasesOnTheDatabase:
    def place(self, uow_factory: UowFactory, key: str | None = None) -> PlacedOrder:
        command = orders.PlaceOrder(
            customer_code="K7Q2M9XD", item="Sack of maize", amount="420", currency="KES",
            idempotency_key=key,
        )
        return orders.place_order(command, uow=uow_factory(), clock=lambda: NOW)

    def test_placing_an_order_queues_its_sms_in_the_same_transaction(
        self, uow_factory: UowFactory
    ) -> None:
        a_customer(uow_factory, code="K7Q2M9XD")

        placed = self.place(uow_factory)

        with uow_factory() as uow:
            page = uow.orders.list(PageRequest())
            queued = uow.outbox.for_order(placed.order.id)
        assert [o.id for o in page.items] == [placed.order.id]
        assert page.items[0].amount == Money(Decimal("420.00"), "KES")
        [message] = queued
        assert message.id == placed.notification.id
        assert message.status is SmsStatus.QUEUED
        assert message.recipient == PhoneNumber("+254719485369")
        assert "Sack of maize" in message.text

    def test_a_replayed_idempotency_key_returns_the_first_order(
        self, uow_factory: UowFactory
    ) -> None:
        a_customer(uow_factory, code="K7Q2M9XD")

        first = self.place(uow_factory, key="retry-me")
        again = self.place(uow_factory, key="retry-me")

        with uow_factory() as uow:
            page = uow.orders.list(PageRequest())
            queued = uow.outbox.for_order(first.order.id)
        assert again.order.id == first.order.id
        assert again.notification.id == first.notification.id
        assert page.total == 1
        assert len(queued) == 1

    def test_an_admin_registers_and_gets_a_phone_number(self, uow_factory: UowFactory) -> None:
        hasher = Argon2PasswordHasher(time_cost=1, memory_kib=1024)
        command = auth.RegisterAdmin(
            email="Grace@Example.com", password="s3cret-pass", api_key="key", name="Grace"
        )

        admin = auth.register_admin(
            command, uow=uow_factory(), hasher=hasher, admin_api_key="key", clock=lambda: NOW
        )
        view = users.add_phone_number(admin.id, "0719 485 369", uow=uow_factory())
        signed_in = auth.authenticate_admin(
            "grace@example.com", "s3cret-pass", uow=uow_factory(), hasher=hasher,
            decoy_hash=hasher.hash("decoy"),
        )

        assert view.phone_number == "+254719485369"
        assert view.email == "grace@example.com"
        assert signed_in.id == admin.id


def test_what_a_unit_of_work_loaded_is_not_read_again(
    uow_factory: UowFactory, engine: Engine
) -> None:
    customer = a_customer(uow_factory)
    order = an_order(customer)
    saved(uow_factory, order)

    with selects_run_on(engine) as statements, uow_factory() as uow:
        found = uow.customers.get_by_code(customer.code)
        assert found is not None
        holder = uow.users.get(found.user_id)
        loaded = uow.orders.get(order.id, for_update=True)
        assert loaded is not None
        loaded.confirm(at=NOW)
        uow.orders.save(loaded)
        uow.commit()

    assert holder is not None
    assert len(statements) == 2  # the customer with its user, then the order


class TestHeldBackWrites:
    """New orders, SMS and idempotency keys wait with the count changes and are written
    together: before anything reads, and before commit."""

    @pytest.mark.postgres_only  # SQLite has no data-modifying WITH: a statement per table
    def test_an_order_its_sms_key_and_counts_are_one_statement(
        self, uow_factory: UowFactory, engine: Engine
    ) -> None:
        a_customer(uow_factory, code="K7Q2M9XD")
        command = orders.PlaceOrder(customer_code="K7Q2M9XD", item="Sack of maize",
                                    amount="420", currency="KES", idempotency_key="once")

        with statements_run_on(engine) as statements:
            placed = orders.place_order(command, uow=uow_factory(), clock=lambda: NOW)

        # The key's look-up, the customer with its user, the number's SMS of the day counted
        # (it decides whether the SMS is held back), then every other write at once.
        verbs = [statement.split(None, 1)[0].upper() for statement in statements]
        assert verbs == ["SELECT", "SELECT", "INSERT", "WITH"]
        with uow_factory() as uow:
            assert uow.orders.get(placed.order.id) is not None
            assert [m.id for m in uow.outbox.for_order(placed.order.id)] == [
                placed.notification.id]
            assert uow.idempotency_keys.get("", "once") is not None
            assert uow.orders.list(PageRequest()).total == 1

    def test_reads_in_the_unit_of_work_see_held_back_rows_and_rollback_drops_them(
        self, uow_factory: UowFactory
    ) -> None:
        customer = a_customer(uow_factory)
        order = an_order(customer)
        message = SmsMessage(recipient=PhoneNumber("+254719485369"), text="Hello",
                             created_at=NOW, order_id=order.id)

        with uow_factory() as uow:
            uow.orders.add(order)
            uow.outbox.add(message)
            assert uow.orders.get(order.id) is not None  # the repositories' own statement
            assert uow.outbox.get(message.id) is not None  # an ORM query
            assert uow.orders.list(PageRequest(), customer_id=customer.id).total == 1
            uow.rollback()

        with uow_factory() as uow:
            assert uow.orders.get(order.id) is None
            assert uow.outbox.get(message.id) is None
            assert uow.orders.list(PageRequest()).total == 0

    def test_a_held_back_row_may_refer_to_an_orm_row_added_before_it(
        self, uow_factory: UowFactory
    ) -> None:
        user = a_user()
        customer = Customer(user_id=user.id, code=CustomerCode("K7Q2M9XD"), created_at=NOW)
        order = an_order(customer)

        saved(uow_factory, user, customer, order)

        with uow_factory() as uow:
            assert uow.orders.list(PageRequest(), customer_id=customer.id).total == 1

    def test_many_rows_at_once_are_all_written_and_counted(
        self, uow_factory: UowFactory
    ) -> None:
        customer = a_customer(uow_factory)
        many = [an_order(customer, at=NOW + timedelta(seconds=i)) for i in range(40)]
        many[0].confirm(at=NOW)

        saved(uow_factory, *many)

        with uow_factory() as uow:
            page = uow.orders.list(PageRequest(per_page=100), customer_id=customer.id)
            pending = uow.orders.list(PageRequest(), status=OrderStatus.PENDING)
        assert {o.id for o in page.items} == {o.id for o in many}
        assert (page.total, pending.total) == (40, 39)


class TestPhoneProofAndUsage:
    def test_a_pending_number_and_its_code_round_trip(self, uow_factory: UowFactory) -> None:
        user = a_user(phone="+254719485369")
        user.propose_phone_number(PhoneNumber("+254722000000"))
        user.phone_code_sent("d" * 64, at=NOW)
        with pytest.raises(PhoneCodeRefused):
            user.prove_phone("e" * 64, at=NOW)
        saved(uow_factory, user)

        with uow_factory() as uow:
            loaded = uow.users.get(user.id)
            view = uow.users.view(user.id)

        assert loaded is not None and view is not None
        assert loaded.phone_number == PhoneNumber("+254719485369")
        assert loaded.pending_phone == PendingPhone(
            PhoneNumber("+254722000000"), code_digest="d" * 64, code_sent_at=NOW, wrong_tries=1)
        assert view.pending_phone == loaded.pending_phone

    def test_a_proven_number_leaves_nothing_pending(self, uow_factory: UowFactory) -> None:
        user = a_user()
        user.propose_phone_number(PhoneNumber("+254722000000"))
        user.phone_code_sent("d" * 64, at=NOW)
        saved(uow_factory, user)
        user.prove_phone("d" * 64, at=NOW)
        saved(uow_factory, user)

        with uow_factory() as uow:
            loaded = uow.users.get(user.id)

        assert loaded is not None
        assert (loaded.phone_number, loaded.pending_phone) == (PhoneNumber("+254722000000"), None)

    def test_two_people_may_wait_on_the_same_unproven_number(
        self, uow_factory: UowFactory
    ) -> None:
        people = [a_user(f"p{n}@example.com") for n in range(2)]
        for person in people:
            person.propose_phone_number(PhoneNumber("+254722000000"))

        saved(uow_factory, *people)

    def test_uses_are_counted_per_key_and_window_up_to_the_limit(
        self, uow_factory: UowFactory
    ) -> None:
        tomorrow = NOW + timedelta(days=1)
        with uow_factory() as uow:
            taken = [uow.usage.take("orders:a", NOW, limit=2) for _ in range(3)]
            other_key = uow.usage.take("orders:b", NOW, limit=2)
            other_window = uow.usage.take("orders:a", tomorrow, limit=2)
            uow.commit()
        with uow_factory() as uow:
            after_commit = uow.usage.take("orders:a", NOW, limit=2)
            nothing_allowed = uow.usage.take("orders:c", NOW, limit=0)

        assert taken == [True, True, False]
        assert (other_key, other_window, after_commit, nothing_allowed) == (
            True, True, False, False)

    def test_a_use_rolled_back_is_not_used_up(self, uow_factory: UowFactory) -> None:
        with uow_factory() as uow:
            assert uow.usage.take("codes:x", NOW, limit=1)
        with uow_factory() as uow:
            assert uow.usage.take("codes:x", NOW, limit=1)

    @pytest.mark.postgres_only
    def test_of_many_transactions_taking_the_last_use_at_once_one_gets_it(
        self, uow_factory: UowFactory
    ) -> None:
        results: list[bool] = []
        start = threading.Barrier(6)

        def take() -> None:
            with uow_factory() as uow:
                start.wait()
                results.append(uow.usage.take("sms:+254719485369", NOW, limit=3))
                uow.commit()

        threads = [threading.Thread(target=take) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(results) == [False, False, False, True, True, True]


class TestEveryColumn:
    """Each module writes every column of its table and reads every one back."""

    @pytest.mark.parametrize(("table", "values"), [
        (tables.users, lambda: user_values(a_user(phone="+254719485369"))),
        (tables.customers, lambda: customer_values(
            Customer(user_id=uuid4(), code=CustomerCode("K7Q2M9XD"), created_at=NOW))),
        (tables.orders, lambda: order_values(an_order(
            Customer(user_id=uuid4(), code=CustomerCode("K7Q2M9XD"), created_at=NOW)))),
        (tables.sms_outbox, lambda: sms_values(
            SmsMessage(recipient=PhoneNumber("+254719485369"), text="Hi", created_at=NOW))),
        (tables.incoming_sms, lambda: incoming_values(IncomingSms(
            provider_message_id="ATXid_1", sender="+254719485369", text="YES",
            received_at=NOW, outcome=ReplyOutcome.CONFIRMED))),
        (tables.idempotency_keys, lambda: record_values(IdempotencyRecord(
            owner="a", key="k", fingerprint="f", order_id=uuid4(), notification_id=uuid4(),
            created_at=NOW))),
    ], ids=lambda each: getattr(each, "name", ""))
    def test_a_module_names_every_column_of_its_table(self, table, values) -> None:
        assert set(values()) == set(table.columns.keys())

    def test_a_row_missing_a_column_is_refused_on_every_database(
            self, uow_factory: UowFactory) -> None:
        with uow_factory() as uow, pytest.raises(ValueError, match="names"):
            uow.outbox._batch.insert(tables.revoked_tokens, {"jti": "x"})  # type: ignore[attr-defined]

    def test_every_column_of_a_user_comes_back(self, uow_factory: UowFactory) -> None:
        user = a_user(phone="+254719485369")
        user.password_hash = "hash"
        user.email_verified = True
        user.identities = [Identity("google", "1087")]
        user.session_version = 3
        user.propose_phone_number(PhoneNumber("+254722000000"))
        user.phone_code_sent("d" * 64, at=NOW)
        saved(uow_factory, user)

        with uow_factory() as uow:
            loaded = uow.users.get(user.id)

        assert loaded is not None
        assert user_values(loaded) == user_values(user)


class TestWritesInOrder:
    def test_a_reply_to_an_order_added_in_the_same_unit_of_work_is_stored_with_it(
            self, uow_factory: UowFactory) -> None:
        order = an_order(a_customer(uow_factory))
        reply = IncomingSms(provider_message_id="ATXid_7", sender="+254719485369",
                            text="YES", received_at=NOW, outcome=ReplyOutcome.CONFIRMED,
                            order_id=order.id)

        with uow_factory() as uow:
            uow.orders.add(order)
            uow.incoming_messages.add(reply)
            uow.commit()

        with uow_factory() as uow:
            assert [m.id for m in uow.incoming_messages.for_order(order.id)] == [reply.id]

    def test_a_changed_row_is_written_after_the_new_rows_before_it(
            self, uow_factory: UowFactory) -> None:
        user = a_user()

        with uow_factory() as uow:
            uow.users.add(user)
            user.name = "Wanjiku Njeri"
            uow.users.add(user)
            uow.commit()

        with uow_factory() as uow:
            loaded = uow.users.get(user.id)
        assert loaded is not None and loaded.name == "Wanjiku Njeri"
