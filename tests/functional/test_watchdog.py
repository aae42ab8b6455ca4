"""The stuck-order watchdog on moto, through the Chalice client (app.py, chalicelib/watchdog.py).

Orders go through the real consumers; one is held back on purpose (its billing message is
never delivered). The scheduled function reports that one, with what it waits for, and none
of the orders that finished, were rejected, or are in flight but recent; StuckOrders says 1.
"""

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.adapters.in_flight import IN_FLIGHT_INDEX, SHARDS
from chalicelib.communications import Contact
from chalicelib.observability import utc_now
from chalicelib.services import get_services
from chalicelib.watchdog import StuckOrder, find_stuck
from local_stack.dashboard import LocalState, create_dashboard
from local_stack.resources import Provisioned
from order_contracts import order_placed
from tests.conftest import BOTO3_SESSION, EventTap, Inventory, invoke, order_item
from tests.factories import BILLING_QUEUE_ARN, order, sqs_record

NOTIFICATIONS_QUEUE_ARN = BILLING_QUEUE_ARN.replace("billing", "notifications")
TEA = [("TEA-EARLGREY", 1, "4.50")]


@pytest.fixture
def ada(aws: Provisioned) -> None:
    get_services().contacts.save_contact(Contact("cust-0001", "Ada Lovelace", "ada@example.com"))


def place(client: Client, order_id: str, minutes_ago: int, lines: Any = TEA) -> None:
    """Placed minutes_ago at the storefront; process_order reserves (or rejects) it now."""
    placed = order_placed(
        order(order_id, lines),
        source="web",
        correlation_id=f"corr-{order_id}",
        now=utc_now() - timedelta(minutes=minutes_ago),
    )
    assert invoke(client, "process_order", sqs_record(placed.to_json())) == []


def deliver(client: Client, published: EventTap, event_type: str, order_id: str) -> None:
    """The order's event_type, from order-events to its consumer (the others are held)."""
    function, queue_arn = {
        "OrderReserved": ("initiate_billing", BILLING_QUEUE_ARN),
        "OrderBilled": ("customer_communications", NOTIFICATIONS_QUEUE_ARN),
    }[event_type]
    (body,) = [
        body
        for body, _ in published.drain()
        if body["event_type"] == event_type and body["order_id"] == order_id
    ]
    record = sqs_record(
        json.dumps(body),
        attributes={"event_type": event_type, "correlation_id": body["correlation_id"]},
        queue_arn=queue_arn,
    )
    assert invoke(client, function, record) == []


def watch(client: Client) -> None:
    client.lambda_.invoke(
        "watch_stuck_orders",
        client.events.generate_cw_event("Scheduled Event", "aws.events", {}, []),
    )


def lines_of(output: io.StringIO, message: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in output.getvalue().splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry.get("message") == message]


def test_the_watchdog_reports_the_order_held_back_and_not_the_finished_one(
    client: Client,
    aws: Provisioned,
    inventory: Inventory,
    published: EventTap,
    ada: None,
    log_output: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    place(client, "finished", minutes_ago=45)
    deliver(client, published, "OrderReserved", "finished")
    deliver(client, published, "OrderBilled", "finished")
    place(client, "held", minutes_ago=40)  # its OrderReserved never reaches billing
    place(client, "recent", minutes_ago=1)  # in flight too, but not for long yet
    place(client, "rejected", minutes_ago=50, lines=[("TEA-EARLGREY", 1_000, "4.50")])
    published.drain()
    assert [order_item(o)["status"] for o in ("finished", "held", "recent", "rejected")] == [
        "CONFIRMED",
        "RESERVED",
        "RESERVED",
        "REJECTED",
    ]
    capsys.readouterr()

    watch(client)

    [stuck] = lines_of(log_output, "order stuck")
    assert stuck["order_id"] == "held"
    assert stuck["correlation_id"] == "corr-held"
    assert stuck["status"] == "RESERVED"
    assert stuck["waiting_for"] == "billing (initiate_billing, queue order-billing)"
    assert stuck["minutes_since_placement"] == 40
    [counted] = lines_of(log_output, "stuck orders counted")
    assert counted["stuck"] == 1
    # The metric, in the embedded metric format CloudWatch Logs extracts from stdout.
    [metric] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (directive,) = metric["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "OrderPipeline"
    assert directive["Metrics"] == [{"Name": "StuckOrders", "Unit": "Count"}]
    # Powertools' service dimension only (POWERTOOLS_SERVICE_NAME): one series, one alarm.
    assert directive["Dimensions"] == [["service"]]
    assert metric["service"] == "order-pipeline"
    assert metric["StuckOrders"] == [1.0]


def test_an_order_leaves_the_in_flight_index_when_it_becomes_final(
    client: Client, aws: Provisioned, inventory: Inventory, published: EventTap, ada: None
) -> None:
    place(client, "ord-1", minutes_ago=5)
    assert in_flight() == ["ord-1"]
    deliver(client, published, "OrderReserved", "ord-1")
    assert in_flight() == ["ord-1"]  # BILLED is not final
    deliver(client, published, "OrderBilled", "ord-1")
    assert in_flight() == []
    place(client, "ord-2", minutes_ago=5, lines=[("TEA-EARLGREY", 1_000, "4.50")])
    assert in_flight() == []  # rejected at reservation: never in flight


def in_flight() -> list[str]:
    dynamodb = BOTO3_SESSION.client("dynamodb")
    return sorted(
        item["order_id"]["S"]
        for shard in range(SHARDS)
        for item in dynamodb.query(
            TableName="orders",
            IndexName=IN_FLIGHT_INDEX,
            KeyConditionExpression="in_flight_shard = :shard",
            ExpressionAttributeValues={":shard": {"S": str(shard)}},
        )["Items"]
    )


def test_the_local_dashboard_lists_the_stuck_orders(
    client: Client, aws: Provisioned, inventory: Inventory, published: EventTap, ada: None
) -> None:
    place(client, "finished", minutes_ago=45)
    deliver(client, published, "OrderReserved", "finished")
    deliver(client, published, "OrderBilled", "finished")
    place(client, "held", minutes_ago=40)
    services = get_services()

    def stuck() -> list[StuckOrder]:
        return find_stuck(services.in_flight, services.store, utc_now(), timedelta(minutes=30))[0]

    page = create_dashboard(LocalState(aws, services.ledger, find_stuck=stuck)).test_client()

    [row] = page.get("/state.json").get_json()["stuck_orders"]
    assert (row["order_id"], row["status"], row["minutes"]) == ("held", "RESERVED", 40)
    html = page.get("/").get_data(as_text=True)
    table = html[html.index('id="stuck-orders"') :]
    assert "held" in table
    assert "finished" not in table
