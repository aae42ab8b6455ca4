"""Cancelling an order through the order API and the consumers, on moto (in process).

POST /orders/{order_id}/cancel: 200 with the status document (a repeat the same), 404 for
an unknown order, 409 not_cancellable with the reason; the stock back in the write that
records CANCELLED; OrderCancelled on order-events, delivered to billing (one reversal row)
and notifications (one email); the local gateway routes and authorizes the route.
"""

import dataclasses
import json
import sqlite3
from datetime import datetime
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto.ses.models import ses_backends
from werkzeug.test import Client as WsgiClient

from app import app
from chalicelib.adapters.order_store import ORDERS_CANCELLED
from chalicelib.communications import Contact
from chalicelib.observability import utc_now
from chalicelib.services import get_services
from chalicelib.settings import Settings, SettingsError
from local_stack.dashboard import LocalState, create_dashboard
from local_stack.gateway.app import LocalApiGateway, match_route
from local_stack.gateway.callers import api_arn, issue_callers
from local_stack.resources import Provisioned
from order_contracts import Order, OrderBilled, OrderPlaced, order_placed
from tests.conftest import (
    EventTap,
    Inventory,
    counter,
    invoke,
    order_item,
    queue_messages,
    replace_services,
)
from tests.factories import BILLING_QUEUE_ARN, order, placed, s3_notification, sqs_record
from tests.sigv4 import REGION, send

JSON = {"Content-Type": "application/json"}
NOTIFICATIONS_QUEUE_ARN = BILLING_QUEUE_ARN.replace("billing", "notifications")
MUGS = [("MUG-BLUE", 2, "12.00")]


@pytest.fixture
def ada(aws: Provisioned) -> Contact:
    contact = Contact("cust-0001", "Ada Lovelace", "ada@example.com")
    get_services().contacts.save_contact(contact)
    return contact


def cancel(client: Client, order_id: str) -> Any:
    return client.http.post(f"/orders/{order_id}/cancel", headers=JSON)


def request_body(order_: Order) -> str:
    """The order as a PUT's body: its id is in the URL."""
    return json.dumps({k: v for k, v in order_.document().items() if k != "order_id"})


def put(client: Client, order_: Order) -> None:
    body = request_body(order_)
    response = client.http.put(f"/orders/{order_.order_id}", headers=JSON, body=body)
    assert response.status_code == 201


def now_placed(order_: Order) -> OrderPlaced:
    """Placed now, so within the cancellation window (tests.factories places in the past)."""
    return order_placed(order_, source="web", correlation_id="corr-test", now=utc_now())


def fulfil_from_s3(client: Client, aws: Provisioned, order_id: str) -> None:
    """The S3 notification of the API's document, delivered to process_order."""
    message = sqs_record(s3_notification(aws.bucket, f"orders/{order_id}.json"))
    assert invoke(client, "process_order", message) == []


def delivered(event_json: str, queue_arn: str) -> dict[str, Any]:
    event = json.loads(event_json)
    return sqs_record(
        event_json,
        attributes={"event_type": event["event_type"], "correlation_id": event["correlation_id"]},
        queue_arn=queue_arn,
    )


