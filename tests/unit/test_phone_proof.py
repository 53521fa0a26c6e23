"""A number typed in the browser is texted nothing but a code until the code comes back."""

import re

import pytest

from app.domain.errors import (
    InvalidPhoneNumber,
    LimitReached,
    PhoneCodeRefused,
    PhoneNumberUnverified,
)
from app.domain.notifications import SmsKind
from app.domain.users import PhoneState, Role, User
from app.domain.values import Email, PhoneNumber, TextableNumbers
from app.services import customers, orders, users
from app.services.errors import PhoneNumberTaken
from app.services.limits import Limits
from app.services.users import PhoneCodes
from tests.unit.fakes import FakeClock, FakeUnitOfWork

NUMBER = "+254719485369"
OTHER_NUMBER = "+254722000000"
CODES = PhoneCodes(b"test key")


def a_person(uow, *, email="wanjiku@example.com", phone=None):
    user = User(email=Email(email), name="Wanjiku Kamau", role=Role.USER,
                phone_number=PhoneNumber(phone) if phone else None, created_at=FakeClock()())
    uow.users.add(user)
    return user


def ask_for_code(uow, user, number=NUMBER, *, clock, limits=None):
    return users.request_phone_code(user.id, number, uow=uow, clock=clock, codes=CODES,
                                    limits=limits or Limits())


def type_code(uow, user, code, *, clock):
    return users.confirm_phone_code(user.id, code, uow=uow, clock=clock, codes=CODES)


def code_texted_to(uow, number=NUMBER):
    """The code of the last code SMS to ``number``, read as the person reads it."""
    texts = [m.text for m in uow.outbox.rows.values()
             if m.recipient.e164 == number and m.kind is SmsKind.PHONE_CODE]
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


