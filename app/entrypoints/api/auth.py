"""Administrator registration, login, token refresh and logout; phone numbers; customers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import decode_token, get_jwt, jwt_required
from jwt import ExpiredSignatureError, InvalidTokenError

from app.entrypoints.api.errors import ErrorSchema as ErrorOut
from app.entrypoints.api.errors import error_response
from app.entrypoints.api.openapi import link, links
from app.entrypoints.api.parsing import Blueprint
from app.entrypoints.api.schemas import (
    AddUserNumberIn,
    CreateCustomerIn,
    CustomerEnvelope,
    LoginIn,
    LogoutIn,
    MessageOut,
    RegisterAdminIn,
    TokensOut,
    UserEnvelope,
)
from app.entrypoints.api.tokens import (
    ADMIN,
    admin_required,
    family_expires_at,
    family_of,
    issue_tokens,
    issued,
)
from app.entrypoints.dependencies import services
from app.services import auth, customers, users
from app.services.auth import IssuedToken

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Administrators and users")


def _while_registration_is_open(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse registration while it is closed: once the administrators exist, the API key
    is then not worth guessing."""

    @wraps(view)
    def registering(*args: Any, **kwargs: Any) -> Any:
        if not services().settings.admin_registration_open:
            return error_response(403, "Administrator registration is closed.",
                                  "registration_closed")
        return view(*args, **kwargs)

    return registering


@blp.route("/admin-register/")
class AdminRegister(MethodView):
    decorators = [_while_registration_is_open]

    @blp.arguments(RegisterAdminIn)
    @blp.response(201, TokensOut)
    @blp.alt_response(403, schema=ErrorOut,
                      description="Wrong API key (invalid_api_key), or registration is closed "
                                  "(registration_closed)")
    @blp.alt_response(409, schema=ErrorOut, description="Email or phone number taken")
    @blp.alt_response(422, schema=ErrorOut,
                      description="Not a number the service texts (phone_number_invalid), "
                                  "or an address it cannot keep (email_invalid)")
    @blp.alt_response(429, schema=ErrorOut, description="Too many attempts")
    @blp.doc(operationId="registerAdmin")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register an administrator with the service's API key"""
        deps = services()
        admin = auth.register_admin(
            auth.RegisterAdmin(**body), uow=deps.uow(), hasher=deps.hasher,
            admin_api_key=deps.settings.admin_api_key, clock=deps.clock, limits=deps.limits,
        )
        return issue_tokens(admin)


@blp.route("/login/")
class Login(MethodView):
    @blp.arguments(LoginIn)
    @blp.response(200, TokensOut)
    @blp.alt_response(401, schema=ErrorOut, description="Wrong email or password")
    @blp.alt_response(429, schema=ErrorOut, description="Too many attempts")
    @blp.doc(operationId="login")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Log an administrator in with email and password"""
        deps = services()
        admin = auth.authenticate_admin(
            body["email"], body["password"], uow=deps.read_uow(), hasher=deps.hasher,
            decoy_hash=deps.decoy_password_hash,
        )
        return issue_tokens(admin)


@blp.route("/refresh/")
class Refresh(MethodView):
    decorators = [jwt_required(refresh=True)]

    @blp.response(200, TokensOut)
    @blp.alt_response(401, schema=ErrorOut, description="Not a valid refresh token")
    @blp.doc(operationId="refreshTokens", security=ADMIN)
    def post(self) -> dict[str, Any]:
        """Trade a refresh token for new tokens; the old refresh token stops working"""
        claims = get_jwt()
        admin = auth.rotate_refresh_token(UUID(claims["sub"]), issued(claims),
                                          uow=services().uow(),
                                          family_expires_at=family_expires_at())
        return issue_tokens(admin, family=family_of(claims))


@blp.route("/logout/")
class Logout(MethodView):
    decorators = [jwt_required(verify_type=False)]

    @blp.arguments(LogoutIn, required=False)
    @blp.response(200, MessageOut)
    @blp.alt_response(422, schema=ErrorOut,
                      description="The refresh token in the body is not one of yours")
    @blp.doc(operationId="logout", security=ADMIN)
    def post(self, body: dict[str, Any]) -> dict[str, str] | Response:
        """Revoke the presented token and its session, and the refresh token in the body"""
        claims = get_jwt()
        also = _refresh_token_of(claims["sub"], body["refresh_token"])
        if also is None:
            message = "Not one of your refresh tokens."
            return error_response(422, message, "refresh_token_invalid",
                                  {"refresh_token": [message]})
        auth.revoke_tokens([issued(claims), *also], uow=services().uow(),
                           family_expires_at=family_expires_at())
        return {"message": "Logged out."}


@blp.route("/add-user-number/")
class AddUserNumber(MethodView):
    decorators = [admin_required]

    @blp.arguments(AddUserNumberIn)
    @blp.response(200, UserEnvelope)
    @blp.alt_response(404, schema=ErrorOut, description="No such user")
    @blp.alt_response(409, schema=ErrorOut, description="Another user has that number")
    @blp.alt_response(422, schema=ErrorOut, description="Not a number the service texts")
    @blp.doc(operationId="addUserNumber", security=ADMIN, **links(
        200, createCustomer=link("createCustomer", "Make the user a customer",
                                 body={"user_id": "$response.body#/user/id"})))
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Give a user a phone number (stored in E.164), vouched for by the administrator"""
        deps = services()
        user = users.add_phone_number(body["user_id"], body["phone_number"], uow=deps.uow(),
                                      limits=deps.limits)
        return {"user": user}


@blp.route("/create-customer/")
class CreateCustomer(MethodView):
    decorators = [admin_required]

    @blp.arguments(CreateCustomerIn)
    @blp.response(201, CustomerEnvelope)
    @blp.alt_response(404, schema=ErrorOut, description="No such user")
    @blp.alt_response(409, schema=ErrorOut, description="Already a customer")
    @blp.alt_response(422, schema=ErrorOut,
                      description="The user has no phone number, or has not proven it")
    @blp.doc(operationId="createCustomer", security=ADMIN, **links(
        201,
        createOrder=link("createOrder", "Record an order for the customer",
                         body={"customer_code": "$response.body#/customer/code"}),
        listCustomerOrders=link("listCustomerOrders", "The customer's orders",
                                body={"customer_code": "$response.body#/customer/code"}),
        getCustomerOrders=link("getCustomerOrders", "The customer's orders",
                               parameters={"customer_id": "$response.body#/customer/id"}),
    ))
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Turn a user into a customer with an 8-character code"""
        deps = services()
        customer = customers.create_customer(body["user_id"], uow=deps.uow(), clock=deps.clock)
        return {"customer": customer}


def _refresh_token_of(subject: str, token: str | None) -> list[IssuedToken] | None:
    """The body's refresh token, when it is one of this admin's and still worth revoking;
    None when it is not one of theirs."""
    if not token:
        return []
    try:
        claims = decode_token(token)
    except ExpiredSignatureError:
        return []  # already useless
    except InvalidTokenError:
        claims = {}
    if claims.get("type") != "refresh" or claims.get("sub") != subject:
        return None
    return [issued(claims)]
