"""The Flask application: configuration, extensions, blueprints and error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app.entrypoints import callbacks, cli, service
from app.entrypoints.api import auth, lookups, orders
from app.entrypoints.api.errors import (
    ErrorSchema,
    http_exception_response,
    register_error_handlers,
)
from app.entrypoints.api.parsing import UnreadableBody, read_body
from app.entrypoints.api.tokens import configure_jwt
from app.entrypoints.dependencies import EXTENSION_KEY
from app.entrypoints.metrics import install_metrics
from app.entrypoints.observability import configure_logging, install_request_logging
from app.entrypoints.security_headers import install_security_headers
from app.entrypoints.web import init_web

if TYPE_CHECKING:
    from app.bootstrap import Services

MAX_BODY_BYTES = 64 * 1024


class ServiceApi(Api):
    """flask-smorest's Api, answering HTTP errors in the service's one error shape."""

    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: each operation lists the statuses it may answer
    # (api.parsing.Blueprint adds those common to all), so a client and a test can tell an
    # undocumented status.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_response(error)


def build_app(deps: Services) -> Flask:
    settings = deps.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="Customer order service",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's field order
    if settings.trust_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = deps
    configure_logging(settings)
    install_request_logging(app)
    install_security_headers(app, production=settings.is_production)
    if settings.metrics_enabled:
        install_metrics(app)
    configure_jwt(app)

    api = ServiceApi(app, spec_kwargs={"components": {"schemas": {}}})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for blueprint in (auth.blp, lookups.blp, orders.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(service.blp)
    app.register_blueprint(callbacks.blp)
    init_web(app)
    register_error_handlers(app)
    cli.register_commands(app)
    _limit_logins(app, settings.login_rate_limit, settings.ratelimit_storage_uri)
    return app


def _limit_logins(app: Flask, rate: str, storage_uri: str) -> None:
    """Login attempts are limited per client address and, separately, per email."""
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage_uri,
                      default_limits=[], headers_enabled=True)
    endpoint = "auth.Login"
    view: Callable[..., Any] = app.view_functions[endpoint]
    per_email = limiter.limit(rate, key_func=_login_email, scope="login-email")
    per_address = limiter.limit(rate, scope="login-address")
    app.view_functions[endpoint] = per_address(per_email(view))


def _login_email() -> str:
    try:
        body = read_body(request)
    except UnreadableBody:
        return "unreadable-body"
    email = body.get("email") if isinstance(body, dict) else None
    return str(email).strip().lower()[:254] if email else "no-email"
