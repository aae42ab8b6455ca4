"""order_contracts/status.py from both doors: orders_api and order_web/adapters.py answer
with one OrderStatusView, read from what the order store wrote (on moto).
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import pytest
from chalice.test import Client

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
from tests.conftest import BOTO3_SESSION, Inventory, invoke, order_item
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
    web_door = OrderStatuses(BOTO3_SESSION.client("dynamodb"), aws.environment["ORDERS_TABLE"])
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
