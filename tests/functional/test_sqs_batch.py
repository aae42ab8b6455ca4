"""chalicelib/sqs_batch.py, with adapters/dead_letters.py, through process_order on moto:
a partial batch response names exactly the failed records, earlier attempts are left to SQS's
retries, and the last failing attempt is dead-lettered with its reason.
"""

import json

import pytest
from chalice.test import Client

from chalicelib.adapters.dead_letters import FAILURE_REASON_ATTRIBUTE
from local_stack.event_source import SqsEventSource
from local_stack.resources import Provisioned
from tests.conftest import BOTO3_SESSION, Inventory, invoke, order_item, queue_messages
from tests.factories import order, placed, sqs_record


@pytest.fixture
def inventory(inventory: Inventory) -> Inventory:
    """The catalog at the price these orders offer: the mug at 12.00 EUR."""
    inventory.stock("MUG-BLUE", 100, price="12.00")
    return inventory


def test_a_batch_with_one_malformed_record_reports_exactly_that_record(
    client: Client, inventory: Inventory
) -> None:
    good = [
        sqs_record(placed(order(f"ord-{n}", [("MUG-BLUE", 1, "12.00")])).to_json())
        for n in range(9)
    ]
    bad = sqs_record('{"event_type": "OrderPlaced", "order_id": "ord-x", "order": "garbage"}')
    assert invoke(client, "process_order", *good[:4], bad, *good[4:]) == [bad["messageId"]]
    assert [order_item(f"ord-{n}")["status"] for n in range(9)] == ["RESERVED"] * 9
    assert inventory.level("MUG-BLUE") == 91


def test_a_record_failing_on_its_last_attempt_is_dead_lettered_with_its_reason(
    client: Client, aws: Provisioned
) -> None:
    poison = sqs_record("definitely not an order", receive_count=5)
    assert invoke(client, "process_order", poison) == []  # handled: it is in the DLQ now

    [dead] = queue_messages(aws.queue_urls["order-fulfillment-dlq"])
    assert dead["Body"] == "definitely not an order"
    reason = dead["MessageAttributes"][FAILURE_REASON_ATTRIBUTE]["StringValue"]
    assert reason.startswith("InvalidMessage: message body is not JSON")


@pytest.mark.parametrize("attempt", [1, 4])
def test_earlier_attempts_are_left_to_sqs_retries(
    client: Client, aws: Provisioned, attempt: int
) -> None:
    record = sqs_record("not json", receive_count=attempt)
    assert invoke(client, "process_order", record) == [record["messageId"]]
    assert queue_messages(aws.queue_urls["order-fulfillment-dlq"]) == []


def test_a_poison_message_reaches_the_dlq_through_the_real_queue(aws: Provisioned) -> None:
    """Through SNS, SQS and the Lambda-like event source: retried, then dead-lettered."""
    from app import process_order

    sqs = BOTO3_SESSION.client("sqs")
    queue_url = aws.queue_urls["order-fulfillment"]
    # Stand in for the passing of the visibility timeout between Lambda's attempts.
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})
    BOTO3_SESSION.client("sns").publish(
        TopicArn=aws.topic_arns["order-intake"], Message='{"event_type": "OrderPlaced"}'
    )
    source = SqsEventSource(
        sqs,
        queue_url=queue_url,
        queue_arn=aws.queue_arns["order-fulfillment"],
        handler=process_order,
        function_name="process_order",
        wait_seconds=0,
    )
    attempts = 0
    while source.poll_once():
        attempts += 1
        assert attempts <= 5, "the message should have been dead-lettered by now"

    assert attempts == 5
    assert queue_messages(queue_url) == []
    [dead] = queue_messages(aws.queue_urls["order-fulfillment-dlq"])
    assert json.loads(dead["Body"]) == {"event_type": "OrderPlaced"}
    assert (
        "OrderPlaced is invalid"
        in dead["MessageAttributes"][FAILURE_REASON_ATTRIBUTE]["StringValue"]
    )
