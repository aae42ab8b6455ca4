"""process_order through the Chalice client on moto (app.py, consumers.py, intake.py,
reservation.py, adapters/order_store.py): reserve once per order, whatever the deliveries,
doors and failures.

reservation.process_order alone, on fakes, is in tests/unit/test_reservation.py; the batch
and its dead letters in tests/functional/test_sqs_batch.py.
"""

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.adapters.order_store import ORDERS_REJECTED, ORDERS_RESERVED
from chalicelib.services import get_services
from local_stack.event_source import SqsEventSource
from local_stack.resources import Provisioned
from tests.conftest import (
    BOTO3_SESSION,
    EventTap,
    Inventory,
    counter,
    invoke,
    order_item,
    queue_messages,
    replace_services,
)
from tests.factories import order, placed, s3_notification, sqs_record
from tests.vectors import VALID, raw_body


@pytest.fixture
def inventory(inventory: Inventory) -> Inventory:
    """The catalog at the prices these orders offer: the mug at 12.00 EUR, as in VALID[0]."""
    inventory.stock("MUG-BLUE", 100, price="12.00")
    return inventory


def test_an_order_in_stock_is_reserved_and_announced(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    event = placed(order("ord-1", [("MUG-BLUE", 2, "12.00"), ("TEA-EARLGREY", 1, "4.50")]))
    # As SNS raw delivery sets them: the publisher's attributes become message attributes.
    record = sqs_record(event.to_json(), attributes=event.attributes())
    assert invoke(client, "process_order", record) == []

    assert order_item("ord-1")["status"] == "RESERVED"
    assert "pending_event" not in order_item("ord-1")
    assert (inventory.level("MUG-BLUE"), inventory.level("TEA-EARLGREY")) == (98, 99)
    assert counter(ORDERS_RESERVED) == 1
    [(body, attributes)] = published.drain()
    assert body["event_type"] == "OrderReserved"
    assert body["order"]["order_id"] == "ord-1"
    assert attributes == {"event_type": "OrderReserved", "correlation_id": "corr-test"}


def test_the_same_message_delivered_twice_reserves_once(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    record = sqs_record(placed(order("ord-1", [("MUG-BLUE", 3, "12.00")])).to_json())
    invoke(client, "process_order", record)
    invoke(client, "process_order", record)

    assert inventory.level("MUG-BLUE") == 97
    assert counter(ORDERS_RESERVED) == 1
    assert [body["event_type"] for body, _ in published.drain()] == ["OrderReserved"]


def test_lines_of_one_sku_are_decremented_together(client: Client, inventory: Inventory) -> None:
    inventory.stock("MUG-BLUE", 4, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 2, "12.00"), ("MUG-BLUE", 2, "12.00")]))
    assert invoke(client, "process_order", sqs_record(event.to_json())) == []
    assert order_item("ord-1")["status"] == "RESERVED"
    assert inventory.level("MUG-BLUE") == 0


def test_the_same_order_through_both_doors_reserves_once(
    client: Client, aws: Provisioned, inventory: Inventory, published: EventTap
) -> None:
    body = raw_body(VALID[0])  # 2 x TEA-EARLGREY, 1 x MUG-BLUE
    assert (
        client.http.put(
            "/orders/ord-1", headers={"Content-Type": "application/json"}, body=body
        ).status_code
        == 201
    )
    from_api = sqs_record(s3_notification(aws.bucket, "orders/ord-1.json"))
    web_order = order("ord-1")  # the same content, placed through the web tier
    from_web = sqs_record(placed(web_order, source="web", correlation_id="corr-web").to_json())

    assert invoke(client, "process_order", from_api, from_web) == []
    assert invoke(client, "process_order", from_web) == []

    assert (inventory.level("TEA-EARLGREY"), inventory.level("MUG-BLUE")) == (98, 99)
    assert counter(ORDERS_RESERVED) == 1
    assert [b["event_type"] for b, _ in published.drain()] == ["OrderReserved"]
    assert client.http.get("/orders/ord-1").json_body["status"] == "RESERVED"


