"""List totals come from the sharded ``row_counts``: exact after every write, on both databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, text

from app.adapters.sqlalchemy.migrate import alembic_config
from app.domain.orders import OrderStatus
from app.domain.users import Customer
from app.services.errors import UniqueViolation
from app.services.views import PageRequest
from bench.recount import RECOUNT
from tests.integration.test_sqlalchemy_adapter import (
    NOW,
    UowFactory,
    a_customer,
    a_user,
    an_order,
    saved,
    selects_run_on,
)


def totals(uow_factory: UowFactory) -> dict[str, int]:
    """Every total the counters give, by list."""
    with uow_factory() as uow:
        return {
            "orders": uow.orders.list(PageRequest()).total,
            "pending": uow.orders.list(PageRequest(), status=OrderStatus.PENDING).total,
            "confirmed": uow.orders.list(PageRequest(), status=OrderStatus.CONFIRMED).total,
            "users": uow.users.list(PageRequest(), email_contains=None).total,
            "customers": uow.customers.list(PageRequest()).total,
        }


def counted(engine: Engine) -> dict[str, int]:
    """The same totals, counted over the rows."""
    with engine.connect() as connection:
        def count(sql: str) -> int:
            return int(connection.execute(text(sql)).scalar_one())
        return {
            "orders": count("SELECT count(*) FROM orders"),
            "pending": count("SELECT count(*) FROM orders WHERE status = 'pending'"),
            "confirmed": count("SELECT count(*) FROM orders WHERE status = 'confirmed'"),
            "users": count("SELECT count(*) FROM users"),
            "customers": count("SELECT count(*) FROM customers"),
        }


def with_orders_of_each_status(uow_factory: UowFactory) -> Customer:
    """A customer with a pending and a confirmed order: an empty first page would show a
    total of 0 without reading any count."""
    customer = a_customer(uow_factory)
    confirmed = an_order(customer)
    confirmed.confirm(at=NOW)
    saved(uow_factory, an_order(customer), confirmed)
    return customer


def test_each_test_starts_with_no_counts(uow_factory: UowFactory, engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM row_counts")).scalar_one() == 0


def test_totals_follow_adds_and_confirmations(uow_factory: UowFactory, engine: Engine) -> None:
    wanjiku = a_customer(uow_factory)
    otieno = a_customer(uow_factory, code="OTIENO01", email="otieno@example.com",
                        phone="+254722000000")
    saved(uow_factory, a_user("admin@example.com"))
    placed = [an_order(wanjiku, at=NOW + timedelta(minutes=n)) for n in range(4)]
    saved(uow_factory, *placed, an_order(otieno))
    with uow_factory() as uow:
        for order in placed[:3]:
            loaded = uow.orders.get(order.id, for_update=True)
            assert loaded is not None
            loaded.confirm(at=NOW)
            uow.orders.save(loaded)
        uow.commit()
    with uow_factory() as uow:
        # Saving an unchanged status again changes no count.
        again = uow.orders.get(placed[0].id)
        assert again is not None
        uow.orders.save(again)
        uow.commit()

    assert totals(uow_factory) == counted(engine) == {
        "orders": 5, "pending": 2, "confirmed": 3, "users": 3, "customers": 2}


def test_a_page_reads_its_total_from_the_counters(
    uow_factory: UowFactory, engine: Engine
) -> None:
    saved(uow_factory, an_order(a_customer(uow_factory)))

    with selects_run_on(engine) as statements, uow_factory() as uow:
        page = uow.orders.list(PageRequest(), status=OrderStatus.PENDING)

    assert page.total == 1
    assert len(statements) == 1
    assert "row_counts" in statements[0]
    assert "count(" not in statements[0].lower()


def test_lists_filtered_by_customer_or_email_are_exact(uow_factory: UowFactory) -> None:
    wanjiku = a_customer(uow_factory)
    otieno = a_customer(uow_factory, code="OTIENO01", email="otieno@example.com",
                        phone="+254722000000")
    saved(uow_factory, an_order(wanjiku), an_order(wanjiku), an_order(otieno))

    with uow_factory() as uow:
        theirs = uow.orders.list(PageRequest(), customer_id=wanjiku.id)
        found = uow.users.list(PageRequest(), email_contains="OTIENO")
        past_the_end = uow.orders.list(PageRequest(page=9, per_page=1))

    assert (theirs.total, found.total) == (2, 1)
    assert (past_the_end.items, past_the_end.total) == ([], 3)


def test_a_unit_of_work_left_without_commit_changes_no_total(
    uow_factory: UowFactory, engine: Engine
) -> None:
    customer = with_orders_of_each_status(uow_factory)
    before = totals(uow_factory)

    with uow_factory() as uow:
        uow.orders.add(an_order(customer))
        uow.users.add(a_user("otieno@example.com"))
        # Read inside the unit of work, its own writes count (the counters are written) ...
        assert uow.orders.list(PageRequest()).total == before["orders"] + 1
        assert uow.users.list(PageRequest(), email_contains=None).total == before["users"] + 1
    # ... and leaving it without commit takes them back with the rows.
    with uow_factory() as uow:
        uow.orders.add(an_order(customer))
        uow.rollback()
        uow.users.add(a_user("amina@example.com"))
        uow.commit()

    assert totals(uow_factory) == counted(engine)
    assert totals(uow_factory) == {**before, "users": before["users"] + 1}


def test_a_commit_that_fails_changes_no_total(uow_factory: UowFactory, engine: Engine) -> None:
    customer = with_orders_of_each_status(uow_factory)
    before = totals(uow_factory)

    def add_an_order_and_a_taken_email() -> None:
        with uow_factory() as uow:
            uow.orders.add(an_order(customer))
            uow.users.add(a_user("wanjiku@example.com"))  # the customer's
            uow.commit()

    with pytest.raises(UniqueViolation):
        add_an_order_and_a_taken_email()

    assert totals(uow_factory) == counted(engine) == before


@pytest.mark.postgres_only
def test_orders_placed_and_confirmed_from_many_threads_are_all_counted(
    uow_factory: UowFactory, engine: Engine
) -> None:
    customer = a_customer(uow_factory)

    def place_and_confirm(n: int) -> None:
        order = an_order(customer, at=NOW + timedelta(seconds=n))
        saved(uow_factory, order)
        if n % 3 == 0:
            with uow_factory() as uow:
                loaded = uow.orders.get(order.id, for_update=True)
                assert loaded is not None
                loaded.confirm(at=NOW)
                uow.orders.save(loaded)
                uow.commit()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(place_and_confirm, range(120)))

    assert totals(uow_factory) == counted(engine) == {
        "orders": 120, "pending": 80, "confirmed": 40, "users": 1, "customers": 1}
    with engine.connect() as connection:
        shards = connection.execute(text(
            "SELECT count(*) FROM row_counts WHERE name = 'orders'")).scalar_one()
    assert shards > 1  # spread over shards, not one hot row


def test_migrating_a_database_with_rows_seeds_the_counters(
    uow_factory: UowFactory, engine: Engine, database_url: str
) -> None:
    customer = with_orders_of_each_status(uow_factory)
    saved(uow_factory, an_order(customer))
    config = alembic_config(database_url)

    command.downgrade(config, "0003")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM orders WHERE status = 'pending'"))
    command.upgrade(config, "head")

    assert totals(uow_factory) == counted(engine) == {
        "orders": 1, "pending": 0, "confirmed": 1, "users": 1, "customers": 1}
    assert customer_totals(uow_factory, customer) == (1, 0, 1)


def test_a_recount_rebuilds_the_counters_from_the_rows(
    uow_factory: UowFactory, engine: Engine
) -> None:
    with_orders_of_each_status(uow_factory)
    with engine.begin() as connection:
        connection.execute(text("UPDATE row_counts SET value = value + 7"))
        for statement in RECOUNT:
            connection.execute(text(statement))

    assert totals(uow_factory) == counted(engine) == {
        "orders": 2, "pending": 1, "confirmed": 1, "users": 1, "customers": 1}


def customer_totals(uow_factory: UowFactory, customer: Customer) -> tuple[int, int, int]:
    """One customer's orders: all, pending, confirmed, as the lists report them."""
    with uow_factory() as uow:
        return tuple(uow.orders.list(PageRequest(), customer_id=customer.id, status=status).total
                     for status in (None, OrderStatus.PENDING, OrderStatus.CONFIRMED))


def test_a_customers_totals_follow_their_orders_and_are_read_from_the_counters(
    uow_factory: UowFactory, engine: Engine
) -> None:
    wanjiku = with_orders_of_each_status(uow_factory)
    otieno = a_customer(uow_factory, code="OTIENO01", email="otieno@example.com",
                        phone="+254722000000")
    saved(uow_factory, an_order(otieno))

    with selects_run_on(engine) as statements, uow_factory() as uow:
        uow.orders.list(PageRequest(), customer_id=wanjiku.id)

    assert customer_totals(uow_factory, wanjiku) == (2, 1, 1)
    assert customer_totals(uow_factory, otieno) == (1, 1, 0)
    assert len(statements) == 1
    assert "count(" not in statements[0].lower()


def test_a_recount_rebuilds_each_customers_counters(
    uow_factory: UowFactory, engine: Engine
) -> None:
    wanjiku = with_orders_of_each_status(uow_factory)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM row_counts"))
        for statement in RECOUNT:
            connection.execute(text(statement))

    assert customer_totals(uow_factory, wanjiku) == (2, 1, 1)
