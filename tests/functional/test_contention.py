"""chalicelib/contention.py through the handlers, with the AWS limits model on their clients.

A transaction conflict or a throttle is retried in the invocation, then put back on the queue
as a delayed copy; it is never an order's failure and never a dead letter. The handlers run
through the Chalice test client; the refusals are the model's (local_stack/aws_limits.py), on
a fake clock.
"""

import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from moto.ses.models import ses_backends

from chalicelib.adapters.order_store import ORDERS_RESERVED, counter_shard
from chalicelib.communications import Contact
from chalicelib.contention import REQUEUES_ATTRIBUTE
from local_stack.resources import Provisioned
from tests.conftest import Inventory, counter, invoke, order_item, queue_messages
from tests.factories import order, placed, sqs_record
from tests.functional.conftest import LimitedAws
from tests.functional.test_communications import billed_order

NOTIFICATIONS_ARN = "arn:aws:sqs:us-east-1:123456789012:order-notifications"
SENDER = "orders@shop.example.com"


def conflict_on_first_attempt(limited: LimitedAws, table: str, key: dict[str, Any]) -> None:
    """Another writer's transaction holds the item until the handler first backs off."""
    held = ExitStack()
    held.enter_context(limited.model.hold(table, key))
    limited.clock.meanwhile.append(held.close)


def dead_letters(aws: Provisioned, queue: str) -> list[dict[str, Any]]:
    return queue_messages(aws.queue_urls[f"{queue}-dlq"])


def requeued(aws: Provisioned, queue: str) -> list[dict[str, Any]]:
    """The copies contention put back on the queue (not what SNS delivered there)."""
    messages = queue_messages(aws.queue_urls[queue])
    return [m for m in messages if REQUEUES_ATTRIBUTE in m.get("MessageAttributes", {})]


def test_a_transaction_conflict_is_retried_and_the_stock_is_right(
    client: Client, aws: Provisioned, aws_limits: Callable[..., LimitedAws]
) -> None:
    limited = aws_limits()
    Inventory().stock("MUG-BLUE", 10, price="12.00")
    conflict_on_first_attempt(limited, "inventory", {"sku": {"S": "MUG-BLUE"}})

    failed = invoke(
        client,
        "process_order",
        sqs_record(placed(order("ord-1", [("MUG-BLUE", 3, "12.00")])).to_json()),
    )

    assert limited.model.refused["TransactionConflict"] == 1  # it did meet the conflict
    assert failed == []
    assert order_item("ord-1")["status"] == "RESERVED"
    assert Inventory().level("MUG-BLUE") == 7  # taken once, not zero times, not twice
    assert counter(ORDERS_RESERVED) == 1
    assert dead_letters(aws, "order-fulfillment") == []


def test_the_order_count_is_exact_when_orders_conflict_on_its_shards(
    client: Client, aws: Provisioned, aws_limits: Callable[..., LimitedAws]
) -> None:
    limited = aws_limits()
    Inventory().stock("TEA-EARLGREY", 100)
    orders = [order(f"ord-{n}", [("TEA-EARLGREY", 1, "4.50")]) for n in range(12)]
    for o in orders:  # each order's counter shard is in another transaction at first
        shard = {"name": {"S": f"{ORDERS_RESERVED}#{counter_shard(o.order_id)}"}}
        conflict_on_first_attempt(limited, "counters", shard)

        assert invoke(client, "process_order", sqs_record(placed(o).to_json())) == []
        limited.clock.meanwhile.clear()

    assert limited.model.refused["TransactionConflict"] == 12
    assert counter(ORDERS_RESERVED) == 12
    assert Inventory().level("TEA-EARLGREY") == 88


def test_contention_past_the_invocations_retries_puts_a_delayed_copy_back_not_a_failure(
    client: Client, aws: Provisioned, aws_limits: Callable[..., LimitedAws]
) -> None:
    limited = aws_limits()
    Inventory().stock("MUG-BLUE", 10, price="12.00")
    with limited.model.hold("inventory", {"sku": {"S": "MUG-BLUE"}}):  # for the whole invocation
        record = sqs_record(
            placed(order("ord-1", [("MUG-BLUE", 3, "12.00")])).to_json(),
            attributes={"correlation_id": "corr-7"},
            receive_count=5,  # its last receive: a failure now would be a dead letter
        )
        failed = invoke(client, "process_order", record)

    assert failed == []  # done: a copy carries it on
    assert limited.model.refused["TransactionConflict"] == 4  # the invocation's four attempts
    assert dead_letters(aws, "order-fulfillment") == []
    assert order_item("ord-1") is None
    assert Inventory().level("MUG-BLUE") == 10
    time.sleep(1.1)  # the copy's delay
    [copy] = requeued(aws, "order-fulfillment")
    assert copy["Body"] == record["body"]
    attributes = {k: v["StringValue"] for k, v in copy["MessageAttributes"].items()}
    assert attributes == {"correlation_id": "corr-7", REQUEUES_ATTRIBUTE: "1"}

    # The copy, delivered once the other transaction is over, reserves the order once.
    assert invoke(client, "process_order", sqs_record(copy["Body"])) == []
    assert order_item("ord-1")["status"] == "RESERVED"
    assert Inventory().level("MUG-BLUE") == 7


