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
