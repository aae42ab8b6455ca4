"""A hot SKU under concurrent orders with the AWS limits model on, on the local AWS server.

Real threads, real overlaps: transactions on the hot item and on the count's shards conflict
as on DynamoDB (local_stack/aws_limits.py), and chalicelib/contention.py rides them out. The
SKU sells out exactly: no oversell, every loser REJECTED out of stock, the counts exact,
nothing failed or dead-lettered.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.local import LambdaContext

from chalicelib.adapters.order_store import ORDERS_REJECTED, ORDERS_RESERVED
from chalicelib.services import build_services, reset_services, set_services
from chalicelib.settings import Settings
from local_stack.aws_limits import AwsLimits
from local_stack.moto_server import LocalAws
from local_stack.resources import Provisioned, provision
from tests.conftest import Inventory, counter, order_item
from tests.factories import order, placed, sqs_event, sqs_record

ORDERS, UNITS = 40, 15


@pytest.fixture
def limited_aws(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Provisioned, AwsLimits]]:
    with LocalAws() as aws:
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        provisioned = provision(boto3.session.Session(), f"sqlite:///{tmp_path / 'billing.db'}")
        model = AwsLimits()
        session = boto3.session.Session()
        model.install(session)
        set_services(build_services(Settings.from_env(provisioned.environment), session))
        try:
            yield provisioned, model
        finally:
            reset_services()


def _deliver(records: list[dict[str, Any]]) -> list[object]:
    """Each record in its own invocation, all at once; the failures they report."""
    from app import process_order

    start = threading.Barrier(len(records))
    failures: list[object] = []

    def deliver(record: dict[str, Any]) -> None:
        start.wait()
        response = process_order(sqs_event(record), LambdaContext("process_order", 512))
        failures.extend(response["batchItemFailures"])

    threads = [threading.Thread(target=deliver, args=(record,)) for record in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return failures


def _requeued(provisioned: Provisioned) -> list[dict[str, Any]]:
    """The copies contention put back on the queue, once their delay has passed."""
    sqs = boto3.client("sqs")
    url = provisioned.queue_urls["order-fulfillment"]
    copies: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if int(attributes["ApproximateNumberOfMessagesDelayed"]) == 0 and not int(
            attributes["ApproximateNumberOfMessages"]
        ):
            return copies
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", []):
            copies.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the requeued copies did not drain within 30 s")


def test_a_hot_sku_sells_out_exactly_under_concurrent_orders(
    limited_aws: tuple[Provisioned, AwsLimits],
) -> None:
    provisioned, model = limited_aws
    inventory = Inventory()
    inventory.stock("MUG-BLUE", UNITS, price="12.00")
    records = [
        sqs_record(placed(order(f"ord-{n}", [("MUG-BLUE", 1, "12.00")])).to_json())
        for n in range(ORDERS)
    ]

    failures = _deliver(records)
    while copies := _requeued(provisioned):  # what contention put back, delivered in turn
        failures += _deliver([sqs_record(copy["Body"]) for copy in copies])

    assert failures == []
    statuses = Counter(order_item(f"ord-{n}")["status"] for n in range(ORDERS))
    assert statuses == {"RESERVED": UNITS, "REJECTED": ORDERS - UNITS}
    assert inventory.level("MUG-BLUE") == 0
    for n in range(ORDERS):
        item = order_item(f"ord-{n}")
        if item["status"] == "REJECTED":
            reasons = [(r["sku"], r["reason"]) for r in item["rejection"]]
            assert reasons == [("MUG-BLUE", "out_of_stock")]
    assert (counter(ORDERS_RESERVED), counter(ORDERS_REJECTED)) == (UNITS, ORDERS - UNITS)
    sqs = boto3.client("sqs")
    dlq = provisioned.queue_urls["order-fulfillment-dlq"]
    assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []
    assert model.writes  # the model saw the functions' writes (and refused what overlapped)
