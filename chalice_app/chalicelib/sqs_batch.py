"""Run an SQS batch as Lambda delivers it: each record alone, failures reported, none lost.

Generic: the work on one record comes from chalicelib.consumers. On a record's last attempt
a failure is forwarded to the queue's DLQ with its reason, instead of SQS moving it silently.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import metrics, tracing
from chalicelib.adapters.dead_letters import SqsDeadLetters
from chalicelib.contention import Contention
from chalicelib.failures import PermanentFailure, is_throttling
from chalicelib.observability import log_context, logger
from order_contracts import CORRELATION_ID_ATTRIBUTE
from order_contracts.metrics import Metric

RecordWork = Callable[[SQSRecord], None]


def run(
    event: dict[str, Any],
    context: Any,
    work: RecordWork,
    dead_letters: SqsDeadLetters,
    max_receive_count: int,
    contention: Contention | None = None,
) -> Any:
    """Run work on each record and report only the failed ones (batchItemFailures).

    Needs ReportBatchItemFailures on the event source mapping; without it Lambda would
    treat the whole batch as done (see ARCHITECTURE.md). With contention, a record that meets
    a transaction conflict or throttling is retried, then put back on its queue, never failed.
    """
    # Never raise for an all-failed batch: the response already says which records failed.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    # Which step wrote a line, on the line itself: one timeline follows an order through
    # every function (ops/trace.py), locally too, where they all share one log.
    function_name = str(getattr(context, "function_name", "") or "")

    def handle(record: SQSRecord) -> None:
        # The subsegment first: the log context annotates it with the record's ids.
        with (
            tracing.record_subsegment("record"),
            log_context(
                message_id=record.message_id,
                correlation_id=_correlation_id(record),
                function_name=function_name,
            ),
        ):
            _attempt(record, _riding_out(work, contention), dead_letters, max_receive_count)

    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )


def _riding_out(work: RecordWork, contention: Contention | None) -> RecordWork:
    """work, retried through contention and, past that, put back on its queue as done."""
    if contention is None:
        return work

    def attempt(record: SQSRecord) -> None:
        try:
            contention.backoff.run(lambda: work(record))
        except Exception as failure:
            if not contention.put_back(record, failure):
                raise
            # Put back with a delay: retried later, and counted as any retry is.
            if is_throttling(failure):
                metrics.count(Metric.RECORDS_THROTTLED)
            metrics.count(Metric.RECORDS_RETRIED)

    return attempt


def _attempt(
    record: SQSRecord, work: RecordWork, dead_letters: SqsDeadLetters, max_receive_count: int
) -> None:
    try:
        work(record)
    except Exception as failure:
        reason = f"{type(failure).__name__}: {failure}"
        attempt = int(record.attributes.approximate_receive_count or 1)
        if is_throttling(failure):
            metrics.count(Metric.RECORDS_THROTTLED)
        if attempt < max_receive_count:
            log = logger.error if isinstance(failure, PermanentFailure) else logger.exception
            log(
                "record failed; SQS will redeliver it", extra={"attempt": attempt, "reason": reason}
            )
            metrics.count(Metric.RECORDS_RETRIED)
            raise
        # Last attempt: SQS would move it to the DLQ without a word, so we do, with the reason.
        logger.error("record dead-lettered", extra={"attempt": attempt, "reason": reason})
        dead_letters.send(record.event_source_arn, record.body, reason, record.message_id)
        metrics.count(Metric.RECORDS_DEAD_LETTERED)


def _correlation_id(record: SQSRecord) -> str:
    """The publisher's correlation id (an SNS message attribute), else the message id."""
    # Index, not .get(): indexing wraps the attribute in its typed accessor (None if absent).
    attribute = record.message_attributes[CORRELATION_ID_ATTRIBUTE]
    return (attribute.string_value if attribute is not None else None) or record.message_id
