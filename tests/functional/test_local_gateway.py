"""local_stack/gateway in front of the chalice app, in process on moto: who may do what.

Requests are signed by botocore and sent to the gateway's WSGI app; signatures, policies
and routing alone are in tests/unit/test_local_gateway.py.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.test import Client as WsgiClient

from app import app
from chalicelib.access import INVOKE_ACTION, ROUTES, Route
from local_stack.gateway.app import LocalApiGateway
from local_stack.gateway.callers import CallerDirectory, api_arn, issue_callers
from local_stack.gateway.signature import SigningKey
from local_stack.resources import Provisioned
from tests.conftest import BOTO3_SESSION
from tests.sigv4 import REGION, send
from tests.vectors import VALID, raw_body


@pytest.fixture
def gateway(aws: Provisioned) -> tuple[WsgiClient, CallerDirectory]:
    stage = api_arn("123456789012", REGION)
    callers = issue_callers(BOTO3_SESSION.client("iam"), stage)
    return WsgiClient(LocalApiGateway(app, callers, stage, REGION)), callers


def stored_documents(provisioned: Provisioned) -> list[str]:
    listing = BOTO3_SESSION.client("s3").list_objects_v2(Bucket=provisioned.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_the_right_caller_places_and_reads_an_order(
    gateway: tuple[WsgiClient, CallerDirectory], aws: Provisioned
) -> None:
    client, callers = gateway
    integrator = callers.by_name()["order-integrator"].key
    status, placed = send(client, "PUT", "/orders/gw-1", raw_body(VALID[0]).encode(), integrator)
    assert (status, placed["status"]) == (201, "RECEIVED")
    status, read = send(client, "GET", "/orders/gw-1", caller=integrator)
    assert (status, read["status"]) == (200, "RECEIVED")
    assert stored_documents(aws) == ["orders/gw-1.json"]


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("nobody", "missing_authentication_token"),
        ("forger", "invalid_signature"),
        ("stale", "expired_signature"),
        ("order-reader", "access_denied"),
        ("catalog-manager", "access_denied"),
    ],
)
def test_placing_without_the_right_credentials_is_403_and_leaves_no_trace(
    gateway: tuple[WsgiClient, CallerDirectory], aws: Provisioned, who: str, error: str
) -> None:
    client, callers = gateway
    known_callers = callers.by_name()
    integrator = known_callers["order-integrator"].key
    key = {
        "nobody": None,
        "forger": SigningKey(integrator.access_key_id, "not-the-secret", "arn"),
        "stale": integrator,
    }.get(who, known_callers[who].key if who in known_callers else None)
    at = datetime.now(UTC) - timedelta(minutes=10) if who == "stale" else None
    status, body = send(client, "PUT", "/orders/gw-2", raw_body(VALID[0]).encode(), key, at)
    assert (status, body["error"]) == (403, error)
    assert body["message"]
    assert stored_documents(aws) == []


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_refuses_an_unsigned_request(
    gateway: tuple[WsgiClient, CallerDirectory], route: Route
) -> None:
    client, _ = gateway
    path = route.path.replace("{order_id}", "o-1").replace("{sku}", "TEA-EARLGREY")
    assert send(client, route.method, path, b"{}")[0] == 403


def test_an_unknown_route_is_403_missing_token_and_a_semicolon_id_is_refused(
    gateway: tuple[WsgiClient, CallerDirectory], aws: Provisioned
) -> None:
    client, callers = gateway
    integrator = callers.by_name()["order-integrator"].key
    status, body = send(client, "DELETE", "/orders/x", caller=integrator)
    assert (status, body["error"]) == (403, "missing_authentication_token")
    status, body = send(client, "PUT", "/orders/x;drop", raw_body(VALID[0]).encode(), integrator)
    assert (status, body["error"]) == (400, "invalid_order")
    assert stored_documents(aws) == []


def test_the_function_gets_api_gateways_proxy_event_with_the_verified_caller(
    aws: Provisioned,
) -> None:
    events: list[dict[str, Any]] = []

    def function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 204, "headers": {}, "body": ""}

    stage = api_arn("123456789012", REGION)
    callers = issue_callers(BOTO3_SESSION.client("iam"), stage)
    manager = callers.by_name()["catalog-manager"].key
    client = WsgiClient(LocalApiGateway(function, callers, stage, REGION))
    status, _ = send(client, "POST", "/catalog/TEA%2DX/restock", b'{"quantity": 2}', manager)
    assert status == 204
    [event] = events
    assert event["resource"] == "/catalog/{sku}/restock"
    assert event["pathParameters"] == {"sku": "TEA-X"}
    assert event["body"] == '{"quantity": 2}'
    assert event["requestContext"]["identity"]["userArn"] == manager.principal_arn
    assert event["requestContext"]["identity"]["accessKey"] == manager.access_key_id


def test_policies_are_judged_against_the_requests_own_path(aws: Provisioned) -> None:
    stage = api_arn("123456789012", REGION)
    callers = issue_callers(BOTO3_SESSION.client("iam"), stage)
    narrow = callers.by_name()["order-reader"]
    # A caller whose policy names some orders only, as an operator may write one.
    only_mine = [
        {"Effect": "Allow", "Action": INVOKE_ACTION, "Resource": f"{stage}/GET/orders/mine-*"}
    ]
    directory = CallerDirectory([replace(narrow, statements=tuple(only_mine))])
    client = WsgiClient(LocalApiGateway(app, directory, stage, REGION))
    assert send(client, "GET", "/orders/mine-1", caller=narrow.key)[0] == 404  # allowed, unknown
    status, refusal = send(client, "GET", "/orders/theirs-1", caller=narrow.key)
    assert (status, refusal["error"]) == (403, "access_denied")
    assert refusal["message"].endswith(f"{stage}/GET/orders/theirs-1")
