"""The business metrics the handlers emit, on moto through the Chalice client and the web
tier's Flask client: one count per order and outcome, whatever the deliveries, and every
line valid embedded metric format (tests/emf.py).
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from flask import Flask

from chalicelib import metrics
from chalicelib.communications import Contact
from chalicelib.services import get_services
from local_stack.dashboard import LocalState, create_dashboard
from local_stack.metrics import MetricTotals
from local_stack.resources import Provisioned
from order_contracts import Order, OrderBilled, OrderReserved, order_placed
from order_contracts.metrics import SERVICE
from order_web import create_app
from tests import emf
from tests.conftest import BOTO3_SESSION, Inventory, invoke, replace_services
from tests.factories import order, s3_notification, sqs_record
from tests.vectors import VALID
from tests.web import order_form, web_settings

SERVICE_ONLY = (("service", SERVICE),)
AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # a Saturday: Friday's rates apply
JSON = {"Content-Type": "application/json"}
BILLING_ARN = "arn:aws:sqs:us-east-1:123456789012:order-billing"
NOTIFICATIONS_ARN = "arn:aws:sqs:us-east-1:123456789012:order-notifications"


@pytest.fixture
def lines() -> Iterator[list[str]]:
    written: list[str] = []
    metrics.set_writer(written.append)
    yield written
    metrics.set_writer(None)


@pytest.fixture
def shop(inventory: Inventory) -> Inventory:
    inventory.stock("MUG-BLUE", 100, price="12.00")
    get_services().contacts.save_contact(Contact("cust-0001", "Ada Lovelace", "ada@example.com"))
    return inventory


def put(client: Client, order_: Order) -> int:
    body = json.dumps({k: v for k, v in order_.document().items() if k != "order_id"})
    return int(client.http.put(f"/orders/{order_.order_id}", headers=JSON, body=body).status_code)


def fulfil(client: Client, aws: Provisioned, order_id: str) -> None:
    """The S3 notification of the API's document, delivered to process_order."""
    message = sqs_record(s3_notification(aws.bucket, f"orders/{order_id}.json"))
    assert invoke(client, "process_order", message) == []


def delivered(event: OrderReserved | OrderBilled, queue_arn: str) -> dict[str, object]:
    return sqs_record(event.to_json(), attributes=event.attributes(), queue_arn=queue_arn)


def test_an_order_counts_once_at_each_stage_however_often_it_is_delivered(
    client: Client, aws: Provisioned, shop: Inventory, lines: list[str]
) -> None:
    o = order("ord-1", [("MUG-BLUE", 2, "12.00")])
    assert (put(client, o), put(client, o)) == (201, 200)  # the repeat is no new order
    fulfil(client, aws, "ord-1")
    fulfil(client, aws, "ord-1")  # the same notification again: reserves, and counts, nothing
    reserved = OrderReserved(order_id="ord-1", occurred_at=AT, correlation_id="c", order=o)
    for _ in range(2):
        assert invoke(client, "initiate_billing", delivered(reserved, BILLING_ARN)) == []
    billed_at = get_services().ledger.charge("ord-1")
    assert billed_at is not None
    billed = OrderBilled(
        order_id="ord-1",
        occurred_at=AT,
        correlation_id="c",
        order=o,
        billing={
            "usd_total": billed_at.usd_amount,
            "usd_rate": billed_at.usd_rate,
            "rate_date": billed_at.rate_date,
        },
    )
    assert invoke(client, "customer_communications", delivered(billed, NOTIFICATIONS_ARN)) == []

    assert all(emf.problems(line) == [] for line in lines)
    assert emf.totals(lines) == {
        ("OrdersPlaced", (*SERVICE_ONLY, ("door", "api"))): 1,
        ("OrdersReserved", SERVICE_ONLY): 1,
        ("OrdersBilled", SERVICE_ONLY): 1,
        ("BilledUSD", SERVICE_ONLY): float(billed_at.usd_amount),
        ("EmailsSent", SERVICE_ONLY): 1,
    }


def test_a_rejection_counts_its_reason(
    client: Client, aws: Provisioned, shop: Inventory, lines: list[str]
) -> None:
    assert put(client, order("ord-2", [("MUG-BLUE", 101, "12.00")])) == 201
    fulfil(client, aws, "ord-2")

    totals = emf.totals(lines)
    assert totals[("OrdersRejected", SERVICE_ONLY)] == 1
    assert totals[("OrderRejectionReasons", (*SERVICE_ONLY, ("reason", "out_of_stock")))] == 1
    assert ("OrdersReserved", SERVICE_ONLY) not in totals


