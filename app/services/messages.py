"""The words of every SMS the service sends, in one place."""

from app.domain.orders import Order

SEGMENT_LENGTH = 160


def _first_name(name: str) -> str:
    return name.split()[0] if name.strip() else "there"


def _fit(template: str, item: str) -> str:
    """Fill ``{item}`` in, shortening the item so the text stays within one SMS segment."""
    room = SEGMENT_LENGTH - len(template.replace("{item}", ""))
    if len(item) > room:
        # Three dots, not an ellipsis character: that one is outside the GSM 7-bit alphabet
        # and would turn the whole SMS into 70-character UCS-2 segments.
        item = item[: max(room - 3, 1)].rstrip() + "..."
    return template.replace("{item}", item)


def order_placed(order: Order, *, customer_name: str) -> str:
    template = (
        f"Hi {_first_name(customer_name)}, your order {order.reference} for {{item}} "
        f"({order.amount}) has been recorded. Thank you!"
    )
    return _fit(template, order.item)


def order_confirmed(order: Order, *, customer_name: str) -> str:
    template = (
        f"Hi {_first_name(customer_name)}, thank you for confirming you received order "
        f"{order.reference} ({{item}})."
    )
    return _fit(template, order.item)
