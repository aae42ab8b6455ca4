"""order_web (create_app) through Flask's test client on moto: no JSON API, security headers,
trusted hosts, and each request's ids on every log line.

The storefront's own behaviour is in test_web_shop.py, the health checks in
test_web_health.py; the shared helpers (web_settings, order_form, ...) in tests/web.py.
"""

import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from local_stack.resources import Provisioned
from order_web import create_app
from order_web.logs import JsonFormatter, RequestContext
from order_web.security import HEADERS
from tests.conftest import BOTO3_SESSION, Inventory
from tests.vectors import VALID, raw_body
from tests.web import (
    Captured,
    intake_messages,
    order_form,
    powertools_line,
    unreachable_intake,
    web_settings,
)


@pytest.fixture
def web_app(aws: Provisioned) -> Flask:
    return create_app(
        {"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": web_settings(aws), "TESTING": True}
    )


@pytest.fixture
def web(web_app: Flask) -> Iterator[FlaskClient]:
    with web_app.test_client() as client:
        yield client


@pytest.fixture
def app_log(web_app: Flask) -> Iterator[Captured]:
    """The records of the app's logger (every app's: they share the package's logger)."""
    captured = Captured()
    web_app.logger.addHandler(captured)
    yield captured
    web_app.logger.removeHandler(captured)


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
