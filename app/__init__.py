"""Customer order service. ``flask --app app`` finds :func:`create_app` here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from app.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web application; settings default to the environment (and ``.env``)."""
    from dotenv import load_dotenv

    from app.bootstrap import bootstrap
    from app.config import Settings
    from app.entrypoints.flask_app import build_app

    if settings is None:
        load_dotenv()
        settings = Settings.from_env()
    return build_app(bootstrap(settings))
