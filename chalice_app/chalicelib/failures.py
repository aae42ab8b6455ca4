"""Failures whose message is the reason a dead-lettered message carries, and how to tell an
AWS refusal that is "not now" (throttling) from one that is "no"."""

from collections.abc import Iterator
from typing import Any


class PermanentFailure(Exception):
    """Retrying cannot help; it is still retried like any failure, then dead-lettered."""


class InvalidMessage(PermanentFailure):
    """The message is not a shape or content the contract accepts."""


class ConflictingOrder(PermanentFailure):
    """An order with this id was already recorded with different content."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} was already recorded with different content")
        self.order_id = order_id


# The error codes botocore's standard retry mode treats as throttling
# (botocore.retries.standard.ThrottledRetryableChecker), plus SES's sending-rate refusal.
# botocore has already retried these with backoff when one reaches us.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "MaxSendingRateExceeded",
    }
)


def aws_error_responses(failure: BaseException) -> Iterator[dict[str, Any]]:
    """The AWS error responses of failure and of the failures that caused it, outermost first
    (ClientError's `response`, duck-typed: an adapter may wrap one in an error of its own)."""
    seen: BaseException | None = failure
    for _ in range(10):  # a chain of causes is short; never loop on a cyclic one
        if seen is None:
            return
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            yield response
        seen = seen.__cause__ or seen.__context__


def error_code(response: dict[str, Any]) -> str | None:
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def is_throttling(failure: BaseException) -> bool:
    """An AWS throttling error, or a failure caused by one."""
    return any(error_code(r) in THROTTLING_CODES for r in aws_error_responses(failure))
