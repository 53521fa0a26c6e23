"""Bringing a database's schema up to date with the Alembic migrations shipped in the app."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` that needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Options are interpolated: the % of a URL-encoded password must be escaped.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Apply every migration not yet applied; a fresh SQLite file gets its folder created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")
