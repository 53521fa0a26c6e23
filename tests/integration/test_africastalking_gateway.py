"""The Africa's Talking adapter against a fake Africa's Talking server on loopback."""

import asyncio
import socket
import time
from datetime import UTC, datetime

import pytest

from app.adapters.sms.africastalking import (
    AfricasTalkingSmsGateway,
    messaging_url,
    proxy_for,
    retry_after,
)
from app.bootstrap import sms_gateway_for
from app.config import Settings
from app.services.sms import PermanentFailure, SendOutcome, Sent, SmsGateway, TransientFailure
from tests.integration.fake_africastalking import (
    Answer,
    FakeAfricasTalking,
    accepted,
    refused,
)

API_KEY = "test-api-key-not-a-secret"
NUMBER = "+254719485369"
TEXT = "Hi Amina, your order ORD-7F3K for 2 bags of rice (KES 3,400.00) has been recorded."


def gateway_for(base_url: str, **options) -> AfricasTalkingSmsGateway:
    return AfricasTalkingSmsGateway("mamamboga", API_KEY, base_url=base_url, **options)


def send(gateway: SmsGateway, to: str = NUMBER, *, times: int = 1) -> list[SendOutcome]:
    """``times`` sends one after the other, in one event loop, as the worker makes them."""
    return [outcome for outcome, _ in send_timed(gateway, to, times=times)]


def send_timed(gateway: SmsGateway, to: str = NUMBER, *, times: int = 1
               ) -> list[tuple[SendOutcome, float]]:
    """Each outcome of ``send``, with the seconds its send took."""
    async def in_turn() -> list[tuple[SendOutcome, float]]:
        timed = []
        try:
            for _ in range(times):
                started = time.monotonic()
                outcome = await gateway.send(to, TEXT)
                timed.append((outcome, time.monotonic() - started))
            return timed
        finally:
            await gateway.aclose()

    return asyncio.run(in_turn())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestTheRequest:
    def test_a_message_is_posted_form_encoded_with_the_api_key_header(self):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            gateway = gateway_for(fake.base_url, sender_id="MAMAMBOGA")

            send(gateway)

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

    def test_without_a_sender_id_the_from_field_is_left_out(self):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            gateway = gateway_for(fake.base_url)

            send(gateway)

        assert "from" not in fake.requests[0].form

    def test_the_api_key_travels_only_in_its_header(self):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            send(gateway_for(fake.base_url))

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
    def test_an_accepted_message_is_sent_with_id_and_cost(self):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_7b3e"))) as fake:
            [outcome] = send(gateway_for(fake.base_url))

        assert outcome == Sent("ATXid_7b3e", "KES 0.8000")

    def test_http_500_is_transient_and_the_next_send_succeeds(self):
        script = [Answer(500, "Internal Server Error", "text/plain"),
                  Answer(201, accepted("ATXid_2"))]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url)

            first, second = send(gateway, times=2)

        assert first == TransientFailure("HTTP 500 from gateway")
        assert second == Sent("ATXid_2", "KES 0.8000")

    def test_a_timeout_is_transient_and_the_next_send_succeeds(self):
        script = [Answer(201, accepted("ATXid_late"), delay=2), Answer(201, accepted("ATXid_2"))]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url, read_timeout=0.2)
            started = time.monotonic()

            first, second = send(gateway, times=2)

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
    def test_an_answer_trickling_in_is_given_up_at_the_send_deadline(self, trickled):
        # Each byte comes well within the read timeout, so only a deadline on the whole send
        # ends the wait.
        script = [trickled, Answer(201, accepted("ATXid_2"))]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url, read_timeout=0.5, send_deadline=1)

            (first, took), (second, _) = send_timed(gateway, times=2)

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

            [outcome] = send(gateway)

        assert outcome == TransientFailure(
            "no answer from gateway within 1 s; the SMS may have gone out"
        )

    def test_an_invalid_number_fails_for_good(self):
        with FakeAfricasTalking(Answer(201, refused(403, "InvalidPhoneNumber"))) as fake:
            [outcome] = send(gateway_for(fake.base_url), "+25471")

        assert outcome == PermanentFailure("InvalidPhoneNumber (403)")

    def test_a_do_not_disturb_rejection_as_http_409_fails_for_good(self):
        with FakeAfricasTalking(Answer(409, refused(409, "DoNotDisturbRejection"))) as fake:
            [outcome] = send(gateway_for(fake.base_url))

        assert outcome == PermanentFailure("DoNotDisturbRejection (409)")

    def test_a_malformed_answer_is_transient(self):
        with FakeAfricasTalking(Answer(201, '{"SMSMessageData": {"Recipi')) as fake:
            [outcome] = send(gateway_for(fake.base_url))

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
    def test_a_plain_text_error_is_classified_by_its_status(self, status, body,
                                                            expected):
        with FakeAfricasTalking(Answer(status, body, "text/plain")) as fake:
            [outcome] = send(gateway_for(fake.base_url))

        assert outcome == expected

    def test_the_api_key_is_struck_from_a_quoted_body(self):
        echo = Answer(400, f"Unknown apiKey {API_KEY} for this user", "text/plain")
        with FakeAfricasTalking(echo) as fake:
            [outcome] = send(gateway_for(fake.base_url))

        assert outcome == PermanentFailure(
            "HTTP 400 from gateway: Unknown apiKey [API key] for this user"
        )

    def test_a_refused_connection_is_transient(self):
        gateway = gateway_for(f"http://127.0.0.1:{free_port()}")

        [outcome] = send(gateway)

        assert outcome == TransientFailure("cannot reach gateway (ClientConnectorError)")


