"""Fixtures for tests against real databases.

``database_url`` is parametrised over ``sqlite`` and ``postgresql``, so every test that uses
it (directly or through ``engine``, ``uow_factory``, ...) runs once on each database:

- ``sqlite``: a fresh database file in a temporary folder;
- ``postgresql``: a throwaway database with a random name, created on the server named by
  ``TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and
  dropped at the end of the session. When that server cannot be reached the PostgreSQL runs
  are skipped, or fail when the ``CI`` environment variable is set, so CI cannot go green
  without them.

Both databases get their schema from the Alembic migrations, so the tests prove them too.
Each test that takes ``uow_factory`` starts from empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from app.adapters.sqlalchemy import database
from app.adapters.sqlalchemy.migrate import upgrade_database
from app.adapters.sqlalchemy.tables import metadata
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.domain.users import Identity, Role, User
from app.domain.values import Email
from tests.integration.live_server import Admin, ApiClient, live_app, settings_for_tests
from tests.integration.signing_in import local_provider

TESTS_APPLICATION_NAME = "customer-order-service-tests"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` run on PostgreSQL alone: their SQLite twins are dropped."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgres_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a freshly migrated database, once per kind of database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'orders.db'}"
        upgrade_database(url)
        yield url
        return
    server_url = make_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    with _throwaway_postgres_database(server_url) as url:
        upgrade_database(url)
        yield url


@contextmanager
def _throwaway_postgres_database(server_url: URL) -> Iterator[str]:
    """A database with a random name on the server, dropped when the block ends."""
    name = f"test_orders_{uuid4().hex[:12]}"
    server = create_engine(
        server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        try:
            with server.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as error:
            _postgres_missing(f"PostgreSQL at {server.url!r} is unreachable: {error.orig}")
        try:
            yield server.url.set(database=name).render_as_string(hide_password=False)
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        server.dispose()


def _postgres_missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(f"{reason} (set TEST_POSTGRES_URL, or CI=1 to make this an error)")


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    # A name of its own, so tests that drop "our" connections leave the app's alone.
    engine = database.create_engine_for(database_url, pool_size=5,
                                        application_name=TESTS_APPLICATION_NAME)
    yield engine
    engine.dispose()


def delete_all_rows(engine: Engine) -> None:
    """Empty every table, children before parents so foreign keys never object."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))


@pytest.fixture
def clean_tables(engine: Engine) -> None:
    delete_all_rows(engine)


@pytest.fixture
def uow_factory(engine: Engine, clean_tables: None) -> Callable[[], SqlAlchemyUnitOfWork]:
    return lambda: SqlAlchemyUnitOfWork(engine)


# The real app over HTTP -------------------------------------------------------------------

@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[ApiClient]:
    """One running app per database for the whole session."""
    with live_app(settings_for_tests(database_url)) as client:
        yield client


@pytest.fixture
def api(server: ApiClient, clean_tables: None) -> ApiClient:
    return server


@pytest.fixture
def expiring_api(database_url: str, clean_tables: None) -> Iterator[ApiClient]:
    """An app whose access tokens live one second."""
    with live_app(settings_for_tests(database_url, access_token_seconds=1)) as client:
        yield client


@pytest.fixture
def limited_api(database_url: str, clean_tables: None) -> Iterator[ApiClient]:
    """An app that allows three login attempts a minute."""
    with live_app(settings_for_tests(database_url, login_rate_limit="3/minute")) as client:
        yield client


@pytest.fixture
def admin(api: ApiClient) -> Admin:
    return api.register_admin()


def _browser_user(uow_factory: Callable[[], SqlAlchemyUnitOfWork], email: str) -> str:
    """A person who signed in with Google; sign-in is the only way such users arrive."""
    user = User(email=Email(email), name="Wanjiku Kamau", role=Role.USER,
                created_at=datetime.now(UTC), identities=[Identity("google", uuid4().hex)])
    with uow_factory() as uow:
        uow.users.add(user)
        uow.commit()
    return str(user.id)


@pytest.fixture
def user(uow_factory: Callable[[], SqlAlchemyUnitOfWork]) -> str:
    return _browser_user(uow_factory, "wanjiku@example.com")


@pytest.fixture
def another_user(uow_factory: Callable[[], SqlAlchemyUnitOfWork]) -> str:
    return _browser_user(uow_factory, "otieno@example.com")


def _make_customer(api: ApiClient, admin: Admin, user_id: str, phone: str) -> dict[str, Any]:
    api.post("/api/auth/add-user-number/", token=admin.access_token,
             json={"user_id": user_id, "phone_number": phone}).raise_for_status()
    response = api.post("/api/auth/create-customer/", token=admin.access_token,
                        json={"user_id": user_id})
    assert response.status_code == 201, response.text
    return response.json()["customer"]  # type: ignore[no-any-return]


@pytest.fixture
def customer(api: ApiClient, admin: Admin, user: str) -> dict[str, Any]:
    return _make_customer(api, admin, user, "+254719485369")


@pytest.fixture
def another_customer(api: ApiClient, admin: Admin, another_user: str) -> dict[str, Any]:
    return _make_customer(api, admin, another_user, "+254700000001")


@pytest.fixture(scope="session")
def local_issuer() -> Iterator[str]:
    """The local OpenID Connect provider that browser sign-in tests sign in with."""
    with local_provider() as issuer:
        yield issuer
