"""The local API Gateway: SigV4 verified for real, IAM policies evaluated, routes as AWS routes.

Requests are signed by botocore (what every AWS SDK call uses) and sent to the gateway's WSGI
app in process; the chalice app behind it runs on moto with every resource.
"""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import Client as WsgiClient

from app import app
from chalicelib.access import INVOKE_ACTION, ROUTES, Permission, Route, policy_document
from local_stack.gateway.app import LocalApiGateway, match_route
from local_stack.gateway.callers import CallerDirectory, api_arn, issue_callers
from local_stack.gateway.policy import is_allowed
from local_stack.gateway.signature import SignedRequest, SigningKey, verify
from local_stack.resources import Provisioned
from tests.vectors import VALID, raw_body

REGION = "us-east-1"
HOST = "127.0.0.1:8000"
# Signatures made as of this instant and judged as of it: nothing depends on the test's speed.
SIGNED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY = SigningKey("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "arn:aws:iam::1:user/a")


def signed(
    method: str,
    path: str,
    body: bytes = b"",
    key: SigningKey = KEY,
    region: str = REGION,
    service: str = "execute-api",
    at: datetime | None = None,
) -> SignedRequest:
    request = AWSRequest(
        method=method,
        url=f"http://{HOST}{path}",
        data=body,
        headers={"Content-Type": "application/json", "Host": HOST},
    )
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, region)
    if at is None:
        signer.add_auth(request)
    else:  # botocore signs with the current time; sign as of another one
        request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Amz-Date"] = request.context["timestamp"]
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
            f"Signature={signature}"
        )
    return SignedRequest(method, request.url, dict(request.headers.items()), body)


def known(access_key_id: str) -> SigningKey | None:
    return KEY if access_key_id == KEY.access_key_id else None


def test_a_request_signed_with_the_callers_secret_verifies() -> None:
    assert verify(signed("PUT", "/orders/o-1", b"{}"), known, REGION) == KEY


@pytest.mark.parametrize(
    ("request_", "kind"),
    [
        (
            SignedRequest("PUT", f"http://{HOST}/orders/o-1", {}, b""),
            "MISSING_AUTHENTICATION_TOKEN",
        ),
        (
            signed("PUT", "/orders/o-1", key=SigningKey("AKIDUNKNOWN", "x", "arn"), at=SIGNED_AT),
            "INVALID_SIGNATURE",
        ),
        (
            signed(
                "PUT",
                "/orders/o-1",
                key=SigningKey(KEY.access_key_id, "wrong", "arn"),
                at=SIGNED_AT,
            ),
            "INVALID_SIGNATURE",
        ),
        (signed("PUT", "/orders/o-1", region="eu-west-1", at=SIGNED_AT), "INVALID_SIGNATURE"),
        (signed("PUT", "/orders/o-1", service="s3", at=SIGNED_AT), "INVALID_SIGNATURE"),
        (signed("PUT", "/orders/o-1", at=SIGNED_AT - timedelta(minutes=6)), "EXPIRED_TOKEN"),
        (signed("PUT", "/orders/o-1", at=SIGNED_AT + timedelta(minutes=6)), "EXPIRED_TOKEN"),
    ],
    ids=[
        "unsigned",
        "unknown-key",
        "wrong-secret",
        "other-region",
        "other-service",
        "old",
        "future",
    ],
)
def test_a_request_that_is_not_signed_by_a_known_key_is_refused(
    request_: SignedRequest, kind: str
) -> None:
    refused = verify(request_, known, REGION, now=SIGNED_AT)
    assert getattr(refused, "kind", None) == kind


def test_a_signature_within_five_minutes_holds() -> None:
    request = signed("GET", "/orders/o-1", at=SIGNED_AT - timedelta(minutes=4, seconds=59))
    assert verify(request, known, REGION, now=SIGNED_AT) == KEY


