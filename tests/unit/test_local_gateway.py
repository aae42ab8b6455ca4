"""local_stack/gateway: SigV4 verified for real, IAM policies evaluated, routes as AWS routes.

Requests are signed by botocore (what every AWS SDK call uses). The gateway in front of the
chalice app, on moto, is in tests/functional/test_local_gateway.py.
"""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.access import INVOKE_ACTION, ROUTES, Permission, Route, policy_document
from local_stack.gateway.app import match_route
from local_stack.gateway.policy import is_allowed
from local_stack.gateway.signature import SignedRequest, SigningKey, verify
from tests.sigv4 import HOST, KEY, REGION, signed

# Signatures made as of this instant and judged as of it: nothing depends on the test's speed.
SIGNED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


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
