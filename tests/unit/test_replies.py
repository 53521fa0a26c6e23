from app.domain.orders import OrderStatus
from app.domain.replies import ReplyOutcome
from app.services import orders, replies
from tests.unit.fakes import FakeClock, FakeUnitOfWork
from tests.unit.test_use_cases import a_customer, a_user, place

WANJIKU = "+254719485369"


def reply(uow, text, *, sender=WANJIKU, message_id="ATXid_in_1", clock=None):
    incoming = replies.IncomingText(provider_message_id=message_id, sender=sender, text=text)
    return replies.handle_incoming_sms(incoming, uow=uow, clock=clock or FakeClock())


def last_sms_to(uow, number=WANJIKU):
    return uow.outbox.to(number)[-1]


class TestConfirmingByReply:
    def test_yes_and_the_reference_confirms_the_order(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        order = place(uow, customer.code).order

        outcome = reply(uow, f"yes {order.reference.lower()}")

        assert outcome is ReplyOutcome.CONFIRMED
        assert uow.orders.get(order.id).status is OrderStatus.CONFIRMED
        assert "thank you for confirming" in last_sms_to(uow)

    def test_yes_alone_confirms_the_only_pending_order(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        order = place(uow, customer.code).order

        assert reply(uow, "Ndio") is ReplyOutcome.CONFIRMED
        assert uow.orders.get(order.id).status is OrderStatus.CONFIRMED

    def test_a_second_confirmation_says_it_was_already_done(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        order = place(uow, customer.code).order
        reply(uow, f"YES {order.reference}", message_id="m1")

        outcome = reply(uow, f"YES {order.reference}", message_id="m2")

        assert outcome is ReplyOutcome.ALREADY_CONFIRMED
        assert "already confirmed" in last_sms_to(uow)

    def test_the_same_message_delivered_twice_is_handled_once(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        order = place(uow, customer.code).order
        reply(uow, f"YES {order.reference}")
        texts_before = len(uow.outbox.to(WANJIKU))

        outcome = reply(uow, f"YES {order.reference}")

        assert outcome is ReplyOutcome.CONFIRMED
        assert len(uow.outbox.to(WANJIKU)) == texts_before

    def test_several_pending_orders_need_a_reference(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        customer = a_customer(uow)
        first = place(uow, customer.code, item="Maize", clock=clock).order
        clock.advance(minutes=1)
        second = place(uow, customer.code, item="Rice", clock=clock).order

        outcome = reply(uow, "yes")

        assert outcome is ReplyOutcome.WHICH_ORDER
        answer = last_sms_to(uow)
        assert first.reference in answer and second.reference in answer
        assert uow.orders.get(first.id).status is OrderStatus.PENDING

    def test_an_unknown_reference_lists_the_pending_ones(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        order = place(uow, customer.code).order

        outcome = reply(uow, "YES 000000")

        assert outcome is ReplyOutcome.UNKNOWN_REFERENCE
        assert "000000" in last_sms_to(uow) and order.reference in last_sms_to(uow)

    def test_another_customers_order_cannot_be_confirmed(self):
        uow = FakeUnitOfWork()
        owner = a_customer(uow, email="one@example.com", phone="+254700000001")
        a_customer(uow, email="two@example.com", phone=WANJIKU)
        order = place(uow, owner.code).order

        outcome = reply(uow, f"YES {order.reference}", sender=WANJIKU)

        assert outcome is ReplyOutcome.UNKNOWN_REFERENCE
        assert uow.orders.get(order.id).status is OrderStatus.PENDING

    def test_nothing_pending_is_said_so(self):
        uow = FakeUnitOfWork()
        a_customer(uow)

        assert reply(uow, "sawa") is ReplyOutcome.NO_PENDING_ORDER


class TestOtherReplies:
    def test_status_tells_where_the_order_stands(self):
        uow = FakeUnitOfWork()
        customer = a_customer(uow)
        order = place(uow, customer.code).order

        outcome = reply(uow, f"status {order.reference}")

        assert outcome is ReplyOutcome.STATUS
        assert "waiting for your confirmation" in last_sms_to(uow)
        assert uow.incoming_messages.for_order(order.id)[0].outcome is ReplyOutcome.STATUS

    def test_an_unknown_number_is_told_so(self):
        uow = FakeUnitOfWork()

        outcome = reply(uow, "YES ABC123", sender="+254700999999")

        assert outcome is ReplyOutcome.UNKNOWN_NUMBER
        assert "not registered" in last_sms_to(uow, "+254700999999")

    def test_a_user_who_is_not_a_customer_is_an_unknown_number(self):
        uow = FakeUnitOfWork()
        a_user(uow)

        assert reply(uow, "YES") is ReplyOutcome.UNKNOWN_NUMBER

    def test_anything_else_gets_a_one_line_help(self):
        uow = FakeUnitOfWork()
        a_customer(uow)

        outcome = reply(uow, "Asante sana!")

        assert outcome is ReplyOutcome.NOT_UNDERSTOOD
        assert "Reply YES" in last_sms_to(uow)
        assert len(last_sms_to(uow)) <= 160

    def test_every_message_is_kept_with_its_outcome(self):
        uow = FakeUnitOfWork()
        a_customer(uow)

        reply(uow, "hello", message_id="m1")

        stored = uow.incoming_messages.get_by_provider_id("m1")
        assert stored.text == "hello" and stored.sender == WANJIKU
        assert stored.outcome is ReplyOutcome.NOT_UNDERSTOOD


def test_a_reply_confirms_through_the_same_rule_as_the_admin():
    uow = FakeUnitOfWork()
    customer = a_customer(uow)
    order = place(uow, customer.code).order
    orders.confirm_order(customer.code, str(order.id), uow=uow, clock=FakeClock())

    assert reply(uow, f"YES {order.reference}") is ReplyOutcome.ALREADY_CONFIRMED
