"""chalicelib/feedback.py reads SES's feedback as AWS documents it, in both of its formats.

Event publishing through a configuration set (what the stack uses) says `eventType`; identity
notifications say `notificationType`. The records are AWS's own examples
(tests/vectors/ses_feedback.json names the pages).
"""

import json

import pytest

from chalicelib.failures import InvalidMessage
from chalicelib.feedback import addresses_to_suppress
from tests.vectors import SES_FEEDBACK


@pytest.mark.parametrize("source", ["event_publishing", "identity_notifications"])
def test_a_documented_permanent_bounce_suppresses_its_recipients(source: str) -> None:
    record = SES_FEEDBACK[source]["Bounce"]
    expected = [
        (r["emailAddress"], "permanent_bounce") for r in record["bounce"]["bouncedRecipients"]
    ]
    assert addresses_to_suppress(json.dumps(record)) == expected


@pytest.mark.parametrize("source", ["event_publishing", "identity_notifications"])
def test_a_documented_complaint_suppresses_its_recipients(source: str) -> None:
    record = SES_FEEDBACK[source]["Complaint"]
    recipients = record["complaint"]["complainedRecipients"]
    assert addresses_to_suppress(json.dumps(record)) == [
        (r["emailAddress"], "complaint") for r in recipients
    ]


def test_a_transient_bounce_suppresses_nobody() -> None:
    record = json.loads(json.dumps(SES_FEEDBACK["event_publishing"]["Bounce"]))
    record["bounce"]["bounceType"] = "Transient"
    assert addresses_to_suppress(json.dumps(record)) == []


def test_something_that_is_not_ses_feedback_is_an_invalid_message() -> None:
    with pytest.raises(InvalidMessage):
        addresses_to_suppress(json.dumps({"eventType": "Bounce", "mail": {}}))
