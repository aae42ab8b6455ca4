"""The errors API Gateway answers itself, before any function runs, in the project's error shape.

A request whose signature is missing, wrong or expired, a caller whose policies deny the route,
a throttled request, one the web ACL blocked or one too large never reaches app.py: API
Gateway answers it with a gateway response. This table gives each response type its status,
its error code and a default message. On AWS the packaged template's gateway responses
(merge-template.json, held to this table by tests/system/test_package.py) write
`{"error": code, "message": ...}` with API Gateway's own message; the local gateway answers
the same codes with these messages. No boto3 here.
"""

from typing import Any, NamedTuple

from order_contracts.errors import error_body


class GatewayError(NamedTuple):
    # None: the response keeps the status of the error it stands for. API Gateway's
    # DEFAULT_4XX and DEFAULT_5XX have no status of their own; giving them one would change
    # every 4XX or 5XX response without its own entry to that status.
    status: int | None
    code: str
    message: str


# Gateway response type (API Gateway's names) -> what the caller gets.
GATEWAY_ERRORS: dict[str, GatewayError] = {
    "MISSING_AUTHENTICATION_TOKEN": GatewayError(
        403,
        "missing_authentication_token",
        "Missing Authentication Token: sign the request with SigV4, or check its method and path",
    ),
    "INVALID_SIGNATURE": GatewayError(
        403,
        "invalid_signature",
        "The request signature we calculated does not match the signature you provided",
    ),
    "EXPIRED_TOKEN": GatewayError(
        403, "expired_signature", "The request's signature or security token has expired"
    ),
    "ACCESS_DENIED": GatewayError(
        403, "access_denied", "The caller's IAM policies do not allow this route"
    ),
    "UNAUTHORIZED": GatewayError(401, "unauthorized", "Unauthorized"),
    "THROTTLED": GatewayError(429, "throttled", "Too Many Requests"),
    "WAF_FILTERED": GatewayError(403, "forbidden_by_waf", "Forbidden"),
    "REQUEST_TOO_LARGE": GatewayError(413, "body_too_large", "Request Too Long"),
    "DEFAULT_4XX": GatewayError(None, "bad_request", "Bad Request"),
    "DEFAULT_5XX": GatewayError(None, "internal_error", "Internal server error"),
}


def gateway_error(
    response_type: str, status: int | None = None, message: str | None = None
) -> tuple[int, dict[str, Any]]:
    """The status and JSON body API Gateway answers with for response_type.

    status: the status of the error DEFAULT_4XX or DEFAULT_5XX stands for (required for
    those two, ignored for the others, which have their own). message: replaces the default.
    """
    error = GATEWAY_ERRORS[response_type]
    answered = error.status if error.status is not None else status
    if answered is None:
        raise ValueError(f"{response_type} has no status of its own: pass the error's status")
    return answered, error_body(error.code, message or error.message)
