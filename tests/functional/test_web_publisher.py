"""order_web.publisher, group commit: requests that arrive together share an SNS call."""

import json
import threading
from typing import Any

import pytest
from botocore.stub import Stubber

from local_stack.resources import Provisioned
from order_web.publisher import TRACE_HEADER, IntakePublisher, IntakeUnavailable, trace_header
from order_web.services import CLIENT_CONFIG
from tests.conftest import BOTO3_SESSION
from tests.factories import order, placed
from tests.web import intake_messages


class HeldCalls:
    """Holds every PublishBatch until released, and records each call's entries."""

    def __init__(self, sns: Any) -> None:
        self.released = threading.Event()
        self.entries: list[list[dict[str, Any]]] = []
        sns.meta.events.register("before-parameter-build.sns.PublishBatch", self._hold)

    def _hold(self, params: dict[str, Any], **_: Any) -> None:
        self.entries.append(params["PublishBatchRequestEntries"])
        assert self.released.wait(10), "the test never released the call"


def publish_concurrently(publisher: IntakePublisher, count: int) -> list[str | Exception]:
    """Publish `count` orders from as many threads; each one's message id or error."""
    answers: list[str | Exception] = [RuntimeError("no answer")] * count

    def place(index: int) -> None:
        try:
            answers[index] = publisher.publish(placed(order(f"web-order-{index:04d}")))
        except IntakeUnavailable as error:
            answers[index] = error

    threads = [threading.Thread(target=place, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def wait_for_backlog(publisher: IntakePublisher, size: int) -> None:
    for _ in range(500):
        if publisher.backlog == size:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"backlog stayed at {publisher.backlog}, expected {size}")


def test_a_lone_order_is_sent_at_once_as_a_batch_of_one(aws: Provisioned) -> None:
    sns = BOTO3_SESSION.client("sns", config=CLIENT_CONFIG)
    calls: list[int] = []
    sns.meta.events.register(
        "before-parameter-build.sns.PublishBatch",
        lambda params, **_: calls.append(len(params["PublishBatchRequestEntries"])),
    )
    publisher = IntakePublisher(sns, aws.topic_arns["order-intake"])

    message_id = publisher.publish(placed(order("web-lone")))

    assert calls == [1]
    [message] = intake_messages(aws)
    assert message["MessageId"]  # delivered through the topic's subscription
    assert json.loads(message["Body"])["order"]["order_id"] == "web-lone"
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "OrderPlaced"
    assert message_id


def test_orders_arriving_during_a_call_share_the_next_ones(aws: Provisioned) -> None:
    sns = BOTO3_SESSION.client("sns", config=CLIENT_CONFIG)
    held = HeldCalls(sns)
    publisher = IntakePublisher(sns, aws.topic_arns["order-intake"], calls_in_flight=1)
    answers: list[str | Exception] = []
    placing = threading.Thread(target=lambda: answers.extend(publish_concurrently(publisher, 25)))
    placing.start()
    # One order is in the held call; the other 24 wait for it to finish.
    wait_for_backlog(publisher, 24)
    held.released.set()
    placing.join(timeout=30)

    assert [len(entries) for entries in held.entries] == [1, 10, 10, 4]
    assert all(isinstance(answer, str) for answer in answers), answers
    assert len(set(answers)) == 25  # each request got its own message's id
    delivered = sorted(json.loads(m["Body"])["order"]["order_id"] for m in intake_messages(aws))
    assert delivered == [f"web-order-{index:04d}" for index in range(25)]


def entry_size(entry: dict[str, Any]) -> int:
    """What SNS counts against a batch's payload limit: body and attributes."""
    return len(entry["Message"]) + sum(
        len(name) + len(value["DataType"]) + len(value["StringValue"])
        for name, value in entry["MessageAttributes"].items()
    )


def test_a_batch_stays_under_the_sns_payload_limit(aws: Provisioned) -> None:
    example = placed(order("web-order-0000"))
    one_order = entry_size(
        {
            "Message": example.to_json(),
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in example.attributes().items()
            },
        }
    )

    class SmallPayloads(IntakePublisher):
        MAX_BATCH_BYTES = 2 * one_order + 10  # room for two orders, instead of 256 KiB

    sns = BOTO3_SESSION.client("sns", config=CLIENT_CONFIG)
    held = HeldCalls(sns)
    publisher = SmallPayloads(sns, aws.topic_arns["order-intake"], calls_in_flight=1)
    placing = threading.Thread(target=publish_concurrently, args=(publisher, 12))
    placing.start()
    wait_for_backlog(publisher, 11)
    held.released.set()
    placing.join(timeout=30)

    assert [len(entries) for entries in held.entries] == [1, 2, 2, 2, 2, 2, 1]
    assert all(entry_size(e) == one_order for entries in held.entries for e in entries)
    assert len(intake_messages(aws)) == 12


