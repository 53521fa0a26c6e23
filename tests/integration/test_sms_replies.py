"""Customers reply to the order SMS; Africa's Talking posts the replies to the service."""

from sqlalchemy import select

from app.adapters.sqlalchemy.tables import sms_outbox
from tests.integration.live_server import CALLBACK_TOKEN

INCOMING = f"/callbacks/africastalking/incoming-messages/{CALLBACK_TOKEN}"
WANJIKU = "+254719485369"


def place_order(api, admin, customer, item="Sack of maize"):
    response = api.post("/api/orders/create/", token=admin.access_token,
                        json={"customer_code": customer["code"], "item": item, "amount": "420"})
    return response.json()["order"]


def text_back(api, text, *, message_id="ATXid_in_1", sender=WANJIKU):
    # The fields Africa's Talking posts for an incoming message, form-encoded.
    return api.post(INCOMING, data={
        "from": sender, "to": "20880", "text": text, "date": "2026-03-01 09:30:00",
        "id": message_id, "linkId": "SampleLinkId123", "networkCode": "63902"})


def texts_queued_for(engine, number=WANJIKU):
    with engine.connect() as connection:
        return list(connection.scalars(
            select(sms_outbox.c.text).where(sms_outbox.c.recipient == number)
            .order_by(sms_outbox.c.created_at, sms_outbox.c.id)))


def order_of(api, admin, order):
    return api.get(f"/api/orders/{order['id']}/", token=admin.access_token).json()["order"]


def reference_of(order):
    return order["id"].replace("-", "")[:6].upper()


def test_replying_yes_confirms_the_order_and_thanks_the_customer(api, admin, customer, engine):
    order = place_order(api, admin, customer)

    response = text_back(api, f"Yes {reference_of(order).lower()}")

    assert response.status_code == 200
    assert response.json()["outcome"] == "confirmed"
    seen = order_of(api, admin, order)
    assert seen["status"] == "confirmed"
    assert seen["replies"][0]["text"] == f"Yes {reference_of(order).lower()}"
    assert seen["replies"][0]["outcome"] == "confirmed"
    assert seen["replies"][0]["sender"] == WANJIKU
    [announcement, thanks] = texts_queued_for(engine)
    assert f"Reply YES {reference_of(order)}" in announcement
    assert "thank you for confirming" in thanks


def test_a_duplicate_callback_changes_nothing(api, admin, customer, engine):
    order = place_order(api, admin, customer)
    text_back(api, "ndio", message_id="ATXid_dup")
    queued = texts_queued_for(engine)

    again = text_back(api, "ndio", message_id="ATXid_dup")

    assert again.status_code == 200
    assert texts_queued_for(engine) == queued
    assert len(order_of(api, admin, order)["replies"]) == 1


def test_a_reply_naming_no_order_among_several_asks_which(
        api, admin, customer, engine):
    first = place_order(api, admin, customer, item="Maize")
    second = place_order(api, admin, customer, item="Rice")

    response = text_back(api, "YES")

    assert response.json()["outcome"] == "which_order"
    question = texts_queued_for(engine)[-1]
    assert reference_of(first) in question and reference_of(second) in question
    assert order_of(api, admin, first)["status"] == "pending"


def test_status_is_answered_by_sms(api, admin, customer, engine):
    order = place_order(api, admin, customer)

    response = text_back(api, f"status {reference_of(order)}")

    assert response.json()["outcome"] == "status"
    assert "waiting for your confirmation" in texts_queued_for(engine)[-1]


def test_an_unknown_number_is_answered_and_nothing_changes(api, admin, customer, engine):
    order = place_order(api, admin, customer)

    response = text_back(api, f"YES {reference_of(order)}", sender="+254700999999")

    assert response.json()["outcome"] == "unknown_number"
    assert "not registered" in texts_queued_for(engine, "+254700999999")[0]
    assert order_of(api, admin, order)["status"] == "pending"


def test_the_callback_needs_the_secret_token(api):
    response = api.post("/callbacks/africastalking/incoming-messages/guess",
                        data={"from": WANJIKU, "text": "YES", "id": "x"})

    assert response.status_code == 404


def test_a_callback_with_text_no_database_can_hold_is_acknowledged_unused(api):
    for field in ["id", "from"]:
        fields = {"from": WANJIKU, "text": "YES", "id": "ATXid_nul"} | {field: "ATX\x00id"}

        response = api.post(INCOMING, data=fields)

        assert response.status_code == 200
        assert response.json()["outcome"].startswith("ignored")
    report = api.post(INCOMING.replace("incoming-messages", "delivery-reports"),
                      data={"id": "ATXid\x00", "status": "Success"})
    assert report.status_code == 200
