"""One status shape for both doors: OrderStatusView, read from what the order store wrote."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import boto3
import pytest
from chalice.test import Client
from pydantic import ValidationError

from local_stack.resources import Provisioned
from order_contracts import (
    CurrencyMismatch,
    Order,
    OrderReserved,
    PriceChanged,
    StockShortage,
    UnsupportedCurrency,
)
from order_contracts.status import OrderStatusView
from order_web.adapters import OrderStatuses
from tests.conftest import Inventory, invoke, order_item
from tests.factories import BILLING_QUEUE_ARN, order, placed, sqs_record

# The items are written by the Lambda functions themselves (their DynamoDB order store on
# moto), so these tests follow whatever that store writes.
RESERVED_AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # a Saturday: Friday's rates apply


def reserve(client: Client, order_: Order, source: Literal["web", "api"] = "web") -> Order:
    Inventory().sell_as(order_)
    event = placed(order_, source=source)
    assert invoke(client, "process_order", sqs_record(event.to_json())) == []
    return order_


def bill(client: Client, order_: Order) -> None:
    event = OrderReserved(
        order_id=order_.order_id, occurred_at=RESERVED_AT, correlation_id="corr-test", order=order_
    )
    record = sqs_record(event.to_json(), attributes=event.attributes(), queue_arn=BILLING_QUEUE_ARN)
    assert invoke(client, "initiate_billing", record) == []


def reserved(client: Client, inventory: Inventory) -> str:
    return reserve(client, order("ord-status-reserved"), source="api").order_id


def billed(client: Client, inventory: Inventory) -> str:
    placed_order = reserve(
        client, order("ord-status-billed", [("TEA-MATCHA", 3, "1200")], currency="JPY")
    )
    bill(client, placed_order)
    return placed_order.order_id


def rejected(client: Client, inventory: Inventory) -> str:
    """Refused at reservation: not enough stock, an unknown SKU, another price, another currency."""
    inventory.stock("DATES-1KG", 100, price="4.50", currency="GBP")
    lines = [
        ("MUG-BLUE", 200, "4.50"),
        ("MUG-GREEN", 1, "3.00"),
        ("TEA-EARLGREY", 1, "4.00"),
        ("DATES-1KG", 1, "4.50"),
    ]
    event = placed(order("ord-status-rejected", lines))
    assert invoke(client, "process_order", sqs_record(event.to_json())) == []
    return event.order_id


def released(client: Client, inventory: Inventory) -> str:
    """Reserved, then rejected by billing (no rate for ARS): the stock goes back."""
    placed_order = reserve(
        client, order("ord-status-released", [("MUG-BLUE", 2, "15000.00")], currency="ARS")
    )
    bill(client, placed_order)
    return placed_order.order_id


@pytest.mark.parametrize(
    ("record", "status"),
    [(reserved, "RESERVED"), (billed, "BILLED"), (rejected, "REJECTED"), (released, "REJECTED")],
    ids=["reserved", "billed", "rejected", "rejected by billing"],
)
def test_both_doors_answer_with_one_document(
    record: Callable[[Client, Inventory], str],
    status: str,
    client: Client,
    inventory: Inventory,
    aws: Provisioned,
) -> None:
    order_id = record(client, inventory)

    view = OrderStatusView.from_item(order_item(order_id) or {})

    assert view.status == status

    api_door = client.http.get(f"/orders/{order_id}")
    assert api_door.status_code == 200
    assert view.document() == json.loads(api_door.body)
    web_door = OrderStatuses(boto3.client("dynamodb"), aws.environment["ORDERS_TABLE"])
    assert web_door.status(order_id) == view


def test_rejection_reasons_come_back_exact_and_in_words(
    client: Client, inventory: Inventory
) -> None:
    view = OrderStatusView.from_item(order_item(rejected(client, inventory)) or {})

    assert view.status == "REJECTED"
    assert view.is_final
    assert view.rejection == [  # by SKU, as the reservation checks them
        CurrencyMismatch(sku="DATES-1KG", order_currency="EUR", catalog_currency="GBP"),
        StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=200, available=100),
        StockShortage(sku="MUG-GREEN", reason="unknown_sku", requested=1, available=0),
        PriceChanged(
            sku="TEA-EARLGREY", offered_price=Decimal("4.00"), catalog_price=Decimal("4.50")
        ),
    ]
    document = view.document()["rejection"]
    assert document[1] == {  # counts are ints again, not DynamoDB's Decimal
        "sku": "MUG-BLUE",
        "reason": "out_of_stock",
        "requested": 200,
        "available": 100,
    }
    assert (document[3]["offered_price"], document[3]["catalog_price"]) == ("4.00", "4.50")
    assert view.rejection[3].describe() == (
        "TEA-EARLGREY: the order offered 4.00, but the price is 4.50."
    )


def test_a_rejection_by_billing_is_in_the_status_too(client: Client, inventory: Inventory) -> None:
    view = OrderStatusView.from_item(order_item(released(client, inventory)) or {})

    assert [entry.status for entry in view.history] == ["RECEIVED", "RESERVED", "REJECTED"]
    assert view.rejection == [UnsupportedCurrency(currency="ARS")]


def test_times_are_aware_and_written_back_as_the_pipeline_recorded_them() -> None:
    recorded = ["2026-11-21T14:03:07.123456+00:00", "2026-11-21T15:03:08+01:00"]
    item = {
        "order_id": "web-0123456789abcdef0123456789abcdef",
        "status": "RESERVED",
        "history": [
            {"status": "RECEIVED", "at": recorded[0], "detail": "via web"},
            {"status": "RESERVED", "at": recorded[1], "detail": ""},
        ],
        "fingerprint": "ignored",
    }

    view = OrderStatusView.from_item(item)

    assert [entry.at.utcoffset() is not None for entry in view.history] == [True, True]
    assert [entry["at"] for entry in view.document()["history"]] == recorded
    assert view.document()["rejection"] == []
    assert not view.is_final


def test_a_status_not_recorded_yet_is_received_with_no_history() -> None:
    view = OrderStatusView(order_id="web-0123456789abcdef0123456789abcdef", status="RECEIVED")
    assert view.document() == {
        "order_id": "web-0123456789abcdef0123456789abcdef",
        "status": "RECEIVED",
        "history": [],
        "rejection": [],
    }


@pytest.mark.parametrize(
    "change",
    [
        {"status": "LOST"},
        {"history": [{"status": "RECEIVED", "at": "2026-11-21T14:03:07"}]},  # no zone
        {"rejection": [{"reason": "teleported", "sku": "MUG-BLUE"}]},
        {"order_id": "no spaces allowed"},
    ],
    ids=["status", "naive time", "reason", "order id"],
)
def test_the_contract_refuses_what_it_does_not_know(change: dict[str, Any]) -> None:
    item = {"order_id": "ord-1", "status": "RECEIVED", **change}
    with pytest.raises(ValidationError):
        OrderStatusView.from_item(item)
