"""Errors raised when a business rule is broken. Messages are safe to show to a user."""


class DomainError(Exception):
    """Base of every rule violation; entrypoints map each subclass to one HTTP answer."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidEmail(DomainError):
    def __init__(self, message: str = "Not a valid email address.") -> None:
        super().__init__(message, field="email")


class InvalidPhoneNumber(DomainError):
    def __init__(self, message: str = "Not a valid phone number.") -> None:
        super().__init__(message, field="phone_number")


class InvalidMoney(DomainError):
    def __init__(self, message: str, *, field: str = "amount") -> None:
        super().__init__(message, field=field)


class InvalidItem(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="item")


class InvalidCustomerCode(DomainError):
    def __init__(self, message: str = "A customer code is 8 characters A-Z and 0-9.") -> None:
        super().__init__(message, field="customer_code")


class PhoneNumberRequired(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "The user needs a phone number before becoming a customer: orders are announced by SMS."
        )


class AlreadyCustomer(DomainError):
    def __init__(self, code: str) -> None:
        super().__init__(f"The user is already customer {code}.")
        self.code = code


class OrderAlreadyConfirmed(DomainError):
    def __init__(self) -> None:
        super().__init__("The order has already been confirmed as received.")


class PhoneNumberUnverified(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "The phone number has not been confirmed yet: type the code we texted to it.",
            field="phone_number")


class PhoneCodeRefused(DomainError):
    """A code typed back does not prove the number: wrong, expired, used up or never sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="code")


class LimitReached(DomainError):
    """Too much of something in a window of time; ``retry_after`` seconds until there is room.

    ``limit`` names the limit, for the service's metrics.
    """

    def __init__(self, message: str, *, limit: str, retry_after: int,
                 field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.limit = limit
        self.retry_after = max(1, retry_after)