class TestAskingForACode:
    def test_a_typed_number_waits_unproven_and_gets_a_six_digit_code(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)

        state = ask_for_code(uow, user, "0719 485 369", clock=clock)

        assert state is PhoneState.CODE_SENT
        assert uow.users.get(user.id).phone_number is None
        assert uow.users.get(user.id).pending_phone.number == PhoneNumber(NUMBER)
        assert re.fullmatch(r"\d{6}", code_texted_to(uow))
        assert uow.committed

    def test_only_a_keyed_digest_of_the_code_is_kept(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)

        ask_for_code(uow, user, clock=clock)

        pending = uow.users.get(user.id).pending_phone
        assert code_texted_to(uow) not in pending.code_digest
        assert pending.code_digest == CODES.digest(user.id, PhoneNumber(NUMBER),
                                                   code_texted_to(uow))

    def test_codes_are_random(self):
        assert len({CODES.new() for _ in range(200)}) > 150

    def test_a_new_code_waits_for_the_cooldown(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)
        clock.advance(seconds=30)

        with pytest.raises(LimitReached) as refused:
            ask_for_code(uow, user, clock=clock)

        assert refused.value.retry_after == 31
        clock.advance(seconds=31)
        assert ask_for_code(uow, user, clock=clock) is PhoneState.CODE_SENT

    def test_a_number_gets_a_few_codes_a_day_whoever_asks(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(codes_per_number_per_day=2)
        for n in range(2):
            ask_for_code(uow, a_person(uow, email=f"p{n}@example.com"), clock=clock,
                         limits=limits)

        with pytest.raises(LimitReached) as refused:
            ask_for_code(uow, a_person(uow, email="third@example.com"), clock=clock,
                         limits=limits)

        assert refused.value.limit == "codes_per_number"
        assert refused.value.retry_after == 14 * 3600 + 30 * 60 + 1  # until 00:00 UTC
        assert len([m for m in uow.outbox.rows.values() if m.kind is SmsKind.PHONE_CODE]) == 2

    def test_a_person_gets_a_few_codes_a_day_whatever_the_number(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(codes_per_person_per_day=2)
        user = a_person(uow)
        for number in ("+254700000001", "+254700000002"):
            ask_for_code(uow, user, number, clock=clock, limits=limits)
            clock.advance(minutes=2)

        with pytest.raises(LimitReached) as refused:
            ask_for_code(uow, user, "+254700000003", clock=clock, limits=limits)

        assert refused.value.limit == "codes_per_person"
        assert uow.outbox.to("+254700000003") == []

    def test_the_daily_caps_start_again_the_next_day(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(codes_per_person_per_day=1)
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock, limits=limits)
        clock.advance(days=1)

        assert ask_for_code(uow, user, clock=clock, limits=limits) is PhoneState.CODE_SENT

    def test_a_code_is_not_sent_when_the_number_has_had_its_sms_for_the_day(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(sms_per_number_per_day=1)
        ask_for_code(uow, a_person(uow, email="a@example.com"), clock=clock, limits=limits)

        with pytest.raises(LimitReached):
            ask_for_code(uow, a_person(uow, email="b@example.com"), clock=clock, limits=limits)

        assert len(uow.outbox.to(NUMBER)) == 1

    def test_a_number_someone_else_has_proven_is_refused(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        a_person(uow, email="owner@example.com", phone=NUMBER)

        with pytest.raises(PhoneNumberTaken):
            ask_for_code(uow, a_person(uow), clock=clock)

    def test_an_unproven_number_blocks_nobody(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        ask_for_code(uow, a_person(uow, email="squatter@example.com"), clock=clock)
        owner = a_person(uow, email="owner@example.com")
        clock.advance(minutes=1)

        ask_for_code(uow, owner, clock=clock)
        type_code(uow, owner, code_texted_to(uow), clock=clock)

        assert uow.users.get(owner.id).phone_number == PhoneNumber(NUMBER)

    def test_their_own_proven_number_needs_no_new_code(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow, phone=NUMBER)

        assert ask_for_code(uow, user, clock=clock) is PhoneState.VERIFIED
        assert uow.outbox.to(NUMBER) == []

    @pytest.mark.parametrize(("number", "why"), [
        ("+19005550123", "premium-rate"),
        ("+449090901234", "premium-rate"),
        ("+254800123456", "Not a valid phone number"),
        ("+254201234567", "landline"),
        ("+14155552671", "United States"),
        ("+256712345678", "Uganda"),
        ("not a number", "Not a valid phone number"),
    ])
    def test_numbers_the_service_does_not_text_are_refused_saying_why(self, number, why):
        uow, clock = FakeUnitOfWork(), FakeClock()

        with pytest.raises(InvalidPhoneNumber) as refused:
            ask_for_code(uow, a_person(uow), number, clock=clock)

        assert why in refused.value.message
        assert "such as +254712123456" in refused.value.message
        assert uow.outbox.rows == {}

    def test_the_allowed_regions_are_a_setting(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(numbers=TextableNumbers(("KE", "UG")))

        ask_for_code(uow, a_person(uow), "+256712345678", clock=clock, limits=limits)

        assert len(uow.outbox.to("+256712345678")) == 1


class TestTypingTheCodeBack:
    def test_the_right_code_proves_the_number(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)

        view = type_code(uow, user, code_texted_to(uow), clock=clock)

        assert view.phone_number == NUMBER
        assert uow.users.get(user.id).pending_phone is None
        assert view.phone_state(clock()) is PhoneState.VERIFIED

    def test_a_code_with_spaces_is_read_as_digits(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)
        code = code_texted_to(uow)

        view = type_code(uow, user, f" {code[:3]} {code[3:]} ", clock=clock)

        assert view.phone_number == NUMBER

    def test_a_wrong_code_counts_and_says_how_many_tries_are_left(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)

        with pytest.raises(PhoneCodeRefused, match="4 tries left"):
            type_code(uow, user, wrong(code_texted_to(uow)), clock=clock)

        assert uow.users.get(user.id).pending_phone.wrong_tries == 1
        assert uow.committed

    def test_five_wrong_codes_use_the_code_up(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)
        code = code_texted_to(uow)
        for _ in range(5):
            with pytest.raises(PhoneCodeRefused):
                type_code(uow, user, wrong(code), clock=clock)

        with pytest.raises(PhoneCodeRefused, match="Too many wrong codes"):
            type_code(uow, user, code, clock=clock)

        assert uow.users.get(user.id).phone_number is None
        assert uow.users.get(user.id).phone_state(clock()) is PhoneState.UNVERIFIED

    def test_a_code_expires_after_ten_minutes(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)
        clock.advance(minutes=10)

        with pytest.raises(PhoneCodeRefused, match="expired"):
            type_code(uow, user, code_texted_to(uow), clock=clock)

        assert uow.users.get(user.id).phone_number is None

    def test_a_new_code_replaces_the_old_one_and_gives_fresh_tries(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)
        first = code_texted_to(uow)
        with pytest.raises(PhoneCodeRefused):
            type_code(uow, user, wrong(first), clock=clock)
        clock.advance(minutes=1)
        ask_for_code(uow, user, clock=clock)
        second = code_texted_to(uow)

        if first != second:
            with pytest.raises(PhoneCodeRefused):
                type_code(uow, user, first, clock=clock)
        view = type_code(uow, user, second, clock=clock)

        assert view.phone_number == NUMBER

    def test_a_code_without_one_sent_is_refused(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)

        with pytest.raises(PhoneCodeRefused, match="No code has been sent"):
            type_code(uow, user, "123456", clock=clock)

    @pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef"])
    def test_something_that_is_not_six_digits_uses_no_try(self, typed):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)

        with pytest.raises(PhoneCodeRefused, match="6 digits"):
            type_code(uow, user, typed, clock=clock)

        assert uow.users.get(user.id).pending_phone.wrong_tries == 0

    def test_changing_the_number_needs_a_new_proof_and_keeps_the_old_number_till_then(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow, phone=NUMBER)

        state = ask_for_code(uow, user, OTHER_NUMBER, clock=clock)

        stored = uow.users.get(user.id)
        assert state is PhoneState.CODE_SENT
        assert stored.phone_number == PhoneNumber(NUMBER)
        assert stored.pending_phone.number == PhoneNumber(OTHER_NUMBER)
        type_code(uow, user, code_texted_to(uow, OTHER_NUMBER), clock=clock)
        assert uow.users.get(user.id).phone_number == PhoneNumber(OTHER_NUMBER)


class TestWhatAnUnprovenNumberAllows:
    def test_an_unproven_number_does_not_make_a_customer(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)

        with pytest.raises(PhoneNumberUnverified):
            customers.create_customer(user.id, uow=uow, clock=clock)

        assert uow.customers.rows == {}

    def test_an_unproven_number_is_texted_nothing_but_codes(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)
        with pytest.raises(PhoneNumberUnverified):
            customers.create_customer(user.id, uow=uow, clock=clock)

        assert {m.kind for m in uow.outbox.rows.values()} == {SmsKind.PHONE_CODE}

    def test_a_proven_number_makes_a_customer_whose_orders_are_texted_to_it(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)
        type_code(uow, user, code_texted_to(uow), clock=clock)

        customer = customers.create_customer(user.id, uow=uow, clock=clock)
        orders.place_order(orders.PlaceOrder(customer_code=customer.code, item="Maize",
                                             amount="420", currency="KES", placed_by=user.id),
                           uow=uow, clock=clock)

        kinds = [m.kind for m in uow.outbox.rows.values() if m.recipient.e164 == NUMBER]
        assert kinds == [SmsKind.PHONE_CODE, SmsKind.ORDER_PLACED]

    def test_an_orders_sms_keeps_going_to_the_proven_number_while_a_new_one_waits(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow, phone=NUMBER)
        customer = customers.create_customer(user.id, uow=uow, clock=clock)
        ask_for_code(uow, user, OTHER_NUMBER, clock=clock)

        orders.place_order(orders.PlaceOrder(customer_code=customer.code, item="Maize",
                                             amount="420", currency="KES"),
                           uow=uow, clock=clock)

        assert [m.kind for m in uow.outbox.rows.values() if m.recipient.e164 == OTHER_NUMBER
                ] == [SmsKind.PHONE_CODE]
        assert len(uow.outbox.to(NUMBER)) == 1

    def test_an_administrators_number_counts_as_proven(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        user = a_person(uow)
        ask_for_code(uow, user, clock=clock)

        view = users.add_phone_number(user.id, NUMBER, uow=uow)

        assert view.phone_number == NUMBER
        assert uow.users.get(user.id).pending_phone is None
        assert customers.create_customer(user.id, uow=uow, clock=clock).code

    def test_an_administrator_cannot_give_a_number_the_service_does_not_text(self):
        uow = FakeUnitOfWork()
        user = a_person(uow)

        with pytest.raises(InvalidPhoneNumber, match="premium-rate"):
            users.add_phone_number(user.id, "+19005550123", uow=uow)