def test_out_of_stock_is_rejected_with_the_sku_and_stock_untouched(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    inventory.stock("MUG-BLUE", 1, price="12.00")
    event = placed(
        order(
            "ord-1", [("TEA-EARLGREY", 1, "4.50"), ("MUG-BLUE", 2, "12.00"), ("NO-SUCH", 1, "1.00")]
        )
    )
    assert invoke(client, "process_order", sqs_record(event.to_json())) == []

    item = order_item("ord-1")
    assert item["status"] == "REJECTED"
    assert [
        (r["sku"], r["reason"], int(r["requested"]), int(r["available"])) for r in item["rejection"]
    ] == [
        ("MUG-BLUE", "out_of_stock", 2, 1),
        ("NO-SUCH", "unknown_sku", 1, 0),
    ]
    assert (inventory.level("TEA-EARLGREY"), inventory.level("MUG-BLUE")) == (100, 1)
    assert (counter(ORDERS_RESERVED), counter(ORDERS_REJECTED)) == (0, 1)
    [(body, attributes)] = published.drain()
    assert attributes["event_type"] == "OrderRejected"
    assert [reason["sku"] for reason in body["reasons"]] == ["MUG-BLUE", "NO-SUCH"]


class FailingOnce:
    """Stands for a crash between the DynamoDB write and the SNS publish."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def publish(self, event: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("SNS unreachable")
        self.real.publish(event)


def test_a_crash_between_write_and_publish_does_not_lose_the_event(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    replace_services(publisher=FailingOnce(get_services().publisher))
    record = sqs_record(placed(order("ord-1", [("MUG-BLUE", 1, "12.00")])).to_json())

    assert invoke(client, "process_order", record) == [record["messageId"]]
    assert order_item("ord-1")["status"] == "RESERVED"
    assert "pending_event" in order_item("ord-1")
    assert published.drain() == []

    # SQS redelivers the same message; the reservation is not redone, the event is sent.
    assert invoke(client, "process_order", record) == []
    assert inventory.level("MUG-BLUE") == 99
    assert "pending_event" not in order_item("ord-1")
    assert [b["event_type"] for b, _ in published.drain()] == ["OrderReserved"]


def test_a_conflicting_order_with_a_known_id_fails_and_changes_nothing(
    client: Client, inventory: Inventory
) -> None:
    invoke(
        client,
        "process_order",
        sqs_record(placed(order("ord-1", [("MUG-BLUE", 1, "12.00")])).to_json()),
    )
    conflicting = sqs_record(placed(order("ord-1", [("MUG-BLUE", 5, "12.00")])).to_json())
    assert invoke(client, "process_order", conflicting) == [conflicting["messageId"]]
    assert inventory.level("MUG-BLUE") == 99


def test_an_api_order_flows_from_s3_through_sns_to_a_reservation(
    client: Client, aws: Provisioned, inventory: Inventory
) -> None:
    """The S3 notification really reaches order-intake and the fulfillment queue."""
    from app import process_order

    body = raw_body(VALID[0])
    assert (
        client.http.put(
            "/orders/ord-7", headers={"Content-Type": "application/json"}, body=body
        ).status_code
        == 201
    )
    source = SqsEventSource(
        BOTO3_SESSION.client("sqs"),
        queue_url=aws.queue_urls["order-fulfillment"],
        queue_arn=aws.queue_arns["order-fulfillment"],
        handler=process_order,
        function_name="process_order",
        wait_seconds=0,
    )
    # S3 also sent an s3:TestEvent when the notification was configured; both are consumed.
    delivered = sum(iter(source.poll_once, 0))
    assert delivered == 2
    assert queue_messages(aws.queue_urls["order-fulfillment"]) == []
    assert queue_messages(aws.queue_urls["order-fulfillment-dlq"]) == []
    status = client.http.get("/orders/ord-7").json_body
    assert status["status"] == "RESERVED"
    assert [entry["status"] for entry in status["history"]] == ["RECEIVED", "RESERVED"]
    assert inventory.level("TEA-EARLGREY") == 98


def test_s3_test_events_are_consumed_and_ignored(client: Client, aws: Provisioned) -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": aws.bucket})
    assert invoke(client, "process_order", sqs_record(body)) == []
    assert queue_messages(aws.queue_urls["order-fulfillment-dlq"]) == []
