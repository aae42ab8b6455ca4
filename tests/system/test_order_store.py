"""chalicelib/adapters/order_store.py under concurrency, on the local AWS server: concurrent
orders never take stock below zero.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from chalice.local import LambdaContext

from local_stack.moto_server import LocalAws
from local_stack.resources import Provisioned, provision
from tests.conftest import EventTap, Inventory, order_item, services_of
from tests.factories import order, placed, sqs_event, sqs_record


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Provisioned]:
    with LocalAws() as aws:
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        provisioned = provision(boto3.session.Session(), f"sqlite:///{tmp_path / 'billing.db'}")
        with services_of(provisioned):
            yield provisioned


def test_ten_concurrent_orders_for_the_last_three_units(local_aws: Provisioned) -> None:
    from app import process_order

    inventory = Inventory()
    inventory.stock("MUG-BLUE", 3, price="12.00")
    events = [
        sqs_event(sqs_record(placed(order(f"ord-{n}", [("MUG-BLUE", 1, "12.00")])).to_json()))
        for n in range(10)
    ]
    start = threading.Barrier(len(events))
    failures: list[object] = []

    def deliver(event: dict) -> None:
        start.wait()
        response = process_order(event, LambdaContext("process_order", 512))
        failures.extend(response["batchItemFailures"])

    threads = [threading.Thread(target=deliver, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    statuses = Counter(order_item(f"ord-{n}")["status"] for n in range(10))
    assert statuses == {"RESERVED": 3, "REJECTED": 7}
    assert inventory.level("MUG-BLUE") == 0
    for n in range(10):
        item = order_item(f"ord-{n}")
        if item["status"] == "REJECTED":
            assert [(r["sku"], r["reason"]) for r in item["rejection"]] == [
                ("MUG-BLUE", "out_of_stock")
            ]


def test_a_price_change_racing_twenty_orders_splits_them_at_the_change(
    local_aws: Provisioned,
) -> None:
    """Each order is decided once, at the price in force when its reservation ran.

    Half the orders offer the old price, half the new one. The change comes in once a first
    order is reserved, racing the other nine of the first ten; the last ten start after it.
    """
    from app import process_order

    inventory = Inventory()
    inventory.stock("MUG-BLUE", 100, price="12.00")
    tap = EventTap(local_aws)
    offers = {f"ord-{n}": ("12.00", "13.00")[n % 2] for n in range(20)}
    units = {f"ord-{n}": n % 3 + 1 for n in range(20)}
    events = [
        sqs_event(
            sqs_record(placed(order(order_id, [("MUG-BLUE", units[order_id], offer)])).to_json())
        )
        for order_id, offer in offers.items()
    ]
    start = threading.Barrier(11)  # the first ten orders and the price change
    changed = threading.Event()
    failures: list[object] = []

    def deliver(event: dict, after: threading.Event | threading.Barrier) -> None:
        after.wait()
        response = process_order(event, LambdaContext("process_order", 512))
        failures.extend(response["batchItemFailures"])

    def change_price() -> None:
        start.wait()
        deadline = time.monotonic() + 30
        while inventory.level("MUG-BLUE") == 100 and time.monotonic() < deadline:
            time.sleep(0.001)
        boto3.client("dynamodb").update_item(
            TableName="inventory",
            Key={"sku": {"S": "MUG-BLUE"}},
            UpdateExpression="SET price = :price",
            ExpressionAttributeValues={":price": {"N": "13.00"}},
        )
        changed.set()

    threads = [
        threading.Thread(target=deliver, args=(event, start if n < 10 else changed))
        for n, event in enumerate(events)
    ]
    threads.append(threading.Thread(target=change_price))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    other = {"12.00": "13.00", "13.00": "12.00"}
    reserved = []
    for order_id, offer in offers.items():
        item = order_item(order_id)
        if item["status"] == "RESERVED":
            reserved.append(order_id)
            assert item["rejection"] == []
        else:
            assert item["status"] == "REJECTED"
            assert item["rejection"] == [
                {
                    "reason": "price_changed",
                    "sku": "MUG-BLUE",
                    "offered_price": offer,
                    "catalog_price": other[offer],
                }
            ]
    # Some order was reserved at the old price; every order placed after the change was
    # decided at the new one.
    assert any(offers[order_id] == "12.00" for order_id in reserved)
    assert [order_id in reserved for order_id in list(offers)[10:]] == [False, True] * 5
    assert inventory.level("MUG-BLUE") == 100 - sum(units[order_id] for order_id in reserved)
    # One outcome per order, and the one its record holds: never reserved and rejected both.
    outcomes = Counter((body["order_id"], body["event_type"]) for body, _ in tap.drain())
    assert outcomes == {
        (order_id, "OrderReserved" if order_id in reserved else "OrderRejected"): 1
        for order_id in offers
    }
