"""JWTs for administrators: issuing them, refusing bad ones, and the admin-only guard."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, current_app, g
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_current_user,
    get_jwt,
    jwt_required,
)
from flask_jwt_extended.exceptions import JWTDecodeError

from app.domain.users import User
from app.entrypoints.api.errors import error_response
from app.entrypoints.dependencies import services
from app.services import auth
from app.services.auth import IssuedToken

# The OpenAPI security requirement of every admin operation.
ADMIN: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# What every token of ours carries. A token signed with our key but without them (made by
# hand, or by an older release) could never expire or be revoked, or pass for either type.
REQUIRED_CLAIMS = frozenset({"sub", "exp", "iat", "jti", "type"})
FAMILY_CLAIM = "fid"

P = ParamSpec("P")
R = TypeVar("R")


def configure_jwt(app: Flask) -> None:
    settings = services(app).settings
    app.config.update(
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=settings.access_token_seconds),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=settings.refresh_token_days),
    )
    jwt = JWTManager(app)

    def refuse(message: str, code: str) -> Response:
        response = error_response(401, message, code)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @jwt.unauthorized_loader
    def missing(reason: str) -> Response:
        return refuse("An access token is required: send 'Authorization: Bearer <token>'.",
                      "token_missing")

    @jwt.invalid_token_loader
    def invalid(reason: str) -> Response:
        return refuse(f"The token is not valid: {reason}.", "token_invalid")

    @jwt.expired_token_loader
    def expired(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return refuse("The token has expired.", "token_expired")

    @jwt.revoked_token_loader
    def revoked(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        if payload["type"] == "refresh":
            # Spent refresh tokens are revoked: one coming back was copied.
            auth.refresh_token_reused(issued(payload), uow=services().uow(),
                                      family_expires_at=family_expires_at())
        return refuse("The token has been revoked.", "token_revoked")

    @jwt.needs_fresh_token_loader
    def needs_fresh(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return refuse("A fresh token is required.", "token_invalid")

    @jwt.decode_key_loader
    def key_for(header: dict[str, Any], unverified: dict[str, Any]) -> str:
        # Asked before the signature is checked, on the claims as sent: once decoded,
        # flask-jwt-extended fills in a missing type ("access") and jti (None).
        missing = REQUIRED_CLAIMS - unverified.keys()
        if missing:
            raise JWTDecodeError(f"it lacks the claim {sorted(missing)[0]}")
        return settings.jwt_secret_key

    @jwt.token_in_blocklist_loader
    def is_revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
        return _check(payload).revoked

    @jwt.user_lookup_loader
    def holder(header: dict[str, Any], payload: dict[str, Any]) -> auth.TokenHolder | None:
        return _check(payload).holder

    @jwt.user_lookup_error_loader
    def no_holder(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return refuse("The token is not valid: its user does not exist.", "token_invalid")


def _check(payload: dict[str, Any]) -> auth.TokenCheck:
    """Revocation and holder, looked up once per token and request though asked twice."""
    checks: dict[str, auth.TokenCheck] = g.setdefault("token_checks", {})
    jti = payload["jti"]
    if jti not in checks:
        checks[jti] = auth.check_token(jti, payload["sub"], family=family_of(payload),
                                       uow=services().read_uow())
    return checks[jti]


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """Only a valid, unrevoked access token of a user who is an admin, now and when the token
    was issued (its role claim), gets through."""

    @wraps(view)
    @jwt_required()
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        holder: auth.TokenHolder = get_current_user()
        if get_jwt().get("role") != "admin" or not holder.is_admin:
            return error_response(403, "This needs an administrator's token.",  # type: ignore[return-value]
                                  "admin_required")
        return view(*args, **kwargs)

    return guarded


def issue_tokens(user: User, *, family: str | None = None) -> dict[str, Any]:
    """An access and a refresh token; a new sign-in starts a family, a refresh carries its
    family on."""
    claims = {"role": user.role.value, FAMILY_CLAIM: family or uuid.uuid4().hex}
    lifetime: timedelta = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "user_id": user.id,
        "email": user.email.value,
        "role": user.role.value,
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()),
    }


def issued(claims: dict[str, Any]) -> IssuedToken:
    """What revocation needs to know about a decoded token."""
    return IssuedToken(jti=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                       family=family_of(claims))


def family_of(claims: dict[str, Any]) -> str:
    """The token's family; a token from before families is a family of its own."""
    return str(claims.get(FAMILY_CLAIM) or claims["jti"])


def family_expires_at() -> datetime:
    """When the newest token a family may hold expires: a refresh now, at the latest."""
    lifetime: timedelta = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return datetime.now(UTC) + lifetime
