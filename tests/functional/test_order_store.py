"""chalicelib/adapters/order_store.py's reservation, through process_order on moto: the catalog
is the price authority, an order is reserved only at the catalog's price.

The store against its fake is in tests/functional/test_port_contracts.py; racing orders on
the local AWS server in tests/system/test_order_store.py.
"""

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.adapters.order_store import ORDERS_REJECTED, ORDERS_RESERVED
from chalicelib.services import get_services
from local_stack.resources import Provisioned
from order_contracts import CurrencyMismatch, Order, PriceChanged, StockShortage
from tests.conftest import EventTap, Inventory, counter, invoke, order_item
from tests.factories import order, placed, s3_notification, sqs_record
from tests.functional.conftest import LimitedAws
from tests.vectors import VALID, raw_body


def process(client: Client, order_: Order) -> None:
    assert invoke(client, "process_order", sqs_record(placed(order_).to_json())) == []


def stored_reasons(order_id: str) -> list[Any]:
    record = get_services().store.get(order_id)
    assert record is not None
    return record.rejection


def test_a_tampered_unit_price_is_rejected_with_both_prices_and_stock_untouched(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    inventory.stock("MUG-BLUE", 10, price="12.00")
    process(client, order("ord-1", [("MUG-BLUE", 2, "0.01")]))

    assert order_item("ord-1")["status"] == "REJECTED"
    assert stored_reasons("ord-1") == [
        PriceChanged(sku="MUG-BLUE", offered_price=Decimal("0.01"), catalog_price=Decimal("12.00"))
    ]
    assert inventory.level("MUG-BLUE") == 10
    assert (counter(ORDERS_RESERVED), counter(ORDERS_REJECTED)) == (0, 1)
    [(body, attributes)] = published.drain()
    assert attributes["event_type"] == "OrderRejected"
    assert body["reasons"] == [
        {
            "reason": "price_changed",
            "sku": "MUG-BLUE",
            "offered_price": "0.01",
            "catalog_price": "12.00",
        }
    ]


def test_a_price_changed_after_the_order_was_accepted_is_caught_at_reservation(
    client: Client, aws: Provisioned, inventory: Inventory, published: EventTap
) -> None:
    """GIVEN an order accepted at the API door at the mug's price, WHEN the price goes up."""
    inventory.stock("MUG-BLUE", 10, price="12.00")
    response = client.http.put(
        "/orders/ord-1", headers={"Content-Type": "application/json"}, body=raw_body(VALID[0])
    )
    assert response.status_code == 201
    inventory.stock("MUG-BLUE", 10, price="13.00")

    notification = sqs_record(s3_notification(aws.bucket, "orders/ord-1.json"))
    assert invoke(client, "process_order", notification) == []

    # THEN nothing is reserved, not even the tea whose price held.
    assert order_item("ord-1")["status"] == "REJECTED"
    assert stored_reasons("ord-1") == [
        PriceChanged(sku="MUG-BLUE", offered_price=Decimal("12.00"), catalog_price=Decimal("13.00"))
    ]
    assert (inventory.level("MUG-BLUE"), inventory.level("TEA-EARLGREY")) == (10, 100)
    assert [body["event_type"] for body, _ in published.drain()] == ["OrderRejected"]


def test_an_order_in_another_currency_than_the_catalogs_is_rejected(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    inventory.stock("POT-IRON", 4, price="39.00", currency="GBP")
    process(client, order("ord-1", [("POT-IRON", 1, "39.00")], currency="EUR"))

    assert order_item("ord-1")["status"] == "REJECTED"
    assert stored_reasons("ord-1") == [
        CurrencyMismatch(sku="POT-IRON", order_currency="EUR", catalog_currency="GBP")
    ]
    assert inventory.level("POT-IRON") == 4
    assert [body["event_type"] for body, _ in published.drain()] == ["OrderRejected"]


@pytest.mark.parametrize(
    ("catalog", "expected"),
    [
        # Each catalog item fails every later check too: the first in the order is reported.
        (None, StockShortage(sku="POT-IRON", reason="unknown_sku", requested=3, available=0)),
        (
            {"units": 1, "price": "45.00", "currency": "GBP"},
            CurrencyMismatch(sku="POT-IRON", order_currency="EUR", catalog_currency="GBP"),
        ),
        (
            {"units": 1, "price": "45.00", "currency": "EUR"},
            PriceChanged(
                sku="POT-IRON", offered_price=Decimal("39.00"), catalog_price=Decimal("45.00")
            ),
        ),
        (
            {"units": 1, "price": "39.00", "currency": "EUR"},
            StockShortage(sku="POT-IRON", reason="out_of_stock", requested=3, available=1),
        ),
    ],
    ids=["unknown beats currency", "currency beats price", "price beats stock", "stock"],
)
def test_one_reason_per_sku_unknown_then_currency_then_price_then_stock(
    client: Client, inventory: Inventory, catalog: dict[str, Any] | None, expected: Any
) -> None:
    if catalog is not None:
        inventory.stock("POT-IRON", **catalog)
    process(client, order("ord-1", [("POT-IRON", 3, "39.00")], currency="EUR"))

    assert order_item("ord-1")["status"] == "REJECTED"
    assert stored_reasons("ord-1") == [expected]


def test_one_bad_line_rejects_the_whole_order_and_names_only_that_sku(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    inventory.stock("MUG-BLUE", 10, price="12.00")
    inventory.stock("TEA-EARLGREY", 10, price="4.50")
    inventory.stock("TEA-OOLONG", 10, price="7.80")
    process(
        client,
        order(
            "ord-1",
            [("TEA-EARLGREY", 2, "4.50"), ("MUG-BLUE", 1, "11.00"), ("TEA-OOLONG", 1, "7.80")],
        ),
    )

    assert stored_reasons("ord-1") == [
        PriceChanged(sku="MUG-BLUE", offered_price=Decimal("11.00"), catalog_price=Decimal("12.00"))
    ]
    levels = [inventory.level(sku) for sku in ("MUG-BLUE", "TEA-EARLGREY", "TEA-OOLONG")]
    assert levels == [10, 10, 10]
    [(body, _)] = published.drain()
    assert [reason["sku"] for reason in body["reasons"]] == ["MUG-BLUE"]


def test_reasons_round_trip_through_the_order_record_exactly(
    client: Client, inventory: Inventory, published: EventTap
) -> None:
    # Stored as DynamoDB returns it, trailing zero trimmed: the reason writes it as EUR does.
    inventory.stock("MUG-BLUE", 10, price="13.5")
    inventory.stock("TEA-EARLGREY", 1, price="4.50")
    process(client, order("ord-1", [("MUG-BLUE", 1, "12.50"), ("TEA-EARLGREY", 2, "4.50")]))

    [price, shortage] = stored_reasons("ord-1")
    assert price == PriceChanged(
        sku="MUG-BLUE", offered_price=Decimal("12.50"), catalog_price=Decimal("13.50")
    )
    assert (str(price.offered_price), str(price.catalog_price)) == ("12.50", "13.50")
    assert price.describe() == "MUG-BLUE: the order offered 12.50, but the price is 13.50."
    assert shortage == StockShortage(
        sku="TEA-EARLGREY", reason="out_of_stock", requested=2, available=1
    )
    # The record says what the event said, digit for digit.
    [(body, _)] = published.drain()
    assert [reason.model_dump(mode="json") for reason in stored_reasons("ord-1")] == body["reasons"]


@pytest.mark.parametrize(
    ("catalog_price", "currency", "unit_price"),
    [
        ("39", "GBP", "39.00"),
        ("39.00", "GBP", "39"),
        ("64.990", "USD", "64.99"),
        ("1200", "JPY", "1200"),
    ],
)
def test_prices_compare_as_numbers_not_as_text(
    client: Client, inventory: Inventory, catalog_price: str, currency: str, unit_price: str
) -> None:
    inventory.stock("POT-IRON", 4, price=catalog_price, currency=currency)
    process(client, order("ord-1", [("POT-IRON", 1, unit_price)], currency=currency))

    assert order_item("ord-1")["status"] == "RESERVED"
    assert inventory.level("POT-IRON") == 3


def test_no_item_outside_an_orders_skus_is_written_by_more_than_a_few_orders(
    client: Client, aws_limits: Callable[..., LimitedAws]
) -> None:
    """Each order's DynamoDB writes, as the limits model records them at the botocore layer.

    One item that every order writes caps the whole system at its 1,000 write units a second
    (500 reservations) and makes overlapping orders conflict: the order count is sharded.
    """
    limited = aws_limits()
    skus = ["TEA-EARLGREY", "MUG-BLUE", "TEA-MATCHA", "DATES-1KG"]
    inventory = Inventory()
    for sku in skus:
        inventory.stock(sku, 1000)
    orders = [order(f"ord-{n:03}", [(skus[n % 4], 1, "4.50")]) for n in range(60)]
    writers: dict[tuple[str, str], set[str]] = {}

    for o in orders:
        before = Counter(limited.model.writes)
        process(client, o)
        for item in Counter(limited.model.writes) - before:
            writers.setdefault(item, set()).add(o.order_id)

    assert all(order_item(o.order_id)["status"] == "RESERVED" for o in orders)
    outside = {item: ids for item, ids in writers.items() if item[0] != "inventory"}
    assert outside  # the orders and the count were written, and recorded
    busiest = max(len(ids) for ids in outside.values())
    assert busiest <= len(orders) // 10, sorted(outside, key=lambda i: -len(outside[i]))[:3]
    assert counter(ORDERS_RESERVED) == 60
