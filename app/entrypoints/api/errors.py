"""Every error leaves the service in one shape: ``{"error", "code", "details"}``.

Domain errors map to HTTP here, in one table; views never catch them.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, jsonify
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from app.domain import errors as domain
from app.services import errors as services

log = logging.getLogger(__name__)

# Domain error → (HTTP status, machine code). Subclasses not listed fall back to their base.
# A request reaches a use case only once it matches the OpenAPI document (a mismatch is a
# 400 from the schemas), so a value a use case refuses is a 422: the document allowed it.
DOMAIN_ERRORS: dict[type[domain.DomainError], tuple[int, str]] = {
    domain.InvalidEmail: (422, "email_invalid"),
    domain.InvalidMoney: (422, "amount_invalid"),
    domain.InvalidItem: (422, "item_invalid"),
    domain.InvalidCustomerCode: (422, "customer_code_invalid"),
    services.InvalidCredentials: (401, "invalid_credentials"),
    services.TokenRevoked: (401, "token_revoked"),
    services.InvalidApiKey: (403, "invalid_api_key"),
    services.UserNotFound: (404, "user_not_found"),
    services.CustomerNotFound: (404, "customer_not_found"),
    services.OrderNotFound: (404, "order_not_found"),
    services.EmailTaken: (409, "email_taken"),
    services.PhoneNumberTaken: (409, "phone_number_taken"),
    domain.AlreadyCustomer: (409, "already_customer"),
    domain.OrderAlreadyConfirmed: (409, "order_already_confirmed"),
    services.IdempotencyKeyReused: (409, "idempotency_key_reused"),
    domain.PhoneNumberRequired: (422, "phone_number_required"),
    domain.PhoneNumberUnverified: (422, "phone_number_unverified"),
    domain.InvalidPhoneNumber: (422, "phone_number_invalid"),
    domain.LimitReached: (429, "daily_limit_reached"),
}


def errors_any_operation_may_answer(*, reads_body: bool, authenticated: bool,
                                    admin_only: bool) -> list[HTTPStatus]:
    """Error statuses documented once for every operation; a view documents its own (404,
    409, ...) and a 400 comes with each set of arguments."""
    statuses = [HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.SERVICE_UNAVAILABLE]
    if reads_body:
        statuses.append(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    if authenticated:
        statuses.append(HTTPStatus.UNAUTHORIZED)
    if admin_only:
        statuses.append(HTTPStatus.FORBIDDEN)
    return statuses


# Codes for errors raised by Flask, werkzeug and the extensions, by status.
HTTP_CODES = {
    400: "bad_request",
    401: "token_missing",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "Human readable message"})
    code = fields.String(required=True, metadata={"description": "Machine readable code"})
    details = fields.Dict(metadata={"description": "Per-field messages or extra facts"})


def error_response(status: int, message: str, code: str,
                   details: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"error": message, "code": code}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def http_exception_response(error: HTTPException) -> Response:
    """Shape Flask's, webargs' and the extensions' HTTP errors like every other error."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 400 and messages:
        code = data.get("error_code", "validation_error")
        message = "The request body is not valid JSON." if code == "invalid_json" \
            else "The request is not valid."
        response = error_response(400, message, code, _flatten(messages))
    else:
        message = error.description if isinstance(error.description, str) else str(error)
        if status == 429:
            message = f"Too many attempts; limit is {error.description}. Try again later."
        response = error_response(status, message, HTTP_CODES.get(status, "http_error"))
    for name, value in (error.get_headers() if status == 405 else []):
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(domain.DomainError)
    def domain_error(error: domain.DomainError) -> Response:
        status, code = _lookup(type(error))
        details: dict[str, Any] | None = None
        if isinstance(error, domain.AlreadyCustomer):
            details = {"customer_code": error.code}
        elif status in (400, 422) and error.field:
            details = {error.field: [error.message]}
        response = error_response(status, error.message, code, details)
        if isinstance(error, domain.LimitReached):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(services.StorageUnavailable)
    def storage_unavailable(error: services.StorageUnavailable) -> Response:
        log.warning("database unavailable: %s", error.__cause__ or error)
        response = error_response(
            503, "The service is temporarily unavailable; try again shortly.",
            "service_unavailable",
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return http_exception_response(error)
        log.exception("unhandled error (request id %s)", g.get("request_id"))
        return error_response(500, "Something went wrong on our side; it has been logged.",
                              "internal_error")


def _lookup(kind: type[domain.DomainError]) -> tuple[int, str]:
    for klass in kind.__mro__:
        if klass in DOMAIN_ERRORS:
            return DOMAIN_ERRORS[klass]
    return 400, "invalid_request"


def _flatten(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests field messages under the location ("json", "query"): lift them out."""
    flat: dict[str, Any] = {}
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            flat.update(location_messages)
        else:
            flat.setdefault("_body", []).extend(location_messages)
    return flat
