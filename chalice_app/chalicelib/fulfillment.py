"""The fulfillment queue consumer: one intake message in, one reservation out, each alone."""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.failures import PermanentFailure
from chalicelib.intake import decode_intake_message
from chalicelib.observability import log_context, logger, utc_now
from chalicelib.reservation import fulfil
from chalicelib.services import Services
from order_contracts import CORRELATION_ID_ATTRIBUTE


def handle_fulfillment_batch(event: dict[str, Any], context: Any, services: Services) -> Any:
    """Process each record on its own and report only the failed ones to Lambda.

    Needs ReportBatchItemFailures on the event source mapping; without it Lambda would
    retry the whole batch on any failure (see ARCHITECTURE.md).
    """
    # Never raise for an all-failed batch: the response already says which records failed.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle_record(record: SQSRecord) -> None:
        handle_intake_record(record, services)

    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )


def handle_intake_record(record: SQSRecord, services: Services) -> None:
    """Fulfil the order a record carries; on its last allowed attempt, dead-letter it with why."""
    with log_context(message_id=record.message_id, correlation_id=_correlation_id(record)):
        try:
            _fulfil_record(record, services)
        except Exception as failure:
            reason = f"{type(failure).__name__}: {failure}"
            attempt = int(record.attributes.approximate_receive_count or 1)
            if attempt < services.settings.fulfillment_max_receive_count:
                log = logger.error if isinstance(failure, PermanentFailure) else logger.exception
                log(
                    "record failed; SQS will redeliver it",
                    extra={"attempt": attempt, "reason": reason},
                )
                raise
            # Last attempt: SQS would move it to the DLQ without a word, so we do, with the reason.
            logger.error("record dead-lettered", extra={"attempt": attempt, "reason": reason})
            services.dead_letters.send(record.body, reason, record.message_id)


def _correlation_id(record: SQSRecord) -> str:
    """The publisher's correlation id (an SNS message attribute), else the message id."""
    # Index, not .get(): indexing wraps the attribute in its typed accessor (None if absent).
    attribute = record.message_attributes[CORRELATION_ID_ATTRIBUTE]
    return (attribute.string_value if attribute is not None else None) or record.message_id


def _fulfil_record(record: SQSRecord, services: Services) -> None:
    placed = decode_intake_message(record.body, services.documents.fetch)
    if placed is None:
        logger.info("ignored an S3 test event")
        return
    with log_context(order_id=placed.order_id, correlation_id=placed.correlation_id):
        outcome = fulfil(placed, services.store, services.publisher, utc_now)
        logger.info("order fulfilled", extra={"status": outcome.status})