class TestTheConnectionPool:
    def test_consecutive_sends_reuse_one_connection(self):
        script = [Answer(201, accepted(f"ATXid_{n}")) for n in range(3)]
        with FakeAfricasTalking(*script) as fake:
            gateway = gateway_for(fake.base_url)

            send(gateway, times=3)

        assert len({request.client_port for request in fake.requests}) == 1

    def test_concurrent_sends_wait_for_the_gateway_side_by_side(self):
        script = [Answer(201, accepted(f"ATXid_{n}"), delay=0.3) for n in range(4)]

        async def four_at_once(gateway: SmsGateway) -> list[SendOutcome]:
            try:
                return await asyncio.gather(*(gateway.send(NUMBER, TEXT) for _ in range(4)))
            finally:
                await gateway.aclose()

        with FakeAfricasTalking(*script) as fake:
            started = time.monotonic()
            outcomes = asyncio.run(four_at_once(gateway_for(fake.base_url, pool_size=4)))
            elapsed = time.monotonic() - started

        assert all(isinstance(outcome, Sent) for outcome in outcomes)
        assert len({request.client_port for request in fake.requests}) == 4
        assert elapsed < 1.0


class TestPushback:
    """What the gateway says about itself, besides the message: the worker's pace needs it."""

    @pytest.mark.parametrize("status", [429, 500, 503])
    def test_throttling_and_server_errors_push_back(self, status):
        with FakeAfricasTalking(Answer(status, "Slow down", "text/plain")) as fake:
            [outcome] = send(gateway_for(fake.base_url))

        assert outcome == TransientFailure(f"HTTP {status} from gateway")
        assert outcome.pushback
        assert outcome.retry_after is None

    def test_retry_after_in_seconds_is_passed_on(self):
        throttled = Answer(429, "Too Many Requests", "text/plain", headers={"Retry-After": "7"})
        with FakeAfricasTalking(throttled) as fake:
            [outcome] = send(gateway_for(fake.base_url))

        assert outcome.retry_after == 7

    def test_retry_after_as_a_date_is_the_seconds_until_then(self):
        now = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)

        assert retry_after("Tue, 08 Dec 2026 09:31:00 GMT", now=now) == 60
        assert retry_after("Tue, 08 Dec 2026 09:29:00 GMT", now=now) is None
        assert retry_after("soon", now=now) is None

    def test_no_answer_in_time_and_an_unreachable_gateway_push_back(self):
        with FakeAfricasTalking(Answer(201, accepted("ATXid_late"), delay=2)) as fake:
            [late] = send(gateway_for(fake.base_url, read_timeout=0.2))
        [unreachable] = send(gateway_for(f"http://127.0.0.1:{free_port()}"))

        assert late.pushback and unreachable.pushback

    @pytest.mark.parametrize("answer", [
        Answer(201, accepted("ATXid_1")),
        Answer(201, refused(403, "InvalidPhoneNumber")),
        Answer(401, "The supplied authentication is invalid", "text/plain"),
    ], ids=["sent", "refused", "credentials"])
    def test_answers_about_the_message_do_not_push_back(self, answer):
        with FakeAfricasTalking(answer) as fake:
            [outcome] = send(gateway_for(fake.base_url))

        assert not getattr(outcome, "pushback", False)


def test_the_proxy_is_the_environments_unless_no_proxy_exempts_the_host(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    assert proxy_for("https://api.africastalking.com/version1/messaging") == (
        "http://proxy.internal:3128")
    assert proxy_for("http://127.0.0.1:8025/version1/messaging") is None
