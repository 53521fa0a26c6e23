"""Errors a use case raises when a request cannot be carried out as asked."""

from app.domain.errors import DomainError


class UserNotFound(DomainError):
    def __init__(self) -> None:
        super().__init__("No user with that id.", field="user_id")


class CustomerNotFound(DomainError):
    def __init__(self) -> None:
        super().__init__("No customer with that code or id.", field="customer_code")


class OrderNotFound(DomainError):
    def __init__(self) -> None:
        super().__init__("No such order.", field="order_id")


class EmailTaken(DomainError):
    def __init__(self) -> None:
        super().__init__("A user with that email already exists.", field="email")


class PhoneNumberTaken(DomainError):
    def __init__(self) -> None:
        super().__init__("Another user already has that phone number.", field="phone_number")


class InvalidApiKey(DomainError):
    def __init__(self) -> None:
        super().__init__("The API key is not valid.", field="api_key")


class InvalidCredentials(DomainError):
    def __init__(self) -> None:
        super().__init__("The email or password is not correct.")


class TokenRevoked(DomainError):
    def __init__(self) -> None:
        super().__init__("The token has been revoked.")


class IdempotencyKeyReused(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request body.",
        )


class StorageUnavailable(Exception):
    """The database could not be reached; the request may be retried later."""


class UniqueViolation(Exception):
    """A concurrent write won the race for a unique value (``what`` names the value)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
