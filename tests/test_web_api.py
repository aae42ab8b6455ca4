"""The web app as a whole: it has no JSON API; /healthz, settings, security headers, hosts.

The storefront's own behaviour (the form, correlation ids, body limit, status page) is in
test_web_shop.py. The helpers here (web_settings, intake_messages) serve both.
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient

from local_stack.resources import Provisioned
from order_web import create_app
from order_web.security import HEADERS
from order_web.settings import SettingsError, WebSettings
from tests.vectors import VALID, raw_body


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


@pytest.fixture
def web_app(aws: Provisioned) -> Flask:
    return create_app({"SETTINGS": web_settings(aws), "TESTING": True})


@pytest.fixture
def web(web_app: Flask) -> Iterator[FlaskClient]:
    with web_app.test_client() as client:
        yield client


def intake_messages(aws: Provisioned) -> list[dict[str, Any]]:
    """What reached order-intake (via the fulfillment queue), minus S3's test event."""
    sqs = boto3.client("sqs")
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


def test_the_json_api_is_gone(web: FlaskClient, aws: Provisioned) -> None:
    """Anyone could order for any customer id through it; integrators use the order API."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": "checkout-7f3a9c"}
    assert web.post("/api/orders", data=raw_body(VALID[0]), headers=headers).status_code == 404
    assert web.get("/api/orders/web-checkout-7f3a9c").status_code == 404
    assert intake_messages(aws) == []


def test_security_headers_are_on_every_response(web: FlaskClient) -> None:
    for response in (
        web.get("/healthz"),
        web.get("/"),
        web.get("/no-such-page"),
        web.post("/orders", data={}),  # no CSRF token: 400
    ):
        for name, value in HEADERS.items():
            assert response.headers[name] == value


def test_healthz_answers_over_plain_http_without_redirecting(web: FlaskClient) -> None:
    response = web.get("/healthz", base_url="http://10.0.1.23")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_says_unavailable_when_the_catalog_cannot_be_read(aws: Provisioned) -> None:
    settings = web_settings(aws, inventory_table="no-such-table")
    app = create_app({"SETTINGS": settings, "TESTING": True})
    import order_web.health

    order_web.health._last_ok = 0.0  # no cached success from another test
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "reason": "ResourceNotFoundException"}


def test_production_refuses_to_start_without_a_secret_key() -> None:
    environment = {
        "ORDER_INTAKE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:order-intake",
        "INVENTORY_TABLE": "inventory",
        "ORDERS_TABLE": "orders",
    }
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        WebSettings.from_env(environment)
    assert WebSettings.from_env({**environment, "ORDER_WEB_ENV": "development"}).secret_key


def test_untrusted_host_headers_are_refused(aws: Provisioned) -> None:
    app = create_app(
        {"SETTINGS": web_settings(aws, trusted_hosts=("shop.example.com",)), "TESTING": True}
    )
    client = app.test_client()
    assert client.get("/", base_url="http://shop.example.com").status_code == 200
    assert client.get("/", base_url="http://evil.example").status_code == 400
