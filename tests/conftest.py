"""What every tier shares: offline AWS settings, the tier markers, helpers for the pipeline.

The tiers are directories, and each test is marked after its directory:

- tests/unit: pure Python. No AWS API, not even moto in process; no server, no other program.
- tests/functional: in process: moto, the Chalice and Flask test clients, botocore's Stubber,
  SQLite (tests/functional/conftest.py holds their fixtures).
- tests/system: something outside the process: the local stack, gunicorn, a moto server,
  chromium, PostgreSQL, systemd-nspawn, ansible-playbook, pip, chalice package, cfn-lint.

A test goes in the lowest tier its needs allow, in the file named after the module it tests
(tests/<tier>/test_<module>.py; order_web's modules as test_web_<module>, local_stack's as
test_local_<module>, the playbooks' as test_playbook_<name>).
"""

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
import moto  # noqa: F401  # before BOTO3_SESSION, see there
import pytest
from chalice.test import Client

from chalicelib.adapters.order_store import counter_totals
from chalicelib.observability import logger
from chalicelib.services import Services, build_services, get_services, reset_services, set_services
from chalicelib.settings import Settings
from local_stack.resources import Provisioned
from order_contracts import Order

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "functional", "system")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, the directory it is in; refuse a test outside the tiers."""
    for item in items:
        path = item.path.resolve()
        if not path.is_relative_to(TESTS):
            continue
        tier = path.relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(
                f"{item.nodeid}: a test belongs in tests/unit, tests/functional or tests/system"
            )
        item.add_marker(tier)


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real account: fake credentials, a fixed region, no endpoint override."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


# One boto3 session for the tests' fixtures, helpers and bodies (BOTO3_SESSION.client, not
# boto3.client): a new session loads each service's model from disk again (about 40 ms a
# client, 150 ms a DynamoDB resource), and mock_aws gives boto3 a new default session each
# time. Clients are still built per test, so each binds to that test's moto and environment.
# (moto reaches only the sessions made after its import: it is imported above.)
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


class Inventory:
    def __init__(self) -> None:
        self._table = BOTO3_SESSION.resource("dynamodb").Table("inventory")

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


class EventTap:
    """A queue subscribed to order-events, to see what the pipeline published."""

    def __init__(self, provisioned: Provisioned) -> None:
        self._sqs = BOTO3_SESSION.client("sqs")
        self.url = self._sqs.create_queue(QueueName="test-order-events-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        BOTO3_SESSION.client("sns").subscribe(
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


def order_item(order_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        BOTO3_SESSION.resource("dynamodb")
        .Table("orders")
        .get_item(Key={"order_id": order_id}, ConsistentRead=True)
        .get("Item")
    )
    return item


def counter(name: str) -> int:
    """The counter's value: the sum of its shards (see COUNTER_SHARDS in the order store)."""
    items = BOTO3_SESSION.resource("dynamodb").Table("counters").scan(ConsistentRead=True)["Items"]
    return counter_totals(items).get(name, 0)


def invoke(client: Client, function: str, *records: dict[str, Any]) -> list[str]:
    """Invoke a queue consumer with these records; return the ids it reported failed."""
    payload = client.lambda_.invoke(function, {"Records": list(records)}).payload
    return [item["itemIdentifier"] for item in payload["batchItemFailures"]]


def put_order(
    client: Client, order_id: str, body: str, headers: dict[str, str] | None = None
) -> Any:
    """PUT /orders/{order_id} through the Chalice client, as JSON."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    return client.http.put(f"/orders/{order_id}", headers=headers, body=body)


def queue_messages(url: str) -> list[dict[str, Any]]:
    """Receive (without deleting) what a queue holds, with attributes."""
    sqs = BOTO3_SESSION.client("sqs")
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
