"""local_stack/ses_simulator.py: the feedback SES publishes for mail to its mailbox simulator.

What each address does is AWS's documented behaviour
(https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator);
each record must have the shape of AWS's documented example of its event type
(tests/vectors/ses_feedback.json), and chalicelib/feedback.py must read it as it reads those.
The simulator on moto, publishing through the configuration set, is in
tests/functional/test_local_ses_simulator.py; the whole path in tests/system/.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.feedback import addresses_to_suppress
from local_stack.ses_simulator import SentMail, feedback_records, scenario, topics_for
from tests.vectors import SES_FEEDBACK

SENT_AT = datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)
NOW = SENT_AT + timedelta(seconds=2)


def mail_to(*addresses: str) -> SentMail:
    return SentMail("msg-1", "orders@shop.example.com", addresses, "Order o-1 confirmed", SENT_AT)


def records(*addresses: str) -> list[dict[str, Any]]:
    return feedback_records(
        mail_to(*addresses),
        account="123456789012",
        region="us-east-1",
        configuration_set="order-pipeline",
        now=NOW,
    )


def shape(value: Any) -> Any:
    """The keys of every object, the shape of a list's items, the JSON type of a scalar."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("bounce@simulator.amazonses.com", "bounce"),
        ("bounce+order-7@simulator.amazonses.com", "bounce"),  # labels keep the outcome
        ("Complaint@Simulator.AmazonSES.com", "complaint"),
        ("success@simulator.amazonses.com", "success"),
        ("suppressionlist@simulator.amazonses.com", "suppressionlist"),
        ("ooto@simulator.amazonses.com", None),  # an auto-reply email, not an event: not emulated
        ("bounce@example.com", None),
        ("ada@example.com", None),
    ],
)
def test_the_simulator_mailbox_an_address_reaches(address: str, mailbox: str | None) -> None:
    assert scenario(address) == mailbox


@pytest.mark.parametrize("event_type", ["Bounce", "Complaint"])
def test_a_record_has_the_shape_of_aws_documented_example(event_type: str) -> None:
    address = f"{event_type.lower()}@simulator.amazonses.com"
    (record,) = records(address)
    assert shape(record) == shape(SES_FEEDBACK["event_publishing"][event_type])


def test_a_bounce_is_permanent_and_names_the_address_that_was_mailed() -> None:
    (record,) = records("bounce+o-7@simulator.amazonses.com")
    bounce = record["bounce"]
    assert (record["eventType"], bounce["bounceType"], bounce["bounceSubType"]) == (
        "Bounce",
        "Permanent",
        "General",
    )
    assert bounce["bouncedRecipients"][0]["emailAddress"] == "bounce+o-7@simulator.amazonses.com"
    assert bounce["bouncedRecipients"][0]["status"] == "5.1.1"
    assert record["mail"]["destination"] == ["bounce+o-7@simulator.amazonses.com"]
    assert record["mail"]["timestamp"] == "2026-11-30T12:00:00.123Z"
    assert record["mail"]["tags"]["ses:configuration-set"] == ["order-pipeline"]


def test_the_bounces_of_one_request_are_one_report() -> None:
    (record,) = records(
        "bounce+a@simulator.amazonses.com", "ada@example.com", "bounce+b@simulator.amazonses.com"
    )
    assert [r["emailAddress"] for r in record["bounce"]["bouncedRecipients"]] == [
        "bounce+a@simulator.amazonses.com",
        "bounce+b@simulator.amazonses.com",
    ]


def test_mail_to_ordinary_addresses_has_no_feedback() -> None:
    assert records("ada@example.com") == []


@pytest.mark.parametrize(
    ("address", "suppressed"),
    [
        ("bounce@simulator.amazonses.com", "permanent_bounce"),
        ("suppressionlist@simulator.amazonses.com", "permanent_bounce"),
        ("complaint@simulator.amazonses.com", "complaint"),
        ("success@simulator.amazonses.com", None),
    ],
)
def test_record_ses_feedback_reads_each_record_as_it_reads_aws(
    address: str, suppressed: str | None
) -> None:
    (record,) = records(address)
    expected = [(address, suppressed)] if suppressed else []
    assert addresses_to_suppress(json.dumps(record)) == expected


def test_only_enabled_destinations_that_match_the_event_type_get_it() -> None:
    destinations = [
        {
            "Name": "feedback",
            "Enabled": True,
            "MatchingEventTypes": ["bounce", "complaint"],
            "SNSDestination": {"TopicARN": "arn:feedback"},
        },
        {
            "Name": "off",
            "Enabled": False,
            "MatchingEventTypes": ["bounce"],
            "SNSDestination": {"TopicARN": "arn:off"},
        },
        {"Name": "metrics", "Enabled": True, "MatchingEventTypes": ["BOUNCE"]},  # not SNS
    ]
    assert topics_for(destinations, "Bounce") == ["arn:feedback"]
    assert topics_for(destinations, "Delivery") == []
