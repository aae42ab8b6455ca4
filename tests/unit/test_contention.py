"""chalicelib/contention.py alone: what counts as contention, the backoff, the requeue."""

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from chalicelib.contention import (
    MAX_SQS_DELAY_SECONDS,
    REQUEUES_ATTRIBUTE,
    Backoff,
    Contention,
    is_contention,
)
from tests.factories import sqs_record


def error(code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "..."}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "Operation")  # type: ignore[arg-type]


def wrapped(cause: BaseException) -> BaseException:
    try:
        raise RuntimeError("the adapter's own words") from cause
    except RuntimeError as failure:
        return failure


@pytest.mark.parametrize(
    ("failure", "contended"),
    [
        (error("TransactionCanceledException", ["None", "TransactionConflict"]), True),
        (error("TransactionCanceledException", ["ThrottlingError", "None"]), True),
        # A failed condition is an answer (out of stock, already recorded), not contention.
        (
            error(
                "TransactionCanceledException", ["ConditionalCheckFailed", "TransactionConflict"]
            ),
            False,
        ),
        (error("TransactionCanceledException", ["ValidationError"]), False),
        (error("TooManyRequestsException"), True),
        (error("ProvisionedThroughputExceededException"), True),
        (error("ThrottlingException"), True),
        (error("TransactionConflictException"), True),
        (error("TransactionCanceledException", ["ProvisionedThroughputExceeded"]), True),
        # Throttling from the other services a consumer calls: SNS, S3.
        (error("Throttling"), True),
        (error("SlowDown"), True),
        # An adapter's own error, raised from a throttled call.
        (wrapped(error("ThrottlingException")), True),
        (wrapped(error("ValidationException")), False),
        (error("ValidationException"), False),
        (error("MessageRejected"), False),
        (RuntimeError("boom"), False),
    ],
)
def test_contention_is_not_now_never_no(failure: BaseException, contended: bool) -> None:
    assert is_contention(failure) is contended


class Attempts:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def test_backoff_retries_contention_with_growing_jittered_waits() -> None:
    waits: list[float] = []
    work = Attempts([error("TooManyRequestsException")] * 3)

    result = Backoff(attempts=4, base_seconds=0.1, sleep=waits.append, jitter=lambda: 0.5).run(work)

    assert (result, work.count) == ("done", 4)
    assert waits == [0.05, 0.1, 0.2]  # half of 0.1, 0.2, 0.4: full jitter's draw of 0.5


def test_backoff_waits_are_capped() -> None:
    backoff = Backoff(base_seconds=1, cap_seconds=2, jitter=lambda: 1.0)
    assert [backoff.delay(n) for n in range(4)] == [1, 2, 2, 2]


def test_backoff_gives_up_after_its_attempts_with_the_last_error() -> None:
    work = Attempts([error("TooManyRequestsException")] * 9)
    with pytest.raises(ClientError):
        Backoff(attempts=3, sleep=lambda _: None).run(work)
    assert work.count == 3


def test_backoff_does_not_retry_what_is_not_contention() -> None:
    work = Attempts([error("ValidationException")])
    with pytest.raises(ClientError):
        Backoff(sleep=lambda _: None).run(work)
    assert work.count == 1


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict[str, Any], int]] = []

    def send_later(
        self, source_queue_arn: str, body: str, attributes: Any, delay_seconds: int
    ) -> None:
        self.messages.append((source_queue_arn, body, dict(attributes), delay_seconds))


def test_a_contended_record_goes_back_delayed_with_its_attributes_and_a_count() -> None:
    sent = Sent()
    contention = Contention(sent, Backoff(jitter=lambda: 1.0))
    record = SQSRecord(
        sqs_record("{}", attributes={"correlation_id": "corr-1", REQUEUES_ATTRIBUTE: "2"})
    )

    assert contention.put_back(record, error("TooManyRequestsException")) is True

    [(queue, body, attributes, delay)] = sent.messages
    assert (queue, body) == (record.event_source_arn, "{}")
    assert attributes == {
        "correlation_id": {"DataType": "String", "StringValue": "corr-1"},
        REQUEUES_ATTRIBUTE: {"DataType": "Number", "StringValue": "3"},
    }
    assert delay == 8  # 2 s doubled per earlier copy, full jitter's top


def test_requeue_delays_stay_within_sqs_limits() -> None:
    contention = Contention(Sent(), Backoff(jitter=lambda: 1.0))
    assert contention.requeue_delay(30) == MAX_SQS_DELAY_SECONDS
    assert Contention(Sent(), Backoff(jitter=lambda: 0.0)).requeue_delay(0) == 1


def test_requeueing_is_bounded_and_only_for_contention() -> None:
    sent = Sent()
    contention = Contention(sent, max_requeues=3)
    tired = SQSRecord(sqs_record("{}", attributes={REQUEUES_ATTRIBUTE: "3"}))
    fresh = SQSRecord(sqs_record("{}"))

    assert contention.put_back(tired, error("TooManyRequestsException")) is False
    assert contention.put_back(fresh, error("ValidationException")) is False
    assert sent.messages == []
