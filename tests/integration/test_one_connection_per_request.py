"""A request takes one connection from the pool, however many units of work it runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from app import create_app
from tests.integration.live_server import settings_for_tests


@contextmanager
def checkouts() -> Iterator[list[object]]:
    """Every pool checkout meanwhile, in any engine of this process."""
    seen: list[object] = []

    def count(dbapi_connection: object, record: object, proxy: object) -> None:
        seen.append(dbapi_connection)

    event.listen(Pool, "checkout", count)
    try:
        yield seen
    finally:
        event.remove(Pool, "checkout", count)


@pytest.fixture
def client(database_url, clean_tables):
    app = create_app(settings_for_tests(database_url))
    yield app.test_client()
    app.extensions["customer_order_service"].dispose()


def admin_token(client) -> str:
    answer = client.post("/api/auth/admin-register/", json={
        "email": "grace@example.com", "password": "s3cret-pass", "api_key": "123456721"})
    assert answer.status_code == 201, answer.text
    return str(answer.json["access_token"])


def test_a_read_checks_its_token_and_reads_on_one_connection(client):
    auth = {"Authorization": f"Bearer {admin_token(client)}"}

    with checkouts() as seen:
        answer = client.get("/api/lookup/all-users/", headers=auth)

    assert answer.status_code == 200
    assert len(seen) == 1


def test_a_write_checks_its_token_and_commits_on_one_connection(client, user):
    auth = {"Authorization": f"Bearer {admin_token(client)}"}

    with checkouts() as seen:
        answer = client.post("/api/auth/add-user-number/", headers=auth,
                             json={"user_id": user, "phone_number": "0719485369"})

    assert answer.status_code == 200, answer.text
    assert len(seen) == 1


def test_a_failed_write_leaves_the_shared_connection_usable(client, user):
    auth = {"Authorization": f"Bearer {admin_token(client)}"}
    client.post("/api/auth/add-user-number/", headers=auth,
                json={"user_id": user, "phone_number": "0719485369"})
    other = client.post("/api/auth/admin-register/", json={
        "email": "otieno@example.com", "password": "s3cret-pass", "api_key": "123456721",
        "phone_number": "0719485369"})

    assert other.status_code == 409
    assert client.get("/api/lookup/all-users/", headers=auth).status_code == 200
