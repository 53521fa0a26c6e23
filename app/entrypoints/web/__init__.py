"""Pages for people in a browser, signed in with Google, GitHub, Facebook or an OIDC issuer."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from app.entrypoints.dependencies import services
from app.entrypoints.web.pages import blp

# A signed cookie cannot be revoked, so its signature stops being accepted after this long.
SESSION_LIFETIME = timedelta(hours=12)


def init_web(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=services(app).settings.is_production,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.register_blueprint(blp)
