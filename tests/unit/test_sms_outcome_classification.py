"""Every answer of Africa's Talking's messaging endpoint, and what it means for the message."""

import json

import pytest

from app.adapters.sms.africastalking import classify
from app.services.sms import PermanentFailure, Sent, TransientFailure

NUMBER = "+254719485369"


def answer(status_code: int, status: str, *, message_id: str = "None", cost: str = "0") -> str:
    recipient = {
        "statusCode": status_code, "number": NUMBER, "status": status, "cost": cost,
        "messageId": message_id,
    }
    return json.dumps({"SMSMessageData": {"Message": "Sent to 0/1", "Recipients": [recipient]}})


def no_recipients(message: str) -> str:
    return json.dumps({"SMSMessageData": {"Message": message, "Recipients": []}})


ACCEPTED = answer(101, "Success", message_id="ATXid_4f2c", cost="KES 0.8000")


@pytest.mark.parametrize(
    ("status_code", "status"), [(100, "Processed"), (101, "Success"), (102, "Queued")]
)
def test_an_accepted_recipient_is_sent_with_the_message_id_and_cost(status_code, status):
    body = answer(status_code, status, message_id="ATXid_4f2c", cost="KES 0.8000")

    assert classify(201, body) == Sent("ATXid_4f2c", "KES 0.8000")


@pytest.mark.parametrize("http_status", [200, 201, 202])
def test_any_2xx_is_read_as_an_answer(http_status):
    assert classify(http_status, ACCEPTED) == Sent("ATXid_4f2c", "KES 0.8000")


def test_a_missing_cost_is_no_cost():
    body = json.dumps({"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [
        {"statusCode": 101, "number": NUMBER, "status": "Success", "messageId": "ATXid_1"}]}})

    assert classify(201, body) == Sent("ATXid_1", None)


@pytest.mark.parametrize(
    ("status_code", "status"),
    [(500, "InternalServerError"), (501, "GatewayError"), (405, "InsufficientBalance")],
)
def test_recipient_statuses_worth_retrying_are_transient(status_code, status):
    assert classify(201, answer(status_code, status)) == TransientFailure(
        f"{status} ({status_code})"
    )


@pytest.mark.parametrize(
    ("status_code", "status"),
    [
        (401, "RiskHold"),
        (402, "InvalidSenderId"),
        (403, "InvalidPhoneNumber"),
        (404, "UnsupportedNumberType"),
        (406, "UserInBlacklist"),
        (407, "CouldNotRoute"),
        (409, "DoNotDisturbRejection"),
        (502, "RejectedByGateway"),
    ],
)
def test_refused_recipients_fail_for_good(status_code, status):
    assert classify(201, answer(status_code, status)) == PermanentFailure(
        f"{status} ({status_code})"
    )


def test_a_do_not_disturb_rejection_sent_as_http_409_is_read_from_the_body():
    body = answer(409, "DoNotDisturbRejection")

    assert classify(409, body) == PermanentFailure("DoNotDisturbRejection (409)")


def test_a_recipient_without_a_status_name_is_named_from_the_table():
    assert classify(201, answer(406, "")) == PermanentFailure("UserInBlacklist (406)")


def test_an_unknown_recipient_status_is_retried():
    outcome = classify(201, answer(777, "SomethingNew"))

    assert outcome == TransientFailure(
        "SomethingNew (777), a status this service does not know"
    )


def test_no_recipients_fails_for_good_with_the_gateways_message():
    assert classify(201, no_recipients("InvalidPhoneNumber")) == PermanentFailure(
        "InvalidPhoneNumber"
    )


def test_no_recipients_and_no_message_still_says_why():
    assert classify(201, no_recipients("")) == PermanentFailure("gateway accepted no recipient")


@pytest.mark.parametrize(
    ("http_status", "reason"),
    [
        (500, "HTTP 500 from gateway"),
        (502, "HTTP 502 from gateway"),
        (503, "HTTP 503 from gateway"),
        (504, "HTTP 504 from gateway"),
        (429, "HTTP 429 from gateway"),
    ],
)
def test_server_errors_and_throttling_are_transient(http_status, reason):
    assert classify(http_status, "<html>Service Unavailable</html>") == TransientFailure(reason)


@pytest.mark.parametrize("http_status", [401, 403])
def test_rejected_credentials_are_transient_until_the_operator_fixes_them(http_status):
    outcome = classify(http_status, "The supplied authentication is invalid")

    assert outcome == TransientFailure(
        f"HTTP {http_status} from gateway: check the Africa's Talking username and API key"
    )


@pytest.mark.parametrize(
    ("http_status", "body", "reason"),
    [
        (400, "Missing:\n  to", "HTTP 400 from gateway: Missing: to"),
        (404, "", "HTTP 404 from gateway"),
        (409, "Conflict", "HTTP 409 from gateway: Conflict"),
        (422, "x" * 500, "HTTP 422 from gateway: " + "x" * 100),
    ],
)
def test_other_client_errors_fail_for_good_quoting_the_body(http_status, body, reason):
    assert classify(http_status, body) == PermanentFailure(reason)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "Sent",
        "<html>ok</html>",
        "[]",
        "null",
        '{"SMSMessageData": null}',
        '{"SMSMessageData": {"Message": "Sent to 1/1"}}',
        '{"SMSMessageData": {"Recipients": "none"}}',
        '{"SMSMessageData": {"Recipients": ["+254719485369"]}}',
        '{"SMSMessageData": {"Recipients": [{"statusCode": "101"}]}}',
        '{"SMSMessageData": {"Recipients": [{"statusCode": true}]}}',
        '{"SMSMessageData": {"Recipients": [{"status": "Success"}]}}',
        '{"SMSMessageData": {"Recipients": [{"statusCode": 101',
    ],
)
def test_an_unreadable_2xx_answer_is_retried_because_it_may_have_been_sent(body):
    assert classify(201, body) == TransientFailure(
        "unreadable answer from gateway (HTTP 201); the SMS may have gone out"
    )


@pytest.mark.parametrize("message_id", ["None", "", None])
def test_an_accepted_recipient_without_a_message_id_is_unreadable(message_id):
    body = json.dumps({"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [
        {"statusCode": 101, "status": "Success", "messageId": message_id}]}})

    assert classify(201, body) == TransientFailure(
        "unreadable answer from gateway (status 101 without a message id); "
        "the SMS may have gone out"
    )


@pytest.mark.parametrize("http_status", [100, 301, 302, 307])
def test_an_answer_that_is_neither_success_nor_error_is_retried(http_status):
    assert classify(http_status, "") == TransientFailure(
        f"unexpected HTTP {http_status} from gateway"
    )


def test_only_the_first_recipient_counts_since_one_number_is_sent_per_request():
    body = json.dumps({"SMSMessageData": {"Message": "Sent to 1/2", "Recipients": [
        {"statusCode": 101, "status": "Success", "messageId": "ATXid_1", "cost": "KES 0.8"},
        {"statusCode": 403, "status": "InvalidPhoneNumber", "messageId": "None"},
    ]}})

    assert classify(201, body) == Sent("ATXid_1", "KES 0.8")