def test_a_changed_body_path_or_method_breaks_the_signature() -> None:
    original = signed("PUT", "/orders/o-1", b'{"total": "39.00"}')
    tampered = [
        SignedRequest(original.method, original.url, original.headers, b'{"total": "0.01"}'),
        SignedRequest(
            original.method, original.url.replace("o-1", "o-2"), original.headers, original.body
        ),
        SignedRequest("GET", original.url, original.headers, original.body),
        # A payload hash header that does not match the body is not trusted.
        SignedRequest(
            original.method,
            original.url,
            {**original.headers, "X-Amz-Content-SHA256": "0" * 64},
            original.body,
        ),
    ]
    for request in tampered:
        assert getattr(verify(request, known, REGION), "kind", None) == "INVALID_SIGNATURE"


STAGE = "arn:aws:execute-api:us-east-1:123456789012:local/api"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_permission_allows_its_routes_and_no_other(route: Route) -> None:
    resource = route.invoke_resource(STAGE).replace("*", "some-id")
    for permission in Permission:
        statements = policy_document(permission, STAGE)["Statement"]
        assert is_allowed(statements, INVOKE_ACTION, resource) == (
            route.permission is permission
        ), permission


def test_an_explicit_deny_wins_and_unknown_policy_forms_never_allow() -> None:
    resource = f"{STAGE}/PUT/orders/o-1"
    allow = {"Effect": "Allow", "Action": "execute-api:*", "Resource": f"{STAGE}/*"}
    assert is_allowed([allow], INVOKE_ACTION, resource)
    deny = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"{STAGE}/PUT/*"}
    assert not is_allowed([allow, deny], INVOKE_ACTION, resource)
    conditional = {**allow, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    assert not is_allowed([conditional], INVOKE_ACTION, resource)
    exact = {**allow, "Action": INVOKE_ACTION}
    assert is_allowed([exact], "EXECUTE-API:invoke", resource)  # actions ignore case
    assert not is_allowed([exact], "execute-api:InvalidateCache", resource)
    assert not is_allowed([exact], INVOKE_ACTION, resource.replace("/api/", "/prod/"))


def test_routes_match_as_api_gateway_matches_them() -> None:
    # A ';' is part of the parameter (API Gateway passes 'x;drop', which the id check refuses).
    put = match_route("PUT", "/orders/x;drop")
    assert put is not None
    assert put.parameters == {"order_id": "x;drop"}
    decoded = match_route("GET", "/orders/a%20b")
    assert decoded is not None
    assert decoded.parameters == {"order_id": "a b"}
    trailing = match_route("GET", "/catalog/")
    assert trailing is not None
    assert trailing.route.path == "/catalog"
    assert match_route("DELETE", "/orders/x") is None
    assert match_route("GET", "/orders") is None
    assert match_route("GET", "/orders/x/y") is None


# The chalice app behind the gateway, on moto -------------------------------------------------


@pytest.fixture
def gateway(aws: Provisioned) -> tuple[WsgiClient, CallerDirectory]:
    stage = api_arn("123456789012", REGION)
    callers = issue_callers(boto3.client("iam"), stage)
    return WsgiClient(LocalApiGateway(app, callers, stage, REGION)), callers


def send(
    client: WsgiClient,
    method: str,
    path: str,
    body: bytes = b"",
    caller: SigningKey | None = None,
    at: datetime | None = None,
) -> tuple[int, Any]:
    headers: dict[str, str] = {"Content-Type": "application/json", "Host": HOST}
    if caller is not None:
        headers = dict(signed(method, path, body, key=caller, at=at).headers)
    response = client.open(path, method=method, data=body, headers=headers)
    return response.status_code, json.loads(response.data) if response.data else None


def stored_documents(provisioned: Provisioned) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=provisioned.bucket)
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
    callers = issue_callers(boto3.client("iam"), stage)
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
    callers = issue_callers(boto3.client("iam"), stage)
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
