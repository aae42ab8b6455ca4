"""chalicelib/gateway_errors.py: API Gateway's own refusals, kept at AWS's statuses, in our shape.

That the packaged template answers with this table is in tests/system/test_package.py.
"""

import pytest

from chalicelib.gateway_errors import GATEWAY_ERRORS, gateway_error
from order_contracts import error_body

# API Gateway's default status of each response type we customize, from
# https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
# (DEFAULT_4XX and DEFAULT_5XX have none: they keep the status of the error they stand for).
AWS_DEFAULT_STATUS = {
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "INVALID_SIGNATURE": 403,
    "EXPIRED_TOKEN": 403,
    "ACCESS_DENIED": 403,
    "UNAUTHORIZED": 401,
    "THROTTLED": 429,
    "WAF_FILTERED": 403,
    "REQUEST_TOO_LARGE": 413,
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
}


def test_the_gateway_errors_keep_aws_statuses_and_have_distinct_codes() -> None:
    assert {kind: error.status for kind, error in GATEWAY_ERRORS.items()} == AWS_DEFAULT_STATUS
    codes = [error.code for error in GATEWAY_ERRORS.values()]
    assert len(set(codes)) == len(codes)


def test_gateway_error_answers_in_the_error_shape() -> None:
    assert gateway_error("THROTTLED") == (429, error_body("throttled", "Too Many Requests"))
    status, body = gateway_error("DEFAULT_4XX", 404, "Not Found")
    assert (status, body) == (404, {"error": "bad_request", "message": "Not Found"})
    with pytest.raises(ValueError, match="status"):
        gateway_error("DEFAULT_5XX")
