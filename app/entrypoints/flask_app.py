"""The Flask application: configuration, extensions, blueprints and error shape."""

from __future__ import annotations

import logging
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
from app.entrypoints.api.openapi import ServiceMarshmallowPlugin
from app.entrypoints.api.parsing import UnreadableBody, read_body
from app.entrypoints.api.tokens import configure_jwt
from app.entrypoints.dependencies import EXTENSION_KEY
from app.entrypoints.metrics import install_metrics
from app.entrypoints.observability import configure_logging, install_request_logging
from app.entrypoints.security_headers import install_security_headers
from app.entrypoints.web import init_web

if TYPE_CHECKING:
    from app.bootstrap import Services
    from app.config import Settings

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

    def _register_pagination_header(self) -> None:
        """None: pages are in the body, so the document has no pagination header (and no
        PaginationMetadata schema that clients would turn into an unused model)."""


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
    # The token check and the use case of a request share one pooled connection.
    app.before_request(deps.begin_request)
    app.teardown_request(lambda _error: deps.end_request())
    configure_logging(settings)
    install_request_logging(app)
    install_security_headers(app, production=settings.is_production)
    if settings.metrics_enabled:
        install_metrics(app)
    configure_jwt(app)

    api = ServiceApi(app, spec_kwargs={"components": {"schemas": {}},
                                       "marshmallow_plugin": ServiceMarshmallowPlugin()})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for blueprint in (auth.blp, lookups.blp, orders.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(service.blp)
    app.register_blueprint(callbacks.blp)
    init_web(app)
    register_error_handlers(app)
    cli.register_commands(app)
    _limit_guessing(app, settings)
    return app


def _limit_guessing(app: Flask, settings: Settings) -> None:
    """Limit the two endpoints where secrets can be guessed: login and admin registration.

    The per-address limit is checked first, so attempts it refuses do not count towards the
    limit shared by all addresses: one address cannot use up an administrator's logins.
    """
    limiter = Limiter(get_remote_address, app=app, storage_uri=settings.ratelimit_storage_uri,
                      storage_options=_storage_options(settings.ratelimit_storage_uri),
                      default_limits=[], headers_enabled=True,
                      # Counted per process while Redis is away, rather than a 500 per login.
                      in_memory_fallback_enabled=True)
    # Flask-Limiter reports falling back (and recovering) on its own logger, which has no
    # handler; the app's logger writes to the process's log.
    limiter.logger = logging.getLogger("app.ratelimit")
    _wrap(app, "auth.Login",
          limiter.limit(settings.login_rate_limit, scope="login-address"),
          limiter.limit(settings.login_email_rate_limit, key_func=_login_email,
                        scope="login-email"))
    _wrap(app, "auth.AdminRegister",
          limiter.limit(settings.admin_register_rate_limit, scope="admin-register-address"),
          limiter.limit(settings.admin_register_global_rate_limit, key_func=lambda: "all",
                        scope="admin-register-all"))


def _wrap(app: Flask, endpoint: str, *decorators: Callable[[Any], Any]) -> None:
    """Decorate the endpoint's view; the first decorator runs first."""
    view: Callable[..., Any] = app.view_functions[endpoint]
    for decorator in reversed(decorators):
        view = decorator(view)
    app.view_functions[endpoint] = view


def _storage_options(storage_uri: str) -> dict[str, str | int]:
    """Seconds before an unreachable Redis counts as down, instead of the system's minutes."""
    if storage_uri.startswith(("redis://", "rediss://")):
        return {"socket_connect_timeout": 1, "socket_timeout": 1}
    return {}


def _login_email() -> str:
    try:
        body = read_body(request)
    except UnreadableBody:
        return "unreadable-body"
    email = body.get("email") if isinstance(body, dict) else None
    return str(email).strip().lower()[:254] if email else "no-email"
