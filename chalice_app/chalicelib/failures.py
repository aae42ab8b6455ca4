"""Failures whose message is the reason a dead-lettered message carries."""


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


def is_throttling(failure: BaseException) -> bool:
    """An AWS throttling error, or a failure caused by one (ClientError, duck-typed)."""
    seen: BaseException | None = failure
    for _ in range(10):  # a chain of causes is short; never loop on a cyclic one
        if seen is None:
            return False
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") in THROTTLING_CODES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
