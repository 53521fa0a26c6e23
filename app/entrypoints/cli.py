"""Command-line commands: ``flask --app app <command>``."""

from __future__ import annotations

import click
from flask import Flask

from app.adapters.sqlalchemy.migrate import upgrade_database
from app.entrypoints.dependencies import services


def register_commands(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate() -> None:
        """Bring the database schema up to date (Alembic upgrade to head)."""
        url = services(app).settings.database_url
        upgrade_database(url)
        click.echo("database is up to date")
