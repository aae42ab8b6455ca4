"""The SES mailbox simulator and the SNS trigger on moto in process.

An email sent through the pipeline's mailer to a simulator address is answered, as SES would,
by a record on the configuration set's SNS topic (ses-feedback); the topic invokes
record_ses_feedback through the local stack's SNS subscription, and the address is suppressed.
"""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import app as functions
from chalicelib.emails import Email
from chalicelib.services import get_services
from local_stack.resources import RESOURCES, Provisioned
from local_stack.ses_simulator import MailboxSimulator, moto_outbox
from local_stack.sns_subscriptions import SnsFunction, sns_functions_running
from tests.conftest import BOTO3_SESSION

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def simulator(aws: Provisioned) -> MailboxSimulator:
    return MailboxSimulator(
        moto_outbox(ACCOUNT, REGION),
        ses=BOTO3_SESSION.client("ses"),
        sesv2=BOTO3_SESSION.client("sesv2"),
        sns=BOTO3_SESSION.client("sns"),
        account=ACCOUNT,
        region=REGION,
    )


@pytest.fixture
def feedback_topic(aws: Provisioned) -> Callable[[], list[dict[str, Any]]]:
    """What ses-feedback carries, read from a queue subscribed to it (raw delivery)."""
    sqs, sns = BOTO3_SESSION.client("sqs"), BOTO3_SESSION.client("sns")
    url = sqs.create_queue(QueueName="feedback-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(
        TopicArn=aws.topic_arns["ses-feedback"],
        Protocol="sqs",
        Endpoint=arn["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return read


def send(to: str) -> str:
    email = Email(subject="Order o-1 confirmed", text="Thanks", html="<p>Thanks</p>")
    return get_services().mailer.send(to, email, "o-1")


@pytest.mark.parametrize(
    ("address", "event_type"),
    [
        ("bounce+o-1@simulator.amazonses.com", "Bounce"),
        ("complaint@simulator.amazonses.com", "Complaint"),
    ],
)
def test_mail_to_the_simulator_is_answered_on_the_configuration_sets_topic(
    simulator: MailboxSimulator,
    feedback_topic: Callable[[], list[dict[str, Any]]],
    address: str,
    event_type: str,
) -> None:
    message_id = send(address)
    assert simulator.poll_once() == 1
    (record,) = feedback_topic()
    assert record["eventType"] == event_type
    assert (record["mail"]["messageId"], record["mail"]["destination"]) == (message_id, [address])
    assert record["mail"]["tags"]["ses:configuration-set"] == [
        RESOURCES.ses_events.configuration_set
    ]


def test_events_the_configuration_set_does_not_match_and_ordinary_mail_publish_nothing(
    simulator: MailboxSimulator, feedback_topic: Callable[[], list[dict[str, Any]]]
) -> None:
    send("success@simulator.amazonses.com")  # a Delivery: the destination takes bounce, complaint
    send("ada@example.com")
    assert simulator.poll_once() == 0
    assert feedback_topic() == []
    assert simulator.poll_once() == 0  # each email is answered once


def test_a_sender_without_a_configuration_set_has_no_event_publishing(
    aws: Provisioned, simulator: MailboxSimulator
) -> None:
    sesv2 = BOTO3_SESSION.client("sesv2")
    sesv2.create_email_identity(EmailIdentity="plain@shop.example.com")
    sesv2.send_email(
        FromEmailAddress="plain@shop.example.com",
        Destination={"ToAddresses": ["bounce@simulator.amazonses.com"]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
    )
    assert simulator.poll_once() == 0


@pytest.fixture
def feedback_function(aws: Provisioned) -> Iterator[None]:
    """record_ses_feedback subscribed to ses-feedback as the local stack subscribes it."""
    function = SnsFunction(
        "record_ses_feedback", aws.topic_arns["ses-feedback"], functions.record_ses_feedback
    )
    with sns_functions_running(BOTO3_SESSION.client("sns"), [function], retry_delays=(0.1, 0.1)):
        yield


def wait_for(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


@pytest.mark.usefixtures("feedback_function")
def test_the_topic_invokes_record_ses_feedback_and_the_address_is_suppressed(
    simulator: MailboxSimulator,
) -> None:
    contacts = get_services().contacts
    send("bounce+o-2@simulator.amazonses.com")
    send("complaint+o-2@simulator.amazonses.com")
    assert simulator.poll_once() == 2
    assert wait_for(lambda: contacts.suppression("complaint+o-2@simulator.amazonses.com")) == (
        "complaint"
    )
    assert contacts.suppression("bounce+o-2@simulator.amazonses.com") == "permanent_bounce"


@pytest.mark.usefixtures("feedback_function")
def test_a_message_published_on_the_topic_reaches_the_function_as_lambdas_sns_event(
    aws: Provisioned,
) -> None:
    record = {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "Grace@Example.com"}],
        },
    }
    BOTO3_SESSION.client("sns").publish(
        TopicArn=aws.topic_arns["ses-feedback"], Message=json.dumps(record)
    )
    contacts = get_services().contacts
    assert wait_for(lambda: contacts.suppression("grace@example.com")) == "permanent_bounce"
