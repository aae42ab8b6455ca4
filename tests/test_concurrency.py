"""Concurrent orders against the local AWS server: stock never goes below zero."""

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from chalice.local import LambdaContext

from chalicelib.services import reset_services
from local_stack.moto_server import LocalAws
from local_stack.resources import Provisioned, provision
from tests.conftest import Inventory, order_item
from tests.factories import order, placed, sqs_event, sqs_record

pytestmark = pytest.mark.server


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Provisioned]:
    with LocalAws() as aws:
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        provisioned = provision(boto3.session.Session(), f"sqlite:///{tmp_path / 'billing.db'}")
        for name, value in provisioned.environment.items():
            monkeypatch.setenv(name, value)
        reset_services()
        yield provisioned
        reset_services()


def test_ten_concurrent_orders_for_the_last_three_units(local_aws: Provisioned) -> None:
    from app import process_order

    inventory = Inventory()
    inventory.stock("MUG-BLUE", 3)
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
