"""The Africa's Talking adapter against a fake Africa's Talking server on loopback."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.adapters.sms.africastalking import (
    AfricasTalkingSmsGateway,
    messaging_url,
    pooled_session,
)
from app.bootstrap import sms_gateway_for
from app.config import Settings
from app.services.sms import PermanentFailure, Sent, TransientFailure
from tests.integration.fake_africastalking import (
    Answer,
    FakeAfricasTalking,
    accepted,
    refused,
)

API_KEY = "test-api-key-not-a-secret"
NUMBER = "+254719485369"
TEXT = "Hi Amina, your order ORD-7F3K for 2 bags of rice (KES 3,400.00) has been recorded."


@pytest.fixture
def session():
    with pooled_session() as session:
        yield session


def gateway_for(base_url: str, session, **options) -> AfricasTalkingSmsGateway:
    return AfricasTalkingSmsGateway(
        "mamamboga", API_KEY, base_url=base_url, session=session, **options
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestTheRequest:
    def test_a_message_is_posted_form_encoded_with_the_api_key_header(self, session):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            gateway = gateway_for(fake.base_url, session, sender_id="MAMAMBOGA")

            gateway.send(NUMBER, TEXT)

        [request] = fake.requests
        assert request.method == "POST"
        assert request.path == "/version1/messaging"
        assert request.headers["apiKey"] == API_KEY
        assert request.headers["Accept"] == "application/json"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert request.form == {
            "username": "mamamboga", "to": NUMBER, "message": TEXT, "bulkSMSMode": "1",
            "from": "MAMAMBOGA",
        }

    def test_without_a_sender_id_the_from_field_is_left_out(self, session):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            gateway = gateway_for(fake.base_url, session)

            gateway.send(NUMBER, TEXT)

        assert "from" not in fake.requests[0].form

    def test_the_api_key_travels_only_in_its_header(self, session):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            gateway_for(fake.base_url, session).send(NUMBER, TEXT)

        [request] = fake.requests
        assert API_KEY not in request.path
        assert API_KEY not in request.body


class TestTheHost:
    def test_the_sandbox_user_talks_to_the_sandbox(self):
        assert messaging_url("sandbox") == (
            "https://api.sandbox.africastalking.com/version1/messaging"
        )

    def test_any_other_user_talks_to_the_live_service(self):
        assert messaging_url("mamamboga") == "https://api.africastalking.com/version1/messaging"

    def test_a_base_url_overrides_the_host(self):
        assert messaging_url("sandbox", "http://127.0.0.1:8025/") == (
            "http://127.0.0.1:8025/version1/messaging"
        )


class TestTheOutcome:
    def test_an_accepted_message_is_sent_with_id_and_cost(self, session):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            outcome = gateway_for(fake.base_url, session).send(NUMBER, TEXT)

        assert outcome == Sent("ATXid_7b3e", "KES 0.8000")

    def test_http_500_is_transient_and_the_next_send_succeeds(self, session):
        script = [Answer(500, "Internal Server Error", "text/plain"),
                  Answer(201, accepted("ATXid_2"))]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url, session)

            first = gateway.send(NUMBER, TEXT)
            second = gateway.send(NUMBER, TEXT)

        assert first == TransientFailure("HTTP 500 from gateway")
        assert second == Sent("ATXid_2", "KES 0.8000")

    def test_a_timeout_is_transient_and_the_next_send_succeeds(self, session):
        script = [Answer(201, accepted("ATXid_late"), delay=2), Answer(201, accepted("ATXid_2"))]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url, session, read_timeout=0.2)
            started = time.monotonic()

            first = gateway.send(NUMBER, TEXT)
            second = gateway.send(NUMBER, TEXT)

        assert first == TransientFailure(
            "no answer from gateway within 0.2 s; the SMS may have gone out"
        )
        assert second == Sent("ATXid_2", "KES 0.8000")
        assert time.monotonic() - started < 1.5

    @pytest.mark.parametrize("trickled", [
        Answer(201, accepted("ATXid_late"), trickle=0.3),
        Answer(201, accepted("ATXid_late"), trickle=0.3, sized=False),
        Answer(201, accepted("ATXid_late"), trickle=0.3, trickle_headers=True),
    ], ids=["body", "body-without-length", "headers-and-body"])
    def test_an_answer_trickling_in_is_given_up_at_the_send_deadline(self, session, trickled):
        # Each byte comes well within the read timeout, so only a deadline on the whole send
        # ends the wait.
        script = [trickled, Answer(201, accepted("ATXid_2"))]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url, session, read_timeout=0.5, send_deadline=1)
            started = time.monotonic()

            first = gateway.send(NUMBER, TEXT)
            took = time.monotonic() - started
            second = gateway.send(NUMBER, TEXT)

        assert first == TransientFailure(
            "no answer from gateway within 1 s; the SMS may have gone out"
        )
        assert took < 1.5, took
        assert second == Sent("ATXid_2", "KES 0.8000")

    def test_the_send_deadline_is_the_configured_one(self):
        trickled = Answer(201, accepted("ATXid_late"), trickle=0.3)
        with FakeAfricasTalking(trickled) as fake:
            gateway = sms_gateway_for(Settings.from_env({
                "SMS_BACKEND": "africastalking", "AT_USERNAME": "mamamboga",
                "AT_API_KEY": API_KEY, "AT_BASE_URL": fake.base_url,
                "SMS_SEND_DEADLINE_SECONDS": "1"}))

            outcome = gateway.send(NUMBER, TEXT)

        assert outcome == TransientFailure(
            "no answer from gateway within 1 s; the SMS may have gone out"
        )

    def test_an_invalid_number_fails_for_good(self, session):
        with FakeAfricasTalking(Answer(201, refused(403, "InvalidPhoneNumber"))) as fake:
            outcome = gateway_for(fake.base_url, session).send("+25471", TEXT)

        assert outcome == PermanentFailure("InvalidPhoneNumber (403)")

    def test_a_do_not_disturb_rejection_as_http_409_fails_for_good(self, session):
        with FakeAfricasTalking(Answer(409, refused(409, "DoNotDisturbRejection"))) as fake:
            outcome = gateway_for(fake.base_url, session).send(NUMBER, TEXT)

        assert outcome == PermanentFailure("DoNotDisturbRejection (409)")

    def test_a_malformed_answer_is_transient(self, session):
        with FakeAfricasTalking(Answer(201, '{"SMSMessageData": {"Recipi')) as fake:
            outcome = gateway_for(fake.base_url, session).send(NUMBER, TEXT)

        assert outcome == TransientFailure(
            "unreadable answer from gateway (HTTP 201); the SMS may have gone out"
        )

    @pytest.mark.parametrize(
        ("status", "body", "expected"),
        [
            (401, "The supplied authentication is invalid", TransientFailure(
                "HTTP 401 from gateway: check the Africa's Talking username and API key")),
            (400, "Request is missing required form field 'to'", PermanentFailure(
                "HTTP 400 from gateway: Request is missing required form field 'to'")),
            (503, "Service Temporarily Unavailable", TransientFailure(
                "HTTP 503 from gateway")),
        ],
    )
    def test_a_plain_text_error_is_classified_by_its_status(self, session, status, body,
                                                            expected):
        with FakeAfricasTalking(Answer(status, body, "text/plain")) as fake:
            outcome = gateway_for(fake.base_url, session).send(NUMBER, TEXT)

        assert outcome == expected

    def test_the_api_key_is_struck_from_a_quoted_body(self, session):
        echo = Answer(400, f"Unknown apiKey {API_KEY} for this user", "text/plain")
        with FakeAfricasTalking(echo) as fake:
            outcome = gateway_for(fake.base_url, session).send(NUMBER, TEXT)

        assert outcome == PermanentFailure(
            "HTTP 400 from gateway: Unknown apiKey [API key] for this user"
        )

    def test_a_refused_connection_is_transient(self, session):
        gateway = gateway_for(f"http://127.0.0.1:{free_port()}", session)

        outcome = gateway.send(NUMBER, TEXT)

        assert outcome == TransientFailure("cannot reach gateway (ConnectionError)")


class TestTheConnectionPool:
    def test_consecutive_sends_reuse_one_connection(self, session):
        script = [Answer(201, accepted(f"ATXid_{n}")) for n in range(3)]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url, session)

            for _ in range(3):
                gateway.send(NUMBER, TEXT)

        assert len({request.client_port for request in fake.requests}) == 1

    def test_concurrent_sends_wait_for_the_gateway_side_by_side(self):
        script = [Answer(201, accepted(f"ATXid_{n}"), delay=0.3) for n in range(4)]
        with FakeAfricasTalking(*script) as fake, ThreadPoolExecutor(4) as pool, \
                pooled_session(pool_size=4) as session:
            gateway = gateway_for(fake.base_url, session)
            started = time.monotonic()

            outcomes = list(pool.map(lambda _: gateway.send(NUMBER, TEXT), range(4)))

            elapsed = time.monotonic() - started
        assert all(isinstance(outcome, Sent) for outcome in outcomes)
        assert elapsed < 1.0