def test_a_message_requeued_too_often_fails_as_any_other(
    client: Client, aws: Provisioned, aws_limits: Callable[..., LimitedAws]
) -> None:
    limited = aws_limits()
    Inventory().stock("MUG-BLUE", 10, price="12.00")
    record = sqs_record(
        placed(order("ord-1", [("MUG-BLUE", 3, "12.00")])).to_json(),
        attributes={REQUEUES_ATTRIBUTE: "20"},
    )
    with limited.model.hold("inventory", {"sku": {"S": "MUG-BLUE"}}):
        failed = invoke(client, "process_order", record)

    assert failed == [record["messageId"]]  # bounded: SQS's retries, then the DLQ, take over


def emails_to(address: str) -> list[Any]:
    outbox = ses_backends["123456789012"]["us-east-1"].sent_messages
    return [m for m in outbox if address in m.destinations.get("ToAddresses", [])]


def test_an_ses_throttle_leads_to_exactly_one_email_later_and_nothing_dead_lettered(
    client: Client, aws: Provisioned, aws_limits: Callable[..., LimitedAws]
) -> None:
    limited = aws_limits(ses_send_rate=1)
    limited.services.contacts.save_contact(Contact("cust-0001", "Ada Lovelace", "ada@example.com"))
    event = billed_order(client, "ord-1")
    # Another sender of the account uses each second's send as it comes, all invocation long.
    other = limited.client("sesv2")

    def other_sender() -> None:
        with suppress(ClientError):  # refused when the handler got there first
            other.send_email(
                FromEmailAddress=SENDER,
                Destination={"ToAddresses": ["other@example.com"]},
                Content={"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}},
            )

    other_sender()
    limited.clock.meanwhile.append(other_sender)
    record = sqs_record(
        event.to_json(), attributes=event.attributes(), queue_arn=NOTIFICATIONS_ARN, receive_count=5
    )

    failed = invoke(client, "customer_communications", record)

    assert failed == []
    assert limited.model.refused["TooManyRequestsException"] >= 4
    assert emails_to("ada@example.com") == []
    assert dead_letters(aws, "order-notifications") == []
    # Later: the account's sends are free again, and the copy is delivered.
    limited.clock.meanwhile.clear()
    limited.clock.sleep(10)
    time.sleep(1.1)
    [copy] = requeued(aws, "order-notifications")
    copy_record = sqs_record(
        copy["Body"],
        attributes={k: v["StringValue"] for k, v in copy["MessageAttributes"].items()},
        queue_arn=NOTIFICATIONS_ARN,
    )
    assert invoke(client, "customer_communications", copy_record) == []

    assert len(emails_to("ada@example.com")) == 1
    assert order_item("ord-1")["status"] == "CONFIRMED"
    # A repeat of either delivery sends nothing more.
    assert invoke(client, "customer_communications", copy_record) == []
    assert invoke(client, "customer_communications", record) == []
    assert len(emails_to("ada@example.com")) == 1
    assert dead_letters(aws, "order-notifications") == []


def test_a_burst_of_emails_is_paced_to_the_send_rate_and_never_throttled(
    client: Client, aws: Provisioned, aws_limits: Callable[..., LimitedAws]
) -> None:
    """One execution environment sends at rate / MaximumConcurrency: here 2 / 2, 1 a second."""
    limited = aws_limits(ses_send_rate=2)
    limited.services.contacts.save_contact(Contact("cust-0001", "Ada Lovelace", "ada@example.com"))
    events = [billed_order(client, f"ord-{n}") for n in range(10)]
    records = [
        sqs_record(e.to_json(), attributes=e.attributes(), queue_arn=NOTIFICATIONS_ARN)
        for e in events
    ]
    started = limited.clock.now

    assert invoke(client, "customer_communications", *records) == []

    assert len(emails_to("ada@example.com")) == 10
    assert limited.model.refused["TooManyRequestsException"] == 0
    assert limited.clock.now - started == pytest.approx(9.0)  # evenly spaced, 1 s apart
