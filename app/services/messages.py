"""The words of every SMS the service sends, in one place.

Names and items are typed by people in a browser and go out under the business's sender id:
each is cleaned and put in the GSM alphabet (app.domain.sms_text) before it is used, and an
SMS about an order is kept to one segment by shortening its item, never the rest.
"""

from app.domain.orders import Order
from app.domain.sms_text import clean_text, first_name, fit_one_segment, fits_one_segment, to_gsm7

# Control characters: clean_text removes every one from names and items, so neither can
# carry a placeholder and have the other put in its place.
_NAME = "\x1e"
_ITEM = "\x1a"


def _with_item(template: str, order: Order) -> str:
    return fit_one_segment(template, clean_text(order.item), placeholder=_ITEM)


def _greeted(template: str, order: Order, customer_name: str) -> str:
    name = first_name(to_gsm7(clean_text(customer_name)))
    text = _with_item(template.replace(_NAME, name), order)
    if fits_one_segment(text):
        return text
    # A name outside the GSM alphabet (an emoji, Chinese) makes the whole SMS UCS-2, whose 70
    # units the rest of the text may not fit in: a plain greeting beats two segments.
    return _with_item(template.replace(_NAME, "there"), order)


def order_placed(order: Order, *, customer_name: str) -> str:
    template = (
        f"Hi {_NAME}, we recorded order {order.reference}: {_ITEM} "
        f"({order.amount}). Reply YES {order.reference} when you receive it."
    )
    return _greeted(template, order, customer_name)


def order_confirmed(order: Order, *, customer_name: str) -> str:
    template = (
        f"Hi {_NAME}, thank you for confirming you received order {order.reference} ({_ITEM})."
    )
    return _greeted(template, order, customer_name)


# Answers to customers' replies -------------------------------------------------------------

HOW_TO_REPLY = ("Reply YES and the order ref (e.g. YES AB12CD) when it arrives, "
                "or STATUS and the ref.")


def _listing(orders: list[Order], *, after: str) -> str:
    """``AB12CD (Maize), EF34GH (Rice)``, as many as keep ``after`` and it one segment."""
    parts: list[str] = []
    for order in orders:
        part = f"{order.reference} ({to_gsm7(clean_text(order.item))[:20].rstrip()})"
        if not fits_one_segment(after + ", ".join([*parts, part])):
            break
        parts.append(part)
    return ", ".join(parts) or ", ".join(order.reference for order in orders[:3])


def reply_not_understood() -> str:
    return f"Sorry, we did not understand your message. {HOW_TO_REPLY}"


def reply_unknown_number() -> str:
    return "Sorry, this phone number is not registered with us. Please contact the shop."


def reply_which_order(pending: list[Order]) -> str:
    intro = "Which order did you receive? Reply YES and its ref: "
    return intro + _listing(pending, after=intro)


def reply_no_pending_order() -> str:
    return "You have no orders waiting for confirmation. Thank you!"


def reply_unknown_reference(reference: str, pending: list[Order]) -> str:
    text = f"We could not find order {to_gsm7(clean_text(reference))} for your number."
    if pending:
        text += " Waiting: "
        text += _listing(pending, after=text)
    return text


def reply_already_confirmed(order: Order) -> str:
    when = order.confirmed_at.strftime("%d %b %Y") if order.confirmed_at else "earlier"
    return _with_item(f"Order {order.reference} ({_ITEM}) was already confirmed received on "
                      f"{when}. Thank you!", order)


def reply_status(order: Order) -> str:
    state = ("waiting for your confirmation: reply YES " + order.reference + " when it arrives"
             if order.confirmed_at is None
             else "received on " + order.confirmed_at.strftime("%d %b %Y"))
    return _with_item(f"Order {order.reference}: {_ITEM}, {order.amount}, {state}.", order)


def phone_code(code: str) -> str:
    return (f"{code} is your code to confirm this number for your orders. It expires in "
            "10 minutes. Never share it: we will never ask you for it.")
