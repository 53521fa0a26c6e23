from datetime import UTC, datetime

import pytest

from app.domain.errors import InvalidItem, OrderAlreadyConfirmed, PhoneNumberRequired
from app.domain.events import OrderConfirmed, OrderPlaced
from app.domain.orders import Order, OrderStatus
from app.domain.users import Customer, Role, User
from app.domain.values import CustomerCode, Email, Money, PhoneNumber

MORNING = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EVENING = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def a_customer() -> Customer:
    user = User(email=Email("wanjiku@example.com"), name="Wanjiku Kamau", role=Role.USER,
                phone_number=PhoneNumber("+254719485369"), created_at=MORNING)
    return Customer.enrol(user, code=CustomerCode("WANJ1234"), at=MORNING)


def test_a_placed_order_is_pending_and_announced():
    order = Order.place(a_customer(), item="  Sack of maize ", amount=Money.of("420", "KES"),
                        at=MORNING)

    assert order.status is OrderStatus.PENDING
    assert order.item == "Sack of maize"
    assert order.customer_code == CustomerCode("WANJ1234")
    assert order.events == [OrderPlaced(order.id)]


def test_a_blank_item_is_refused():
    with pytest.raises(InvalidItem):
        Order.place(a_customer(), item="   ", amount=Money.of("1", "KES"), at=MORNING)


def test_an_item_longer_than_200_characters_is_refused():
    with pytest.raises(InvalidItem):
        Order.place(a_customer(), item="x" * 201, amount=Money.of("1", "KES"), at=MORNING)


def test_confirming_records_when_it_was_received():
    order = Order.place(a_customer(), item="Maize", amount=Money.of("1", "KES"), at=MORNING)

    order.confirm(at=EVENING)

    assert order.status is OrderStatus.CONFIRMED
    assert order.confirmed_at == EVENING
    assert order.events[-1] == OrderConfirmed(order.id)


def test_confirming_twice_is_refused():
    order = Order.place(a_customer(), item="Maize", amount=Money.of("1", "KES"), at=MORNING)
    order.confirm(at=EVENING)

    with pytest.raises(OrderAlreadyConfirmed):
        order.confirm(at=EVENING)

    assert order.confirmed_at == EVENING


def test_a_user_without_a_phone_number_cannot_become_a_customer():
    user = User(email=Email("otieno@example.com"), name="Otieno", role=Role.USER,
                created_at=MORNING)

    with pytest.raises(PhoneNumberRequired):
        Customer.enrol(user, code=CustomerCode("OTIE1234"), at=MORNING)


def test_the_order_reference_is_short_and_stable():
    order = Order.place(a_customer(), item="Maize", amount=Money.of("1", "KES"), at=MORNING)

    assert len(order.reference) == 6
    assert order.reference == order.id.hex[:6].upper()


@pytest.mark.parametrize(("item", "stored"), [
    ("Maize\x00", "Maize"),
    ("Maize\nRice", "Maize Rice"),
    ("Maize\ud800", "Maize"),
    ("\u202eMai\u200bze\x07", "Maize"),
    ("Sack  of\tmaize", "Sack of maize"),
], ids=ascii)
def test_an_item_with_control_characters_is_stored_cleaned(item, stored):
    order = Order.place(a_customer(), item=item, amount=Money.of("1", "KES"), at=MORNING)

    assert order.item == stored


def test_an_item_blank_once_cleaned_is_refused():
    with pytest.raises(InvalidItem, match="blank"):
        Order.place(a_customer(), item="\x00\u200b\n", amount=Money.of("1", "KES"),
                    at=MORNING)


def test_the_length_limit_applies_to_the_cleaned_item():
    order = Order.place(a_customer(), item="x" * 200 + "\u200b" * 5,
                        amount=Money.of("1", "KES"), at=MORNING)

    assert order.item == "x" * 200
