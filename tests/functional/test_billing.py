"""initiate_billing through the Chalice client on moto (app.py, consumers.py, billing.py):
one ledger row and one OrderBilled per order, in USD, whatever the retries.

billing.initiate_billing alone, on fakes, is in tests/unit/test_billing.py.
"""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalice.test import Client

from chalicelib.adapters.order_store import ORDERS_REJECTED
from chalicelib.services import get_services
from local_stack.resources import Provisioned
from order_contracts import Order, OrderReserved
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
from tests.factories import BILLING_QUEUE_ARN, order, placed, sqs_record

RESERVED_AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # a Saturday: Friday's rates apply


def reserve(client: Client, order_: Order) -> OrderReserved:
    """Run the order through fulfillment, at the catalog's price, as the pipeline does."""
    Inventory().sell_as(order_)
    assert invoke(client, "process_order", sqs_record(placed(order_).to_json())) == []
    assert order_item(order_.order_id)["status"] == "RESERVED"
    return OrderReserved(
        order_id=order_.order_id, occurred_at=RESERVED_AT, correlation_id="corr-test", order=order_
    )


def billing_record(event: OrderReserved) -> dict[str, Any]:
    return sqs_record(event.to_json(), attributes=event.attributes(), queue_arn=BILLING_QUEUE_ARN)


def test_a_reserved_order_is_billed_in_usd_and_announced(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    reserved = reserve(client, order("ord-1", [("TEA-MATCHA", 3, "1200")], currency="JPY"))
    published.drain()

    assert invoke(client, "initiate_billing", billing_record(reserved)) == []

    entry = get_services().ledger.charge("ord-1")
    assert entry is not None
    # 1.0523 / 162.45 = 0.0064776854 USD per yen (Friday 2026-11-20); 3600 x that = 23.3197
    assert (entry.amount, entry.currency, entry.usd_amount) == (
        Decimal("3600"),
        "JPY",
        Decimal("23.32"),
    )
    assert (entry.usd_rate, entry.rate_date.isoformat()) == (Decimal("0.0064776854"), "2026-11-20")
    assert order_item("ord-1")["status"] == "BILLED"
    assert "pending_event" not in order_item("ord-1")
    [(body, attributes)] = published.drain()
    assert attributes == {"event_type": "OrderBilled", "correlation_id": "corr-test"}
    assert body["billing"] == {
        "usd_total": "23.32",
        "usd_rate": "0.0064776854",
        "rate_date": "2026-11-20",
    }
    history = client.http.get("/orders/ord-1").json_body["history"]
    assert [entry["status"] for entry in history] == ["RECEIVED", "RESERVED", "BILLED"]


def test_a_duplicate_order_reserved_bills_once(
    client: Client, inventory: Inventory, published: EventTap, aws: Provisioned
) -> None:
    reserved = reserve(client, order("ord-1"))
    published.drain()
    assert invoke(client, "initiate_billing", billing_record(reserved)) == []
    assert invoke(client, "initiate_billing", billing_record(reserved)) == []

    assert [body["event_type"] for body, _ in published.drain()] == ["OrderBilled"]
    assert _ledger_rows(aws) == 1


class FailingOnce:
    """Stands for a crash after the ledger row and before the order's status moves."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def advance(self, *args: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("DynamoDB unreachable")
        return self.real.advance(*args)


def test_a_crash_between_ledger_and_status_bills_once_on_retry(
    client: Client, inventory: Inventory, published: EventTap, aws: Provisioned
) -> None:
    reserved = reserve(client, order("ord-1"))
    published.drain()
    services = replace_services(store=FailingOnce(get_services().store))
    record = billing_record(reserved)

    assert invoke(client, "initiate_billing", record) == [record["messageId"]]
    assert order_item("ord-1")["status"] == "RESERVED"
    first = services.ledger.charge("ord-1")

    assert invoke(client, "initiate_billing", record) == []
    assert order_item("ord-1")["status"] == "BILLED"
    assert services.ledger.charge("ord-1") == first
    assert _ledger_rows(aws) == 1
    [(body, _)] = published.drain()
    assert body["billing"]["usd_total"] == str(first.usd_amount if first else None)


def test_an_unsupported_currency_rejects_the_order_and_gives_its_stock_back(
    client: Client, inventory: Inventory, published: EventTap, aws: Provisioned
) -> None:
    # ARS is valid ISO 4217, but the ECB publishes no rate for it.
    reserved = reserve(client, order("ord-1", [("MUG-BLUE", 2, "15000.00")], currency="ARS"))
    assert inventory.level("MUG-BLUE") == 98
    published.drain()

    assert invoke(client, "initiate_billing", billing_record(reserved)) == []

    item = order_item("ord-1")
    assert item["status"] == "REJECTED"
    assert item["rejection"] == [{"reason": "unsupported_currency", "currency": "ARS"}]
    assert inventory.level("MUG-BLUE") == 100
    assert counter(ORDERS_REJECTED) == 1
    assert _ledger_rows(aws) == 0
    [(body, attributes)] = published.drain()
    assert attributes["event_type"] == "OrderRejected"
    assert body["reasons"] == [{"reason": "unsupported_currency", "currency": "ARS"}]

    # A duplicate does not give the stock back twice.
    assert invoke(client, "initiate_billing", billing_record(reserved)) == []
    assert inventory.level("MUG-BLUE") == 100
    assert published.drain() == []


def test_an_order_reserved_for_an_unknown_order_fails_and_bills_nothing(
    client: Client, aws: Provisioned
) -> None:
    reserved = OrderReserved(
        order_id="ghost", occurred_at=RESERVED_AT, correlation_id="c", order=order("ghost")
    )
    record = billing_record(reserved)
    assert invoke(client, "initiate_billing", record) == [record["messageId"]]
    assert _ledger_rows(aws) == 0


def test_only_order_reserved_reaches_the_billing_queue(aws: Provisioned) -> None:
    sns = BOTO3_SESSION.client("sns")
    for event_type in ("OrderReserved", "OrderRejected", "OrderBilled"):
        sns.publish(
            TopicArn=aws.topic_arns["order-events"],
            Message=json.dumps({"event_type": event_type}),
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
        )
    messages = queue_messages(aws.queue_urls["order-billing"])
    assert [json.loads(m["Body"])["event_type"] for m in messages] == ["OrderReserved"]


def _ledger_rows(aws: Provisioned) -> int:
    import sqlite3

    path = aws.environment["BILLING_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM billing").fetchone()[0])
