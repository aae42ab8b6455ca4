"""The web tier's JSON API, /healthz and security, through Flask's test client on moto."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient

from local_stack.resources import Provisioned
from order_web import create_app
from order_web.adapters import IntakePublisher
from order_web.security import HEADERS
from order_web.services import CLIENT_CONFIG, WebServices, build_services
from order_web.settings import SettingsError, WebSettings
from tests.conftest import invoke, order_item
from tests.factories import sqs_record
from tests.vectors import INVALID, VALID, raw_body

JSON = {"Content-Type": "application/json"}


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
    found = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=aws.queue_urls["order-fulfillment"],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return [m for m in found if "s3:TestEvent" not in m["Body"]]
        found.extend(batch)


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_a_valid_order_is_published_as_order_placed(
    web: FlaskClient, aws: Provisioned, case: dict
) -> None:
    response = web.post(
        "/api/orders", data=raw_body(case), headers={**JSON, "X-Correlation-Id": "corr-web"}
    )

    assert response.status_code == 202
    order_id = response.json["order_id"]
    assert order_id.startswith("web-")
    assert response.headers["Location"] == f"/api/orders/{order_id}"
    [message] = intake_messages(aws)
    body = json.loads(message["Body"])
    assert (body["event_type"], body["event_version"], body["source"]) == ("OrderPlaced", 1, "web")
    assert body["order_id"] == order_id
    assert body["correlation_id"] == "corr-web"
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == "corr-web"
    # The same contract as the API door: the published order is the vector, normalised.
    sent = case["body"]
    assert body["order"]["customer"] == sent["customer"]
    assert [line["sku"] for line in body["order"]["lines"]] == [
        line["sku"] for line in sent["lines"]
    ]


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_every_invalid_order_is_400_naming_the_field_and_publishes_nothing(
    web: FlaskClient, aws: Provisioned, case: dict
) -> None:
    response = web.post("/api/orders", data=raw_body(case), headers=JSON)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_order"
    assert case["field"] in [problem["field"] for problem in response.json["problems"]]
    assert intake_messages(aws) == []


def test_the_same_idempotency_key_twice_is_one_order(
    web: FlaskClient, aws: Provisioned, inventory: Any, client: Any
) -> None:
    headers = {**JSON, "Idempotency-Key": "checkout-7f3a9c"}
    first = web.post("/api/orders", data=raw_body(VALID[0]), headers=headers)
    second = web.post("/api/orders", data=raw_body(VALID[0]), headers=headers)
    assert first.json["order_id"] == second.json["order_id"] == "web-checkout-7f3a9c"

    # Both messages reach fulfillment; the order id makes them one order.
    messages = intake_messages(aws)
    assert len(messages) == 2
    records = [sqs_record(m["Body"]) for m in messages]
    assert invoke(client, "process_order", *records) == []
    assert order_item("web-checkout-7f3a9c")["status"] == "RESERVED"
    assert inventory.level("TEA-EARLGREY") == 98


def test_sns_unreachable_is_503_and_nothing_is_published(aws: Provisioned) -> None:
    settings = web_settings(aws)
    reachable = build_services(settings)
    # A real client aimed at a closed port on this machine: SNS cannot be reached.
    unreachable = boto3.client("sns", endpoint_url="http://127.0.0.1:9", config=CLIENT_CONFIG)
    services = WebServices(
        publisher=IntakePublisher(unreachable, settings.order_intake_topic_arn),
        catalog=reachable.catalog,
        statuses=reachable.statuses,
    )
    app = create_app({"SETTINGS": settings, "SERVICES": services, "TESTING": True})

    response = app.test_client().post("/api/orders", data=raw_body(VALID[0]), headers=JSON)

    assert response.status_code == 503
    assert response.json["error"] == "try_again"
    assert intake_messages(aws) == []


def test_oversized_and_non_json_bodies_are_refused(web: FlaskClient, aws: Provisioned) -> None:
    big = json.dumps({**VALID[0]["body"], "padding": "x" * 70_000})
    assert web.post("/api/orders", data=big, headers=JSON).status_code == 413
    assert (
        web.post("/api/orders", data="hello", headers={"Content-Type": "text/plain"}).status_code
        == 415
    )
    assert intake_messages(aws) == []


def test_order_status_is_404_until_recorded_then_the_pipelines_status(
    web: FlaskClient, aws: Provisioned, inventory: Any, client: Any
) -> None:
    order_id = web.post("/api/orders", data=raw_body(VALID[0]), headers=JSON).json["order_id"]
    assert web.get(f"/api/orders/{order_id}").status_code == 404
    assert web.get("/api/orders/..%2F..").status_code == 404

    invoke(client, "process_order", *(sqs_record(m["Body"]) for m in intake_messages(aws)))

    response = web.get(f"/api/orders/{order_id}")
    assert response.status_code == 200
    assert response.json["status"] == "RESERVED"
    assert [entry["status"] for entry in response.json["history"]] == ["RECEIVED", "RESERVED"]


def test_security_headers_are_on_every_response(web: FlaskClient) -> None:
    for response in (
        web.get("/healthz"),
        web.get("/api/orders/nope"),
        web.post("/api/orders", data="{}", headers=JSON),
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
    assert response.json["status"] == "unavailable"


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
    assert client.get("/api/orders/x", base_url="http://shop.example.com").status_code == 404
    assert client.get("/api/orders/x", base_url="http://evil.example").status_code == 400