def events_of(published: EventTap, event_type: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    return [(body, attrs) for body, attrs in published.drain() if body["event_type"] == event_type]


def ledger_rows(aws: Provisioned, table: str) -> list[tuple[Any, ...]]:
    path = aws.environment["BILLING_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT order_id, usd_minor FROM {table}").fetchall()  # noqa: S608


def sent_subjects() -> list[str]:
    return [m.subject for m in ses_backends["123456789012"]["us-east-1"].sent_messages]


# The API door ---------------------------------------------------------------------------------


def test_cancel_before_fulfillment_answers_cancelled_and_the_reservation_takes_nothing(
    client: Client, aws: Provisioned, inventory: Inventory, published: EventTap
) -> None:
    o = order("ord-1", MUGS)
    inventory.sell_as(o)
    put(client, o)

    response = cancel(client, "ord-1")

    assert response.status_code == 200
    body = response.json_body
    assert (body["order_id"], body["status"], body["rejection"]) == ("ord-1", "CANCELLED", [])
    assert [(e["status"], e["detail"]) for e in body["history"]] == [
        ("RECEIVED", "via api"),
        ("CANCELLED", "cancelled before fulfillment"),
    ]
    assert cancel(client, "ord-1").json_body == body  # a repeat: the same answer
    assert client.http.get("/orders/ord-1").json_body == body
    # The intake message arrives afterwards: the record is there, nothing is reserved.
    fulfil_from_s3(client, aws, "ord-1")
    assert inventory.level("MUG-BLUE") == 100
    assert order_item("ord-1")["status"] == "CANCELLED"
    [(event, attributes)] = events_of(published, "OrderCancelled")
    assert (event["cancelled_from"], attributes["event_type"]) == ("RECEIVED", "OrderCancelled")
    assert counter(ORDERS_CANCELLED) == 1


def test_cancel_of_a_reserved_order_gives_its_stock_back_once(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    o = order("ord-1", MUGS)
    inventory.sell_as(o)
    assert invoke(client, "process_order", sqs_record(now_placed(o).to_json())) == []
    assert inventory.level("MUG-BLUE") == 98

    first = cancel(client, "ord-1")
    again = cancel(client, "ord-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json_body == again.json_body
    assert [e["status"] for e in first.json_body["history"]] == [
        "RECEIVED",
        "RESERVED",
        "CANCELLED",
    ]
    assert inventory.level("MUG-BLUE") == 100
    assert counter(ORDERS_CANCELLED) == 1
    [(event, _)] = events_of(published, "OrderCancelled")
    assert event["cancelled_from"] == "RESERVED"
    assert order_item("ord-1").get("pending_event") is None  # the outbox is cleared


@pytest.mark.parametrize("order_id", ["no-such", "bad.id", "x" * 65])
def test_an_unknown_order_is_404(client: Client, aws: Provisioned, order_id: str) -> None:
    response = cancel(client, order_id)
    assert response.status_code == 404
    assert response.json_body["error"] == "not_found"


def test_a_rejected_order_is_409_not_cancellable(client: Client, inventory: Inventory) -> None:
    o = order("ord-1", [("MUG-BLUE", 101, "4.50")])
    assert invoke(client, "process_order", sqs_record(now_placed(o).to_json())) == []

    response = cancel(client, "ord-1")

    assert response.status_code == 409
    assert response.json_body["error"] == "not_cancellable"
    assert "was rejected" in response.json_body["message"]
    assert order_item("ord-1")["status"] == "REJECTED"


def test_past_the_window_is_409_and_changes_nothing(client: Client, inventory: Inventory) -> None:
    services = get_services()
    replace_services(settings=dataclasses.replace(services.settings, cancellation_window_hours=2))
    o = order("ord-1", MUGS)
    inventory.sell_as(o)
    old = placed(o)  # placed on 2026-11-21, long before now
    assert invoke(client, "process_order", sqs_record(old.to_json())) == []

    response = cancel(client, "ord-1")

    assert response.status_code == 409
    assert response.json_body["error"] == "not_cancellable"
    assert "within 2 hours" in response.json_body["message"]
    assert inventory.level("MUG-BLUE") == 98
    assert order_item("ord-1")["status"] == "RESERVED"


def test_the_window_is_a_typed_setting() -> None:
    environ = {
        name: "x"
        for name in (
            "ORDERS_BUCKET",
            "ORDERS_TABLE",
            "INVENTORY_TABLE",
            "COUNTERS_TABLE",
            "ORDER_EVENTS_TOPIC_ARN",
            "BILLING_DATABASE_URL",
            "SES_SENDER",
        )
    }
    assert Settings.from_env(environ).cancellation_window_hours == 24
    assert Settings.from_env({**environ, "CANCELLATION_WINDOW_HOURS": "48"}).cancellation_window
    with pytest.raises(SettingsError, match="CANCELLATION_WINDOW_HOURS"):
        Settings.from_env({**environ, "CANCELLATION_WINDOW_HOURS": "0"})


# The consumers --------------------------------------------------------------------------------


def test_a_confirmed_order_cancelled_is_reversed_and_told_once_whatever_the_deliveries(
    client: Client, inventory: Inventory, ada: Contact, aws: Provisioned, published: EventTap
) -> None:
    o = order("ord-1", MUGS)
    inventory.sell_as(o)
    assert invoke(client, "process_order", sqs_record(now_placed(o).to_json())) == []
    [(reserved, _)] = events_of(published, "OrderReserved")
    billing = delivered(json.dumps(reserved), BILLING_QUEUE_ARN)
    assert invoke(client, "initiate_billing", billing) == []
    billed = OrderBilled.model_validate(events_of(published, "OrderBilled")[0][0])
    assert (
        invoke(
            client, "customer_communications", delivered(billed.to_json(), NOTIFICATIONS_QUEUE_ARN)
        )
        == []
    )
    assert order_item("ord-1")["status"] == "CONFIRMED"

    assert cancel(client, "ord-1").status_code == 200
    [(cancelled, _)] = events_of(published, "OrderCancelled")
    assert cancelled["cancelled_from"] == "CONFIRMED"
    text = json.dumps(cancelled)
    for _ in range(2):  # each delivered twice
        assert invoke(client, "initiate_billing", delivered(text, BILLING_QUEUE_ARN)) == []
        assert (
            invoke(client, "customer_communications", delivered(text, NOTIFICATIONS_QUEUE_ARN))
            == []
        )
    # A late redelivery of OrderReserved charges nothing more.
    assert invoke(client, "initiate_billing", billing) == []

    [(_, charged)] = ledger_rows(aws, "billing")
    assert ledger_rows(aws, "billing_reversals") == [("ord-1", -charged)]
    reversal = get_services().ledger.reversal("ord-1")
    charge = get_services().ledger.charge("ord-1")
    assert reversal is not None
    assert charge is not None
    assert (reversal.usd_rate, reversal.rate_date) == (charge.usd_rate, charge.rate_date)
    assert sent_subjects() == ["Order ord-1 confirmed", "Order ord-1 cancelled"]
    assert get_services().ledger.order_emails("ord-1") == [
        ("cancellation", "sent"),
        ("confirmation", "sent"),
    ]
    assert inventory.level("MUG-BLUE") == 100


def test_billing_of_an_order_cancelled_before_it_was_billed_charges_nothing(
    client: Client, inventory: Inventory, aws: Provisioned, published: EventTap
) -> None:
    o = order("ord-1", MUGS)
    inventory.sell_as(o)
    assert invoke(client, "process_order", sqs_record(now_placed(o).to_json())) == []
    [(reserved, _)] = events_of(published, "OrderReserved")
    assert cancel(client, "ord-1").status_code == 200

    assert (
        invoke(client, "initiate_billing", delivered(json.dumps(reserved), BILLING_QUEUE_ARN)) == []
    )

    assert ledger_rows(aws, "billing") == []
    assert ledger_rows(aws, "billing_reversals") == []
    assert events_of(published, "OrderBilled") == []
    assert order_item("ord-1")["status"] == "CANCELLED"


def test_consumers_ignore_events_that_are_not_theirs(client: Client, aws: Provisioned) -> None:
    o = order("ord-1", MUGS)
    billed = OrderBilled.model_validate(
        {
            "order_id": "ord-1",
            "occurred_at": datetime.fromisoformat("2026-11-21T10:00:00+00:00"),
            "correlation_id": "c",
            "order": o,
            "billing": {"usd_total": "25.26", "usd_rate": "1.0523", "rate_date": "2026-11-20"},
        }
    )
    assert invoke(client, "initiate_billing", delivered(billed.to_json(), BILLING_QUEUE_ARN)) == []
    reserved = placed(o).to_json().replace('"OrderPlaced"', '"OrderReserved"')
    reserved = json.dumps({k: v for k, v in json.loads(reserved).items() if k != "source"})
    assert (
        invoke(client, "customer_communications", delivered(reserved, NOTIFICATIONS_QUEUE_ARN))
        == []
    )
    assert ledger_rows(aws, "billing") == []
    assert sent_subjects() == []
    # Not an event at all is still a failure (retried, then dead-lettered with its reason).
    junk = sqs_record("{}", queue_arn=BILLING_QUEUE_ARN)
    assert invoke(client, "initiate_billing", junk) == [junk["messageId"]]


def test_order_cancelled_reaches_billing_and_notifications(aws: Provisioned) -> None:
    sns = boto3.client("sns")
    for event_type in ("OrderCancelled", "OrderPlaced"):
        sns.publish(
            TopicArn=aws.topic_arns["order-events"],
            Message=json.dumps({"event_type": event_type}),
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
        )
    for queue in ("order-billing", "order-notifications"):
        bodies = [json.loads(m["Body"]) for m in queue_messages(aws.queue_urls[queue])]
        assert [body["event_type"] for body in bodies] == ["OrderCancelled"], queue
    intake = [json.loads(m["Body"]) for m in queue_messages(aws.queue_urls["order-fulfillment"])]
    assert all(body.get("event_type") != "OrderCancelled" for body in intake)


# The local gateway ----------------------------------------------------------------------------


def test_the_local_gateway_routes_cancel_for_the_integrator_only(
    aws: Provisioned, inventory: Inventory
) -> None:
    match = match_route("POST", "/orders/ord-1/cancel")
    assert match is not None
    assert (match.route.path, match.parameters) == (
        "/orders/{order_id}/cancel",
        {"order_id": "ord-1"},
    )
    stage = api_arn("123456789012", REGION)
    callers = issue_callers(boto3.client("iam"), stage)
    gateway = WsgiClient(LocalApiGateway(app, callers, stage, REGION))
    keys = {name: caller.key for name, caller in callers.by_name().items()}
    o = order("gw-1", MUGS)
    inventory.sell_as(o)
    body = request_body(o).encode()
    assert send(gateway, "PUT", "/orders/gw-1", body, keys["order-integrator"])[0] == 201

    status, refused = send(gateway, "POST", "/orders/gw-1/cancel", caller=keys["order-reader"])
    assert (status, refused["error"]) == (403, "access_denied")
    status, answer = send(gateway, "POST", "/orders/gw-1/cancel", caller=keys["order-integrator"])
    assert (status, answer["status"]) == (200, "CANCELLED")


def test_the_dashboard_shows_cancelled_orders_and_their_reversal(
    client: Client, inventory: Inventory, aws: Provisioned, published: EventTap
) -> None:
    o = order("ord-1", MUGS)
    inventory.sell_as(o)
    assert invoke(client, "process_order", sqs_record(now_placed(o).to_json())) == []
    [(reserved, _)] = events_of(published, "OrderReserved")
    assert (
        invoke(client, "initiate_billing", delivered(json.dumps(reserved), BILLING_QUEUE_ARN)) == []
    )
    assert cancel(client, "ord-1").status_code == 200
    [(cancelled, _)] = events_of(published, "OrderCancelled")
    assert (
        invoke(client, "initiate_billing", delivered(json.dumps(cancelled), BILLING_QUEUE_ARN))
        == []
    )

    dashboard = create_dashboard(LocalState(aws, get_services().ledger))
    dashboard.config["TESTING"] = True
    snapshot = dashboard.test_client().get("/state.json").get_json()
    page = dashboard.test_client().get("/").get_data(as_text=True)

    [row] = snapshot["orders"]
    assert (row["status"], row["usd"], row["reversed"]) == ("CANCELLED", "25.26 USD", "-25.26 USD")
    assert row["history"] == "RECEIVED → RESERVED → BILLED → CANCELLED"
    assert snapshot["counters"]["orders_cancelled"] == 1
    assert '<td class="status cancelled">CANCELLED</td>' in page
    assert "<td>-25.26 USD</td>" in page