def test_a_cancel_counts_once_however_often_it_is_asked(
    client: Client, aws: Provisioned, shop: Inventory, lines: list[str]
) -> None:
    o = order("ord-3", [("MUG-BLUE", 1, "12.00")])
    assert put(client, o) == 201
    for _ in range(2):
        assert client.http.post("/orders/ord-3/cancel", headers=JSON).status_code == 200

    assert emf.totals(lines)[("OrdersCancelled", SERVICE_ONLY)] == 1


def test_failures_count_retries_dead_letters_and_failed_emails(
    client: Client, aws: Provisioned, lines: list[str]
) -> None:
    nobody = {**VALID[0]["body"]["customer"], "customer_id": "cust-nobody"}
    o = order("ord-4", [("MUG-BLUE", 1, "12.00")], customer=nobody)
    unknown_customer = OrderBilled(
        order_id="ord-4",
        occurred_at=AT,
        correlation_id="c",
        order=o,
        billing={"usd_total": "12.63", "usd_rate": "1.0523", "rate_date": "2026-11-20"},
    )
    record = delivered(unknown_customer, NOTIFICATIONS_ARN)
    assert invoke(client, "customer_communications", record) == [record["messageId"]]
    assert invoke(client, "process_order", sqs_record("not json", receive_count=5)) == []

    assert emf.totals(lines) == {
        ("EmailsFailed", SERVICE_ONLY): 1,
        ("RecordsRetried", SERVICE_ONLY): 1,
        ("RecordsDeadLettered", SERVICE_ONLY): 1,
    }


class ThrottledStore:
    """DynamoDB still throttling after botocore's retries."""

    def get(self, order_id: str) -> None:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
        raise ClientError(error, "GetItem")  # type: ignore[arg-type]


def test_a_throttled_record_counts_as_throttled_and_retried(
    client: Client, aws: Provisioned, lines: list[str]
) -> None:
    """Still throttled after the retries in the invocation, it is put back on its queue (not
    failed: contention never counts toward the DLQ) and counted."""
    replace_services(store=ThrottledStore())
    o = order("ord-5", [("MUG-BLUE", 1, "12.00")])
    record = sqs_record(order_placed(o, source="web", correlation_id="c", now=AT).to_json())

    assert invoke(client, "process_order", record) == []
    assert emf.totals(lines) == {
        ("RecordsThrottled", SERVICE_ONLY): 1,
        ("RecordsRetried", SERVICE_ONLY): 1,
    }


def test_the_web_door_writes_its_placed_count_to_stdout(
    aws: Provisioned, inventory: Inventory, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory.stock("MUG-BLUE", 5, price="12.00", currency="EUR")
    app: Flask = create_app(
        {"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": web_settings(aws), "TESTING": True}
    )
    with app.test_client() as shop:
        form = order_form(shop)
        assert shop.post("/orders", data=form).status_code == 303
        assert shop.post("/orders", data=form).status_code == 303  # a double submit: one order

    out = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf.totals(out) == {("OrdersPlaced", (*SERVICE_ONLY, ("door", "web"))): 1}


def test_the_local_dashboard_shows_the_metrics_the_handlers_wrote(
    client: Client, aws: Provisioned, shop: Inventory
) -> None:
    totals = MetricTotals()
    metrics.set_writer(totals.feed)
    try:
        assert put(client, order("ord-6", [("MUG-BLUE", 1, "12.00")])) == 201
        fulfil(client, aws, "ord-6")
    finally:
        metrics.set_writer(None)

    dashboard = create_dashboard(LocalState(aws, get_services().ledger, totals))
    shown = dashboard.test_client().get("/state.json").get_json()["metrics"]
    page = dashboard.test_client().get("/").get_data(as_text=True)

    seen = {(m["name"], m["dimension"]): m["total"] for m in shown}
    assert seen[("OrdersPlaced", "door=api")] == 1
    assert seen[("OrdersReserved", "")] == 1
    assert seen[("OrdersBilled", "")] == 0
    assert "Business metrics" in page
    assert "OrdersReserved" in page
