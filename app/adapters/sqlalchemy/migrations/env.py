"""Alembic environment with no alembic.ini: ``migrate.alembic_config`` sets the URL in code."""

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

from app.adapters.sqlalchemy.database import CONNECT_TIMEOUT_SECONDS
from app.adapters.sqlalchemy.tables import metadata


def run_migrations_online() -> None:
    url = make_url(context.config.get_main_option("sqlalchemy.url") or "")
    connect_args = (
        {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if url.get_backend_name() == "postgresql"
        else {}
    )
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            # SQLite alters most things by copying the table: Alembic's batch mode does it.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported: give a database URL.")
run_migrations_online()
