"""The web app as a whole: no JSON API, /healthz, settings, security headers, hosts, logs.

The storefront's own behaviour (the form, correlation ids, body limit, status page) is in
test_web_shop.py. The helpers here (web_settings, intake_messages, order_form, ...) serve
both, and test_web_publisher.py.
"""

import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from flask import Flask, g
from flask.testing import FlaskClient

from local_stack.resources import Provisioned
from order_web import create_app
from order_web.logs import JsonFormatter, RequestContext
from order_web.publisher import IntakePublisher, IntakeUnavailable
from order_web.security import HEADERS
from order_web.services import CLIENT_CONFIG, WebServices, build_services
from order_web.settings import SettingsError, WebSettings
from tests.conftest import BOTO3_SESSION, Inventory
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
    return create_app(
        {"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": web_settings(aws), "TESTING": True}
    )


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
    unreachable = boto3.client("sns", endpoint_url="http://127.0.0.1:9", config=CLIENT_CONFIG)
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


@pytest.fixture
def app_log(web_app: Flask) -> Iterator[Captured]:
    """The records of the app's logger (every app's: they share the package's logger)."""
    captured = Captured()
    web_app.logger.addHandler(captured)
    yield captured
    web_app.logger.removeHandler(captured)


def powertools_line(record: logging.LogRecord) -> dict[str, Any]:
    """The line the Lambda functions' logger (Powertools) writes for this record (in UTC)."""
    return dict(json.loads(LambdaPowertoolsFormatter(service="order-web", utc=True).format(record)))


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
    app = create_app({"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": settings, "TESTING": True})
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
        {
            "BOTO3_SESSION": BOTO3_SESSION,
            "SETTINGS": web_settings(aws, trusted_hosts=("shop.example.com",)),
            "TESTING": True,
        }
    )
    client = app.test_client()
    assert client.get("/", base_url="http://shop.example.com").status_code == 200
    assert client.get("/", base_url="http://evil.example").status_code == 400


def log_record(exc_info: Any = None, **extra: Any) -> logging.LogRecord:
    return logging.getLogger("order_web").makeRecord(
        "order_web",
        logging.ERROR if exc_info else logging.INFO,
        "shop.py",
        108,
        "order %s: %s",
        ("web-1", "publish failed"),
        exc_info,
        func="place_order",
        extra=extra,
    )


def test_web_log_lines_are_the_lambda_functions_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)  # only Lambda sets it
    try:
        raise IntakeUnavailable("order-intake did not answer in time")
    except IntakeUnavailable:
        failure = log_record(sys.exc_info(), correlation_id="corr-1", order_id="web-1")
    plain = log_record(correlation_id="corr-2", count=3)

    for record in (failure, plain):
        line = json.loads(JsonFormatter().format(record))
        assert line == powertools_line(record)
        assert list(line)[:5] == ["level", "location", "message", "timestamp", "service"]
        assert line["service"] == "order-web"
        assert line["location"] == "place_order:108"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000", line["timestamp"])
    assert json.loads(JsonFormatter().format(plain))["count"] == 3  # extras at top level


def test_a_publish_failure_is_logged_with_the_requests_correlation_and_order_ids(
    aws: Provisioned, inventory: Inventory
) -> None:
    app = unreachable_intake(aws)
    captured = Captured()
    app.logger.addHandler(captured)
    try:
        with app.test_client() as client:
            form = order_form(client)
            response = client.post("/orders", data=form, headers={"X-Correlation-Id": "corr-down"})
    finally:
        app.logger.removeHandler(captured)

    assert response.status_code == 503
    [failure] = [record for record in captured.records if record.levelno >= logging.ERROR]
    line = json.loads(JsonFormatter().format(failure))
    assert line["message"] == "order-intake unreachable"
    assert line["correlation_id"] == "corr-down"
    assert line["order_id"] == f"web-{form['idempotency_key']}"
    assert (line["level"], line["service"]) == ("ERROR", "order-web")
    assert line["exception_name"] == "IntakeUnavailable"
    assert set(line) == set(powertools_line(failure))


def test_an_unhandled_error_is_logged_with_the_requests_correlation_id(
    web_app: Flask, app_log: Captured
) -> None:
    @web_app.get("/_broken")
    def broken() -> str:
        raise RuntimeError("a bug")

    web_app.testing = False  # answer 500 and log it, as in production
    response = web_app.test_client().get("/_broken", headers={"X-Correlation-Id": "corr-bug"})

    assert response.status_code == 500
    assert response.headers["X-Correlation-Id"] == "corr-bug"
    [error] = app_log.records
    assert json.loads(JsonFormatter().format(error))["correlation_id"] == "corr-bug"


def test_a_request_refused_by_csrf_still_has_its_correlation_id(web: FlaskClient) -> None:
    response = web.post("/orders", data={}, headers={"X-Correlation-Id": "corr-csrf"})
    assert response.status_code == 400
    assert response.headers["X-Correlation-Id"] == "corr-csrf"


def test_any_loggers_lines_during_a_request_carry_its_ids_and_none_outside(
    web_app: Flask,
) -> None:
    # As gunicorn's error handler has it (gunicorn_conf): botocore's lines get the ids too.
    captured = Captured()
    captured.addFilter(RequestContext())
    library = logging.getLogger("tests.some_library")
    library.addHandler(captured)
    try:
        with web_app.test_request_context("/", headers={"X-Correlation-Id": "corr-lib"}):
            web_app.preprocess_request()
            library.warning("before the order id is known")
            g.order_id = "web-1"
            library.warning("once it is known")
            library.warning("an explicit one wins", extra={"order_id": "web-2"})
        library.warning("outside a request")
    finally:
        library.removeHandler(captured)

    lines = [json.loads(JsonFormatter().format(record)) for record in captured.records]
    assert [line.get("correlation_id") for line in lines] == ["corr-lib"] * 3 + [None]
    assert [line.get("order_id") for line in lines] == [None, "web-1", "web-2", None]
