"""Africa's Talking callbacks that no table can hold, and callbacks from unexpected places.

Every callback that reaches the service with the right token is answered 200 (the gateway
retries anything else for minutes); what no column can hold is acknowledged and dropped.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import create_app
from app.adapters.sqlalchemy.tables import incoming_sms, sms_outbox
from app.config import ConfigurationError
from tests.integration.live_server import CALLBACK_TOKEN, live_app, settings_for_tests

INCOMING = f"/callbacks/africastalking/incoming-messages/{CALLBACK_TOKEN}"
REPORTS = f"/callbacks/africastalking/delivery-reports/{CALLBACK_TOKEN}"
WANJIKU = "+254719485369"


def incoming(message_id="ATXid_in_1", sender=WANJIKU, text="YES"):
    return {"from": sender, "to": "20880", "text": text, "date": "2026-03-01 09:30:00",
            "id": message_id, "linkId": "SampleLinkId123", "networkCode": "63902"}


def stored_replies(engine):
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(incoming_sms))


def queued_texts(engine):
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(sms_outbox))


class TestWhatNoColumnCanHold:
    def test_an_incoming_message_with_an_over_long_id_is_acknowledged_and_dropped(
            self, api, customer, engine):
        response = api.post(INCOMING, data=incoming(message_id="ATXid_" + "7" * 200))

        assert response.status_code == 200
        assert response.json()["outcome"].startswith("ignored")
        assert stored_replies(engine) == 0

    def test_an_id_as_long_as_the_column_is_still_read(self, api, customer, engine):
        response = api.post(INCOMING, data=incoming(message_id="A" * 100, text="HELP"))

        assert response.status_code == 200
        assert response.json()["outcome"] == "not_understood"
        assert stored_replies(engine) == 1

    def test_a_sender_longer_than_any_phone_number_is_not_a_number_we_know(
            self, api, customer, engine):
        response = api.post(INCOMING, data=incoming(sender="+254" + "7" * 60))

        assert response.status_code == 200
        assert response.json()["outcome"].startswith("ignored")
        assert "number" in response.json()["outcome"]
        assert stored_replies(engine) == 0
        assert queued_texts(engine) == 0  # nobody is answered

    def test_a_long_text_from_a_customer_is_read(self, api, customer, engine):
        response = api.post(INCOMING, data=incoming(text="Habari " * 500))

        assert response.status_code == 200
        assert response.json()["outcome"] == "not_understood"

    def test_a_delivery_report_with_an_over_long_id_is_acknowledged_and_dropped(self, api):
        response = api.post(REPORTS, data={"id": "ATXid_" + "7" * 200, "status": "Failed",
                                           "failureReason": "x" * 5000,
                                           "phoneNumber": "+254" + "7" * 60})

        assert response.status_code == 200
        assert response.json()["outcome"].startswith("ignored")


class TestAllowedNetworks:
    def test_a_callback_from_outside_the_allowed_networks_is_not_found(
            self, database_url, clean_tables):
        settings = settings_for_tests(database_url, at_callback_allowed_networks="192.0.2.0/24")

        with live_app(settings) as client:
            response = client.post(INCOMING, data=incoming())

        assert response.status_code == 404

    def test_a_callback_from_an_allowed_network_is_read(self, database_url, clean_tables):
        settings = settings_for_tests(
            database_url, at_callback_allowed_networks="192.0.2.0/24, 127.0.0.0/8,2001:db8::/32")

        with live_app(settings) as client:
            response = client.post(INCOMING, data=incoming())

        assert response.status_code == 200
        assert response.json()["status"] == "ok"

    def test_behind_the_proxy_the_forwarded_client_address_is_the_one_checked(
            self, database_url, clean_tables):
        settings = settings_for_tests(database_url, trust_proxy=True,
                                      at_callback_allowed_networks="198.51.100.0/24")

        with live_app(settings) as client:
            from_africas_talking = client.post(
                INCOMING, data=incoming(), headers={"X-Forwarded-For": "198.51.100.7"})
            from_elsewhere = client.post(
                INCOMING, data=incoming(message_id="ATXid_in_2"),
                headers={"X-Forwarded-For": "203.0.113.9"})

        assert from_africas_talking.status_code == 200
        assert from_elsewhere.status_code == 404

    def test_a_wrong_token_from_an_allowed_network_is_still_not_found(
            self, database_url, clean_tables):
        settings = settings_for_tests(database_url, at_callback_allowed_networks="127.0.0.1")

        with live_app(settings) as client:
            response = client.post("/callbacks/africastalking/incoming-messages/guess",
                                   data=incoming())

        assert response.status_code == 404

    @pytest.mark.parametrize("networks", ["10.0.0.0/8,not-a-network", "10.0.0.0/33", ","])
    def test_a_list_with_a_bad_entry_stops_the_app_naming_the_variable(
            self, database_url, networks):
        with pytest.raises(ConfigurationError, match="AT_CALLBACK_ALLOWED_NETWORKS"):
            create_app(settings_for_tests(database_url, at_callback_allowed_networks=networks))
