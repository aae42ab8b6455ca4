"""Contention is never an order's failure.

AWS says "not now" in a few ways: DynamoDB cancels a transaction that overlapped another on
one item (`TransactionConflict` in its `CancellationReasons`), throttles an item, a partition
or a table, and SES refuses a send past the account's rate (`TooManyRequestsException`).
botocore's standard mode already retries the throttles a few times inside each call; a
cancelled transaction it does not retry. So the work of a record is retried here, whole (every
step is idempotent), with exponential backoff and full jitter; and if it is still contended
after that, a copy of the message goes back on its queue with a delay and the original is
reported done, so the message's receive count never moves toward the DLQ. A crash between the
two leaves both, and the consumers make a duplicate harmless. Bounded: after `max_requeues`
copies the message fails as any other would, and reaches the DLQ with its reason.
"""

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from chalicelib.failures import THROTTLING_CODES, aws_error_responses, error_code
from chalicelib.observability import logger

T = TypeVar("T")

# The message attribute that counts the copies put back so far (absent on the first).
REQUEUES_ATTRIBUTE = "contention_requeues"
# Error codes that mean "the same request may succeed later": every code botocore's standard
# mode treats as throttling (chalicelib.failures, one list for the retries and the metric: SNS's
# Throttling, S3's SlowDown, SES's TooManyRequestsException, DynamoDB's...), and a plain write
# that met an ongoing transaction on its item.
RETRYABLE_CODES = THROTTLING_CODES | {"TransactionConflictException"}
# Cancellation reasons of a transaction that say "not now", not "no" (TransactWriteItems:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
CONTENDED_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
# SQS's DelaySeconds is at most 15 minutes.
MAX_SQS_DELAY_SECONDS = 900


def is_contention(error: BaseException) -> bool:
    """Whether AWS refused the request for now (contention or throttling), not for good: the
    error itself or the AWS error that caused it."""
    return any(_contended(response) for response in aws_error_responses(error))


def _contended(response: dict[str, Any]) -> bool:
    code = error_code(response)
    if code in RETRYABLE_CODES:
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = {reason.get("Code") for reason in response.get("CancellationReasons", [])}
    # A failed condition in the same transaction is an answer (out of stock, already
    # recorded): the store turns those into outcomes before this is ever asked.
    return bool(reasons & CONTENDED_REASONS) and reasons <= CONTENDED_REASONS | {"None", None}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits jitter() * min(cap, base * 2**n)."""

    attempts: int = 4
    base_seconds: float = 0.05
    cap_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        return self.jitter() * min(self.cap_seconds, self.base_seconds * 2.0**attempt)

    def run(self, work: Callable[[], T]) -> T:
        """Run work; while AWS says "not now", wait and run it again, up to `attempts` times."""
        for attempt in range(self.attempts - 1):
            try:
                return work()
            except Exception as error:
                if not is_contention(error):
                    raise
                wait = self.delay(attempt)
                logger.info(
                    "contention: retrying", extra={"code": _code(error), "wait_seconds": wait}
                )
                self.sleep(wait)
        return work()


class Requeue(Protocol):
    def send_later(
        self,
        source_queue_arn: str,
        body: str,
        attributes: Mapping[str, Mapping[str, str]],
        delay_seconds: int,
    ) -> None: ...


@dataclass(frozen=True)
class Contention:
    """How a queue consumer rides out contention: retried in the invocation, then requeued."""

    requeue: Requeue
    backoff: Backoff = field(default_factory=Backoff)
    max_requeues: int = 20
    requeue_base_seconds: float = 2.0

    def requeue_delay(self, requeues: int) -> int:
        """Seconds the copy waits: full jitter on 2 s, 4 s, 8 s... up to SQS's 15 minutes."""
        ceiling = min(MAX_SQS_DELAY_SECONDS, self.requeue_base_seconds * 2.0**requeues)
        return max(1, round(self.backoff.jitter() * ceiling))

    def put_back(self, record: Any, failure: BaseException) -> bool:
        """If failure is contention, put a delayed copy of record back on its queue: True.

        record is a Powertools SQSRecord. False: not contention, or requeued enough already;
        the record then fails as any other would.
        """
        if not is_contention(failure):
            return False
        requeues = _requeues(record.raw_event)
        if requeues >= self.max_requeues:
            logger.error(
                "contention: requeued too often, failing the record",
                extra={"requeues": requeues},
            )
            return False
        delay = self.requeue_delay(requeues)
        attributes = {
            **_string_attributes(record.raw_event),
            REQUEUES_ATTRIBUTE: {"DataType": "Number", "StringValue": str(requeues + 1)},
        }
        self.requeue.send_later(record.event_source_arn, record.body, attributes, delay)
        logger.warning(
            "contention: a copy is back on the queue, this delivery is done",
            extra={"code": _code(failure), "requeues": requeues + 1, "delay_seconds": delay},
        )
        return True


def _code(error: BaseException) -> str:
    for response in aws_error_responses(error):
        return str(error_code(response))
    return type(error).__name__


def _requeues(raw_record: Mapping[str, Any]) -> int:
    attribute = raw_record.get("messageAttributes", {}).get(REQUEUES_ATTRIBUTE) or {}
    try:
        return int(attribute.get("stringValue") or 0)
    except ValueError:
        return 0


def _string_attributes(raw_record: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The record's message attributes as SendMessage takes them (correlation id, event type)."""
    return {
        name: {"DataType": value["dataType"], "StringValue": value["stringValue"]}
        for name, value in raw_record.get("messageAttributes", {}).items()
        if value.get("stringValue") is not None and name != REQUEUES_ATTRIBUTE
    }
