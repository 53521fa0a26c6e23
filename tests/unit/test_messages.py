from datetime import UTC, datetime
from uuid import uuid4

import pytest

from app.domain.orders import Order
from app.domain.sms_text import fits_one_segment, is_gsm7, ucs2_units
from app.domain.users import Customer, Role, User
from app.domain.values import CustomerCode, Email, Money, PhoneNumber
from app.services import messages

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def an_order(item="Sack of maize", amount="420"):
    user = User(email=Email("wanjiku@example.com"), name="Wanjiku Kamau", role=Role.USER,
                phone_number=PhoneNumber("+254719485369"), created_at=AT)
    customer = Customer.enrol(user, code=CustomerCode("WANJ1234"), at=AT)
    return Order.place(customer, item=item, amount=Money.of(amount, "KES"), at=AT)


def a_stored_order(item, *, confirmed_at=None):
    """An order as loaded from storage, whose item never went through ``Order.place``."""
    return Order(customer_id=uuid4(), customer_code=CustomerCode("WANJ1234"), item=item,
                 amount=Money.of("9999999999.99", "KES"), created_at=AT,
                 confirmed_at=confirmed_at)


def every_text_with_the_item(order):
    return [messages.order_placed(order, customer_name="Wanjiku Kamau"),
            messages.order_confirmed(order, customer_name="Wanjiku Kamau"),
            messages.reply_status(order),
            messages.reply_already_confirmed(order)]


def test_the_order_sms_names_the_customer_item_amount_and_reference():
    order = an_order()

    text = messages.order_placed(order, customer_name="Wanjiku Kamau")

    assert text.startswith("Hi Wanjiku, we recorded order ")
    assert text.endswith(f"Reply YES {order.reference} when you receive it.")
    assert "Sack of maize" in text
    assert "KES 420.00" in text


@pytest.mark.parametrize("item", [
    "x" * 200,
    "Mchele wa Pishori, gunia la kilo hamsini " * 5,
    "🌽" + "x" * 199,
    "x" * 199 + "🌽",
    "Mahindi 🌽 " * 20,
    "{[~]}" * 40,
    "中" * 200,
], ids=lambda item: ascii(item)[:20])
def test_the_order_sms_fits_one_segment_whatever_the_item(item):
    order = an_order(item=item[:200], amount="9999999999.99")

    for text in every_text_with_the_item(order):
        assert fits_one_segment(text), text
        assert order.reference in text
    assert messages.order_placed(order, customer_name="Wanjiku Kamau").endswith(
        f"Reply YES {order.reference} when you receive it.")


def test_a_200_character_item_with_an_emoji_still_leaves_the_order_sms_one_segment():
    order = an_order(item="Sack of maize 🌽 " + "x" * 183, amount="9999999999.99")

    text = messages.order_placed(order, customer_name="Wanjiku Kamau")

    assert fits_one_segment(text)
    assert text.endswith(f"Reply YES {order.reference} when you receive it.")
    # With the emoji the text would be UCS-2, too long for 70 units; shortened away, the
    # rest of the item gets 160.
    assert "Sack of maize..." in text
    assert is_gsm7(text)


def test_an_item_with_an_emoji_that_fits_keeps_it():
    order = an_order(item="Maize 🌽")

    text = messages.order_confirmed(order, customer_name="Ann")

    assert text.endswith("(Maize 🌽).")
    assert ucs2_units(text) <= 70


def test_a_nameless_customer_is_greeted_politely():
    assert messages.order_placed(an_order(), customer_name=" ").startswith("Hi there,")


def test_an_invisible_name_is_greeted_as_nameless():
    text = messages.order_placed(an_order(), customer_name="\u200b\u202e\x07")

    assert text.startswith("Hi there,")


def test_a_300_character_name_is_greeted_with_its_first_20():
    text = messages.order_confirmed(an_order(), customer_name="W" * 300)

    assert text.startswith("Hi " + "W" * 20 + ", thank you")
    assert fits_one_segment(text)


def test_the_greeting_is_put_in_the_gsm_alphabet():
    text = messages.order_placed(an_order(), customer_name="Wanjikũ Kamau")

    assert text.startswith("Hi Wanjiku,")
    assert is_gsm7(text)


def test_a_name_outside_the_gsm_alphabet_is_kept_while_the_sms_fits_one_segment():
    text = messages.order_confirmed(an_order(item="Rice"), customer_name="王 Wei")

    assert text.startswith("Hi 王, thank you")
    assert text.endswith("(Rice).")
    assert fits_one_segment(text)


def test_a_name_that_would_push_the_order_sms_past_one_segment_is_left_out():
    order = an_order(item="x" * 200, amount="9999999999.99")

    text = messages.order_placed(order, customer_name="🌽🌽🌽 Kamau")

    assert text.startswith("Hi there, we recorded order")
    assert fits_one_segment(text)
    assert text.endswith(f"Reply YES {order.reference} when you receive it.")


def test_a_name_cannot_stand_in_for_the_item():
    text = messages.order_placed(an_order(item="Maize"), customer_name="{item}")

    assert text.startswith("Hi {item}, we recorded order ")
    assert text.count("Maize") == 1


@pytest.mark.parametrize("hidden", ["\u202e", "\u200b", "\x07", "\x1b", "\x00", "\ufeff",
                                    "\u2066", "\ud800"], ids=ascii)
def test_no_hidden_character_of_a_stored_item_reaches_an_sms(hidden):
    order = a_stored_order(f"Sack{hidden} of maize", confirmed_at=LATER)

    for text in every_text_with_the_item(order):
        assert hidden not in text
        assert "Sack of maize" in text


def test_a_line_break_in_a_stored_item_becomes_a_space():
    order = a_stored_order("Sack of maize\nand\r\nrice")

    assert "Sack of maize and rice" in messages.order_placed(order, customer_name="Wanjiku")


def test_typographic_punctuation_in_an_item_is_sent_in_the_gsm_alphabet():
    order = an_order(item="“Pishori” rice \u2013 50 kg… for Zoë\u2019s shop, ç")

    text = messages.order_placed(order, customer_name="Wanjiku")

    assert "\"Pishori\" rice - 50 kg... for Zoe's shop, c" in text
    assert is_gsm7(text)


def test_a_shortened_item_keeps_the_sms_in_the_gsm_alphabet():
    text = messages.order_placed(an_order(item="x" * 200), customer_name="Wanjiku")

    assert text.isascii()
    assert "..." in text


def test_the_fixed_replies_are_one_gsm_segment():
    for text in (messages.reply_not_understood(), messages.reply_unknown_number(),
                 messages.reply_no_pending_order(), messages.HOW_TO_REPLY):
        assert is_gsm7(text)
        assert fits_one_segment(text)


def test_asking_which_order_lists_as_many_as_fit_one_segment():
    pending = [a_stored_order("Mahindi 🌽 " * 20) for _ in range(10)]

    text = messages.reply_which_order(pending)

    assert text.startswith("Which order did you receive? Reply YES and its ref: ")
    assert pending[0].reference in text
    assert fits_one_segment(text)


def test_an_unknown_reference_lists_what_is_waiting_within_one_segment():
    pending = [a_stored_order("x" * 200) for _ in range(10)]

    text = messages.reply_unknown_reference("ABC123", pending)

    assert text.startswith("We could not find order ABC123 for your number. Waiting: ")
    assert pending[0].reference in text
    assert fits_one_segment(text)


def test_a_listing_shows_items_cleaned():
    pending = [a_stored_order("Mai\u200bze\u202e")]

    assert messages.reply_which_order(pending).endswith(f"{pending[0].reference} (Maize)")
