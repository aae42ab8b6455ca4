import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.observability import logger
from chalicelib.services import (
    Services,
    build_services,
    get_services,
    reset_services,
    set_services,
)
from chalicelib.settings import Settings
from local_stack.resources import Provisioned, provision
from order_contracts import Order

CHALICE_DIR = Path(__file__).resolve().parent.parent / "chalice_app"


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real account: fake credentials, a fixed region, no endpoint override."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


# One boto3 session for every test's fixtures: a new session loads each service's model from
# disk again (about 40 ms a client), which was most of a moto test's setup. Clients are still
# built per test, so each binds to that test's moto and environment.
BOTO3_SESSION = boto3.session.Session()


@contextmanager
def services_of(provisioned: Provisioned) -> Iterator[Services]:
    """The handlers' services, built from the settings of these resources; dropped after."""
    services = build_services(Settings.from_env(provisioned.environment), BOTO3_SESSION)
    set_services(services)
    try:
        yield services
    finally:
        reset_services()


def replace_services(**changes: Any) -> Services:
    """Swap some of the handlers' services (a failing store, another mailer) for this test."""
    services = dataclasses.replace(get_services(), **changes)
    set_services(services)
    return services


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Provisioned]:
    """moto in process with every resource of the local resource description."""
    with mock_aws():
        provisioned = provision(BOTO3_SESSION, f"sqlite:///{tmp_path / 'billing.db'}")
        with services_of(provisioned):
            yield provisioned


class Inventory:
    def __init__(self) -> None:
        self._table = boto3.resource("dynamodb").Table("inventory")

    def stock(self, sku: str, units: int, price: str = "4.50", currency: str = "EUR") -> None:
        self._table.put_item(
            Item={
                "sku": sku,
                "name": sku.title(),
                "stock": units,
                "price": Decimal(price),
                "currency": currency,
            }
        )

    def unpriced(self, sku: str, units: int) -> None:
        """An item with stock but no price or currency: not for sale."""
        self._table.put_item(Item={"sku": sku, "stock": units})

    def sell_as(self, order: Order) -> None:
        """Price the order's SKUs as its lines do, in its currency; their stock stays as it is."""
        for line in order.lines:
            self._table.update_item(
                Key={"sku": line.sku},
                UpdateExpression="SET #price = :price, #currency = :currency",
                ConditionExpression="attribute_exists(sku)",  # stock it first
                ExpressionAttributeNames={"#price": "price", "#currency": "currency"},
                ExpressionAttributeValues={":price": line.unit_price, ":currency": order.currency},
            )

    def level(self, sku: str) -> int:
        return int(self._table.get_item(Key={"sku": sku}, ConsistentRead=True)["Item"]["stock"])


@pytest.fixture
def inventory(aws: Provisioned) -> Inventory:
    inventory = Inventory()
    for sku in ("TEA-EARLGREY", "MUG-BLUE", "TEA-MATCHA", "DATES-1KG"):
        inventory.stock(sku, 100)
    return inventory


@pytest.fixture
def client(aws: Provisioned) -> Iterator[Client]:
    with Client(app, project_dir=str(CHALICE_DIR)) as client:
        yield client


class EventTap:
    """A queue subscribed to order-events, to see what the pipeline published."""

    def __init__(self, provisioned: Provisioned) -> None:
        self._sqs = boto3.client("sqs")
        self.url = self._sqs.create_queue(QueueName="test-order-events-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        boto3.client("sns").subscribe(
            TopicArn=provisioned.topic_arns["order-events"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )

    def drain(self) -> list[tuple[dict[str, Any], dict[str, str]]]:
        """Every event published so far, with its message attributes."""
        events = []
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                attributes = {
                    k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
                }
                events.append((json.loads(message["Body"]), attributes))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def published(aws: Provisioned) -> EventTap:
    return EventTap(aws)


def order_item(order_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        boto3.resource("dynamodb")
        .Table("orders")
        .get_item(Key={"order_id": order_id}, ConsistentRead=True)
        .get("Item")
    )
    return item


def counter(name: str) -> int:
    item = boto3.resource("dynamodb").Table("counters").get_item(Key={"name": name}).get("Item")
    return int(item["value"]) if item else 0


def invoke(client: Client, function: str, *records: dict[str, Any]) -> list[str]:
    """Invoke a queue consumer with these records; return the ids it reported failed."""
    payload = client.lambda_.invoke(function, {"Records": list(records)}).payload
    return [item["itemIdentifier"] for item in payload["batchItemFailures"]]


def queue_messages(url: str) -> list[dict[str, Any]]:
    """Receive (without deleting) what a queue holds, with attributes."""
    sqs = boto3.client("sqs")
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the JSON logger writes (to stdout in Lambda), as its formatter writes it."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)