def test_an_entry_sns_refuses_fails_its_own_request_only() -> None:
    sns = BOTO3_SESSION.client("sns", region_name="us-east-1", config=CLIENT_CONFIG)
    topic = "arn:aws:sns:us-east-1:123456789012:order-intake"
    publisher = IntakePublisher(sns, topic, calls_in_flight=1)
    first, second = placed(order("web-first")), placed(order("web-second"))
    with Stubber(sns) as stubber:
        # Botocore's own stub (moto cannot make SNS refuse one entry of a batch).
        stubber.add_response(
            "publish_batch",
            {"Successful": [{"Id": "0", "MessageId": "m-0"}]},
        )
        stubber.add_response(
            "publish_batch",
            {
                "Successful": [],
                "Failed": [
                    {
                        "Id": "0",
                        "Code": "InternalError",
                        "Message": "try later",
                        "SenderFault": False,
                    }
                ],
            },
        )
        assert publisher.publish(first) == "m-0"
        with pytest.raises(IntakeUnavailable, match="InternalError: try later"):
            publisher.publish(second)
        stubber.assert_no_pending_responses()


def test_when_sns_cannot_be_reached_every_waiting_request_hears_of_it(aws: Provisioned) -> None:
    # A real client aimed at a closed port on this machine.
    unreachable = BOTO3_SESSION.client(
        "sns", endpoint_url="http://127.0.0.1:9", config=CLIENT_CONFIG
    )
    publisher = IntakePublisher(unreachable, aws.topic_arns["order-intake"], calls_in_flight=1)

    answers = publish_concurrently(publisher, 5)

    assert all(isinstance(answer, IntakeUnavailable) for answer in answers), answers
    assert publisher.backlog == 0
    # The publisher still works for the next request once SNS is back.
    healthy = IntakePublisher(BOTO3_SESSION.client("sns"), aws.topic_arns["order-intake"])
    assert healthy.publish(placed(order("web-after")))
    assert [json.loads(m["Body"])["order"]["order_id"] for m in intake_messages(aws)] == [
        "web-after"
    ]


def test_an_order_that_waits_too_long_is_dropped_unsent(aws: Provisioned) -> None:
    class Impatient(IntakePublisher):
        ANSWER_TIMEOUT_SECONDS = 0.3

    sns = BOTO3_SESSION.client("sns", config=CLIENT_CONFIG)
    held = HeldCalls(sns)
    publisher = Impatient(sns, aws.topic_arns["order-intake"], calls_in_flight=1)
    first: list[str] = []
    sending = threading.Thread(
        target=lambda: first.append(publisher.publish(placed(order("web-in-time"))))
    )
    sending.start()
    for _ in range(500):  # until the first order's call is in flight, held
        if held.entries:
            break
        threading.Event().wait(0.01)

    with pytest.raises(IntakeUnavailable, match="did not answer in time"):
        publisher.publish(placed(order("web-too-late")))
    held.released.set()
    sending.join(timeout=10)

    assert publisher.backlog == 0
    assert len(first) == 1
    assert [len(entries) for entries in held.entries] == [1]  # the late order was never sent
    assert [json.loads(m["Body"])["order"]["order_id"] for m in intake_messages(aws)] == [
        "web-in-time"
    ]


def test_the_call_carries_the_requests_trace_header_to_sns(aws: Provisioned) -> None:
    sns = BOTO3_SESSION.client("sns", config=CLIENT_CONFIG)
    sent: list[str | None] = []
    sns.meta.events.register(
        "before-send.sns.PublishBatch",
        lambda request, **_: sent.append(request.headers.get(TRACE_HEADER)),
    )
    publisher = IntakePublisher(sns, aws.topic_arns["order-intake"])
    alb = "Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678"

    publisher.publish(placed(order("web-traced")), trace_header(alb))
    publisher.publish(placed(order("web-untraced")))  # no ALB in front: no header

    assert sent == [b"Root=1-67891233-abcdef012345678912345678", None]
    assert len(intake_messages(aws)) == 2


@pytest.mark.parametrize(
    ("forwarded", "sent"),
    [
        ("Root=1-67891233-abcdef012345678912345678", "Root=1-67891233-abcdef012345678912345678"),
        (
            "Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678",
            "Root=1-67891233-abcdef012345678912345678",
        ),
        (None, None),
        ("Root=not-a-trace", None),
        ("Root=1-67891233-abcdef012345678912345678\r\nX-Injected: 1", None),
    ],
)
def test_only_a_well_formed_trace_root_is_sent_on(forwarded: str | None, sent: str | None) -> None:
    assert trace_header(forwarded) == sent
