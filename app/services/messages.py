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
        f"Hi {_first_name(customer_name)}, we recorded order {order.reference}: {{item}} "
        f"({order.amount}). Reply YES {order.reference} when you receive it."
    )
    return _fit(template, order.item)


def order_confirmed(order: Order, *, customer_name: str) -> str:
    template = (
        f"Hi {_first_name(customer_name)}, thank you for confirming you received order "
        f"{order.reference} ({{item}})."
    )
    return _fit(template, order.item)


# Answers to customers' replies -------------------------------------------------------------

HOW_TO_REPLY = ("Reply YES and the order ref (e.g. YES AB12CD) when it arrives, "
                "or STATUS and the ref.")


def _listing(orders: list[Order], room: int) -> str:
    """``AB12CD (Maize), EF34GH (Rice)``, as many as fit in ``room`` characters."""
    parts: list[str] = []
    for order in orders:
        part = f"{order.reference} ({order.item[:20]})"
        if len(", ".join([*parts, part])) > room:
            break
        parts.append(part)
    return ", ".join(parts) or ", ".join(order.reference for order in orders[:3])


def reply_not_understood() -> str:
    return f"Sorry, we did not understand your message. {HOW_TO_REPLY}"


def reply_unknown_number() -> str:
    return "Sorry, this phone number is not registered with us. Please contact the shop."


def reply_which_order(pending: list[Order]) -> str:
    intro = "Which order did you receive? Reply YES and its ref: "
    return intro + _listing(pending, SEGMENT_LENGTH - len(intro))


def reply_no_pending_order() -> str:
    return "You have no orders waiting for confirmation. Thank you!"


def reply_unknown_reference(reference: str, pending: list[Order]) -> str:
    text = f"We could not find order {reference} for your number."
    if pending:
        text += " Waiting: "
        text += _listing(pending, SEGMENT_LENGTH - len(text))
    return text


def reply_already_confirmed(order: Order) -> str:
    when = order.confirmed_at.strftime("%d %b %Y") if order.confirmed_at else "earlier"
    return _fit(f"Order {order.reference} ({{item}}) was already confirmed received on {when}. "
                "Thank you!", order.item)


def reply_status(order: Order) -> str:
    state = ("waiting for your confirmation: reply YES " + order.reference + " when it arrives"
             if order.confirmed_at is None
             else "received on " + order.confirmed_at.strftime("%d %b %Y"))
    return _fit(f"Order {order.reference}: {{item}}, {order.amount}, {state}.", order.item)
