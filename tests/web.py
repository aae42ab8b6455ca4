"""Helpers of the web tier's tests (tests/functional/test_web_*.py): its settings on moto, the
order form, what reached order-intake, the lines its logger writes.
"""

import json
import logging
import re
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from flask import Flask
from flask.testing import FlaskClient

from local_stack.resources import Provisioned
from order_web import create_app
from order_web.publisher import IntakePublisher
from order_web.services import CLIENT_CONFIG, WebServices, build_services
from order_web.settings import WebSettings
from tests.conftest import BOTO3_SESSION


def web_settings(aws: Provisioned, **changes: Any) -> WebSettings:
    values: dict[str, Any] = {
        "environment": "testing",
        "secret_key": "test-secret",
        "order_intake_topic_arn": aws.topic_arns["order-intake"],
        "inventory_table": "inventory",
        "orders_table": "orders",
        **changes,
    }
    return WebSettings(**values)


def intake_messages(aws: Provisioned) -> list[dict[str, Any]]:
    """What reached order-intake (via the fulfillment queue), minus S3's test event."""
    sqs = BOTO3_SESSION.client("sqs")
    found: list[Any] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=aws.queue_urls["order-fulfillment"],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return [m for m in found if "s3:TestEvent" not in m["Body"]]
        found.extend(batch)


def form_fields(client: FlaskClient) -> dict[str, str]:
    """The hidden fields of a freshly rendered order form (CSRF token, idempotency key)."""
    page = client.get("/").get_data(as_text=True)
    return dict(
        re.findall(r'name="(csrf_token|idempotency_key)" type="hidden" value="([^"]+)"', page)
    )


def order_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    return {
        **form_fields(client),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "country": "gb",
        "qty_MUG-BLUE": "2",
        **fields,
    }


def unreachable_intake(aws: Provisioned) -> Flask:
    """The app with an SNS client aimed at a closed port on this machine."""
    settings = web_settings(aws)
    reachable = build_services(settings)
    unreachable = BOTO3_SESSION.client(
        "sns", endpoint_url="http://127.0.0.1:9", config=CLIENT_CONFIG
    )
    services = WebServices(
        IntakePublisher(unreachable, "arn:x"), reachable.catalog, reachable.statuses
    )
    return create_app(
        {
            "BOTO3_SESSION": BOTO3_SESSION,
            "SETTINGS": settings,
            "SERVICES": services,
            "TESTING": True,
        }
    )


class Captured(logging.Handler):
    """Keeps the records a logger hands it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def powertools_line(record: logging.LogRecord) -> dict[str, Any]:
    """The line the Lambda functions' logger (Powertools) writes for this record (in UTC)."""
    return dict(json.loads(LambdaPowertoolsFormatter(service="order-web", utc=True).format(record)))
