"""Nobody can make the service text a number, or place orders, past the limits a day allows."""

from datetime import UTC, datetime

import pytest

from app.domain.errors import LimitReached
from app.domain.notifications import SmsStatus
from app.domain.replies import ReplyOutcome
from app.domain.users import Role, User
from app.domain.values import Email, PhoneNumber
from app.services import customers, orders, replies
from app.services.limits import Limits
from tests.unit.fakes import FakeClock, FakeUnitOfWork

NUMBER = "+254719485369"
STRANGER = "+254733000111"


def a_customer(uow, clock, *, phone=NUMBER):
    user = User(email=Email("wanjiku@example.com"), name="Wanjiku Kamau", role=Role.USER,
                phone_number=PhoneNumber(phone), created_at=clock())
    uow.users.add(user)
    return user, customers.create_customer(user.id, uow=uow, clock=clock)


def place(uow, customer, clock, limits, *, placed_by=None, item="Maize", key=None):
    cmd = orders.PlaceOrder(customer_code=customer.code, item=item, amount="420",
                            currency="KES", placed_by=placed_by, idempotency_key=key)
    return orders.place_order(cmd, uow=uow, clock=clock, limits=limits)


def text_in(uow, clock, text, *, sender, message_id, limits=None):
    incoming = replies.IncomingText(provider_message_id=message_id, sender=sender, text=text)
    return replies.handle_incoming_sms(incoming, uow=uow, clock=clock,
                                       limits=limits or Limits())


class TestOrdersAPersonPlaces:
    def test_a_person_places_as_many_orders_a_day_as_allowed_then_is_told_when_to_return(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(orders_per_person_per_day=3)
        user, customer = a_customer(uow, clock)
        for _ in range(3):
            place(uow, customer, clock, limits, placed_by=user.id)

        with pytest.raises(LimitReached) as refused:
            place(uow, customer, clock, limits, placed_by=user.id)

        assert refused.value.limit == "orders_per_person"
        assert refused.value.retry_after == 14 * 3600 + 30 * 60 + 1
        assert len(uow.orders.rows) == 3

    def test_the_next_day_brings_new_orders(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(orders_per_person_per_day=1)
        user, customer = a_customer(uow, clock)
        place(uow, customer, clock, limits, placed_by=user.id)
        clock.advance(days=1)

        place(uow, customer, clock, limits, placed_by=user.id)

        assert len(uow.orders.rows) == 2

    def test_a_second_click_with_the_same_key_uses_no_more_of_the_day(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(orders_per_person_per_day=1)
        user, customer = a_customer(uow, clock)
        first = place(uow, customer, clock, limits, placed_by=user.id, key="click")

        again = place(uow, customer, clock, limits, placed_by=user.id, key="click")

        assert again.order.id == first.order.id

    def test_orders_an_administrator_records_are_not_limited_per_person(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(orders_per_person_per_day=1, sms_per_number_per_day=100)
        _, customer = a_customer(uow, clock)

        for _ in range(3):
            place(uow, customer, clock, limits)

        assert len(uow.orders.rows) == 3

    def test_a_person_cannot_place_orders_for_someone_elses_code(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        _, customer = a_customer(uow, clock)
        intruder = User(email=Email("x@example.com"), name="X", role=Role.USER,
                        created_at=clock())
        uow.users.add(intruder)

        with pytest.raises(Exception, match="No customer"):
            place(uow, customer, clock, Limits(), placed_by=intruder.id)


class TestSmsToOneNumber:
    def test_sms_past_the_days_cap_are_held_back_to_the_next_day_and_say_so(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(sms_per_number_per_day=2)
        _, customer = a_customer(uow, clock)

        placed = [place(uow, customer, clock, limits) for _ in range(3)]

        held = placed[2].notification
        assert [p.notification.next_attempt_at for p in placed[:2]] == [clock(), clock()]
        assert held.status is SmsStatus.QUEUED
        assert held.next_attempt_at == datetime(2026, 3, 2, tzinfo=UTC)
        assert "Held back" in held.last_error
        due = {m.id for m in uow.outbox.due(clock())}
        assert due == {p.notification.id for p in placed[:2]}

    def test_held_back_sms_fill_the_following_days_within_the_cap(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(sms_per_number_per_day=2)
        _, customer = a_customer(uow, clock)

        placed = [place(uow, customer, clock, limits) for _ in range(6)]

        days = [p.notification.next_attempt_at.date().day for p in placed]
        assert days == [1, 1, 2, 2, 3, 3]

    def test_nothing_is_dropped_every_order_keeps_its_sms(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(sms_per_number_per_day=1)
        _, customer = a_customer(uow, clock)

        for _ in range(4):
            place(uow, customer, clock, limits)

        assert len(uow.outbox.to(NUMBER)) == 4


class TestAnswersToTexts:
    def test_a_stranger_gets_one_answer_an_hour(self):
        uow, clock = FakeUnitOfWork(), FakeClock()

        outcomes = [text_in(uow, clock, "hello", sender=STRANGER, message_id=f"m{n}")
                    for n in range(3)]
        clock.advance(hours=1)
        text_in(uow, clock, "hello", sender=STRANGER, message_id="later")

        assert outcomes == [ReplyOutcome.UNKNOWN_NUMBER] * 3
        assert len(uow.outbox.to(STRANGER)) == 2
        assert len(uow.incoming_messages.rows) == 4

    @pytest.mark.parametrize("sender", ["20880", "MPESA", "+19005550123", "+254201234567"])
    def test_short_codes_sender_names_and_numbers_we_do_not_text_get_no_answer(self, sender):
        uow, clock = FakeUnitOfWork(), FakeClock()

        text_in(uow, clock, "hello", sender=sender, message_id="m1")

        assert uow.outbox.rows == {}
        assert len(uow.incoming_messages.rows) == 1

    def test_a_customer_gets_an_answer_to_every_text(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        a_customer(uow, clock)

        for n in range(3):
            text_in(uow, clock, "what?", sender=NUMBER, message_id=f"m{n}")

        assert len(uow.outbox.to(NUMBER)) == 3

    def test_answers_count_towards_the_numbers_daily_cap(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(sms_per_number_per_day=2)
        a_customer(uow, clock)

        for n in range(3):
            text_in(uow, clock, "what?", sender=NUMBER, message_id=f"m{n}", limits=limits)

        due_today = uow.outbox.due(clock())
        assert len(due_today) == 2
        assert len(uow.outbox.to(NUMBER)) == 3


def test_every_refusal_and_hold_is_told_to_the_listeners():
    uow, clock = FakeUnitOfWork(), FakeClock()
    heard = []
    limits = Limits(sms_per_number_per_day=1, orders_per_person_per_day=2,
                    listeners=[heard.append])
    user, customer = a_customer(uow, clock)
    place(uow, customer, clock, limits, placed_by=user.id)
    place(uow, customer, clock, limits, placed_by=user.id)
    with pytest.raises(LimitReached):
        place(uow, customer, clock, limits, placed_by=user.id)
    text_in(uow, clock, "hi", sender=STRANGER, message_id="a", limits=limits)
    text_in(uow, clock, "hi", sender=STRANGER, message_id="b", limits=limits)

    assert heard == ["sms_per_number", "orders_per_person", "answers_per_stranger"]
