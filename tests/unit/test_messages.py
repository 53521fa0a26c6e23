from datetime import UTC, datetime

import pytest

from app.domain.orders import Order
from app.domain.users import Customer, Role, User
from app.domain.values import CustomerCode, Email, Money, PhoneNumber
from app.services import messages

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def an_order(item="Sack of maize", amount="420"):
    user = User(email=Email("wanjiku@example.com"), name="Wanjiku Kamau", role=Role.USER,
                phone_number=PhoneNumber("+254719485369"), created_at=AT)
    customer = Customer.enrol(user, code=CustomerCode("WANJ1234"), at=AT)
    return Order.place(customer, item=item, amount=Money.of(amount, "KES"), at=AT)


def test_the_order_sms_names_the_customer_item_amount_and_reference():
    order = an_order()

    text = messages.order_placed(order, customer_name="Wanjiku Kamau")

    assert text.startswith("Hi Wanjiku, we recorded order ")
    assert text.endswith(f"Reply YES {order.reference} when you receive it.")
    assert "Sack of maize" in text
    assert "KES 420.00" in text


@pytest.mark.parametrize("item", ["x" * 200, "Mchele wa Pishori, gunia la kilo hamsini " * 5])
def test_the_order_sms_fits_one_segment_whatever_the_item(item):
    order = an_order(item=item[:200], amount="9999999999.99")

    for text in (messages.order_placed(order, customer_name="Wanjiku Kamau"),
                 messages.order_confirmed(order, customer_name="Wanjiku Kamau")):
        assert len(text) <= messages.SEGMENT_LENGTH
        assert order.reference in text
    assert "Reply YES" in messages.order_placed(order, customer_name="Wanjiku Kamau")


def test_a_nameless_customer_is_greeted_politely():
    assert messages.order_placed(an_order(), customer_name=" ").startswith("Hi there,")


def test_a_shortened_item_keeps_the_sms_in_the_gsm_alphabet():
    text = messages.order_placed(an_order(item="x" * 200), customer_name="Wanjiku")

    assert text.isascii()
    assert "..." in text
