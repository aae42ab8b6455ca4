"""What each event-driven function does, named as the function: the glue between its event
and its step (chalicelib.reservation, billing, communications), one record at a time.

Queue consumers run their batch through chalicelib.sqs_batch (partial batch response, DLQ
with reason); the SNS and scheduled functions take their one event.
"""

from collections.abc import Callable
from typing import Any

# Before pydantic, on purpose: Powertools' batch utilities import their parser's pydantic
# models (about 12 ms of CPU at a cold start, for type hints only) when pydantic is already
# imported. Nothing imports pydantic before this module on a queue consumer's cold path.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from chalicelib import billing, cancellation, communications, metrics, reservation, sqs_batch
from chalicelib.failures import InvalidMessage
from chalicelib.feedback import addresses_to_suppress
from chalicelib.fx import parse_ecb_rates
from chalicelib.intake import decode_intake_message
from chalicelib.metrics import CountingPublisher
from chalicelib.observability import log_context, logger, utc_now
from chalicelib.services import Services
from order_contracts import (
    AnyEvent,
    CancelRequested,
    OrderBilled,
    OrderCancelled,
    OrderRejected,
    OrderReserved,
    parse_event,
)
from order_contracts.metrics import Metric


def process_order(event: dict[str, Any], context: Any, services: Services) -> Any:
    """order-fulfillment: reserve stock for each order placed at either door."""
    return _run_batch(event, context, services, _process_order)


def initiate_billing(event: dict[str, Any], context: Any, services: Services) -> Any:
    """order-billing: bill each reserved order in USD; reverse each cancelled order's charge."""
    return _run_batch(event, context, services, _initiate_billing)


def customer_communications(event: dict[str, Any], context: Any, services: Services) -> Any:
    """order-notifications: email each billed, rejected or cancelled order's customer, once."""
    return _run_batch(event, context, services, _customer_communications)


def _run_batch(
    event: dict[str, Any],
    context: Any,
    services: Services,
    work: Callable[[SQSRecord, Services], None],
) -> Any:
    return sqs_batch.run(
        event,
        context,
        lambda record: work(record, services),
        services.dead_letters,
        services.settings.max_receive_count,
        services.contention,
    )


def record_ses_feedback(message: str, services: Services) -> None:
    """ses-feedback: suppress addresses that bounced permanently or complained."""
    for address, reason in addresses_to_suppress(message):
        services.contacts.suppress(address, reason, utc_now())
        logger.warning("address suppressed", extra={"reason": reason})


def _process_order(record: SQSRecord, services: Services) -> None:
    placed = decode_intake_message(record.body, services.documents.fetch)
    if placed is None:
        logger.info("ignored an S3 test event")
        return
    if isinstance(placed, CancelRequested):
        _cancel_requested(placed, services)
        return
    with log_context(order_id=placed.order_id, correlation_id=placed.correlation_id):
        outcome = reservation.process_order(
            placed, services.store, CountingPublisher(services.publisher), utc_now
        )
        logger.info("order fulfilled", extra={"status": outcome.status})


def _cancel_requested(request: CancelRequested, services: Services) -> None:
    """A storefront shopper's cancel: the order API's rules, the window judged at the request.

    A refusal (rejected, past the window, or an order not recorded) changes nothing and is
    done: the storefront has already told the shopper what it could, and a retry would
    refuse again.
    """
    with log_context(order_id=request.order_id, correlation_id=request.correlation_id):
        try:
            record = cancellation.cancel_order(
                request.order_id,
                store=services.store,
                documents=services.documents,
                publisher=CountingPublisher(services.publisher),
                now=utc_now,
                window=services.settings.cancellation_window,
                correlation_id=request.correlation_id,
                requested_at=request.requested_at,
            )
        except cancellation.NotCancellable as refused:
            logger.info("cancel refused", extra={"reason": str(refused)})
            return
        if record is None:
            logger.warning("cancel refused: no such order")
            return
        logger.info("order cancelled", extra={"status": record.status})


def _initiate_billing(record: SQSRecord, services: Services) -> None:
    event = _pipeline_event(record)
    if isinstance(event, OrderCancelled):
        with log_context(order_id=event.order_id, correlation_id=event.correlation_id):
            reversal = billing.reverse_cancelled(event, services.ledger, utc_now)
            logger.info("cancelled order's charge reversed", extra={"charged": bool(reversal)})
        return
    if not isinstance(event, OrderReserved):
        _ignore(event, "order-billing")
        return
    with log_context(order_id=event.order_id, correlation_id=event.correlation_id):
        outcome = billing.initiate_billing(
            event, services.ledger, services.store, CountingPublisher(services.publisher), utc_now
        )
        logger.info("order billed", extra={"status": outcome.status})


def _pipeline_event(record: SQSRecord) -> AnyEvent:
    try:
        return parse_event(record.body)
    except ValidationError as error:
        raise InvalidMessage(f"not a pipeline event: {error}") from error


def _ignore(event: AnyEvent, queue: str) -> None:
    """An event the consumer has no part in (its subscription filters them out): done."""
    with log_context(order_id=event.order_id, correlation_id=event.correlation_id):
        logger.info("event ignored", extra={"event_type": event.event_type, "queue": queue})


def _customer_communications(record: SQSRecord, services: Services) -> None:
    event = _pipeline_event(record)
    if not isinstance(event, OrderBilled | OrderRejected | OrderCancelled):
        _ignore(event, "order-notifications")
        return
    with log_context(order_id=event.order_id, correlation_id=event.correlation_id):
        try:
            status = communications.customer_communications(
                event,
                services.contacts,
                services.mailer,
                services.store,
                CountingPublisher(services.publisher),
                utc_now,
                services.guest_emails,
                services.email_details,
            )
        except Exception:
            metrics.count(Metric.EMAILS_FAILED)
            raise
        if status in metrics.EMAIL_OUTCOMES:
            metrics.count(metrics.EMAIL_OUTCOMES[status])
        logger.info(
            "customer told", extra={"event_type": event.event_type, "email": status or "none"}
        )


def refresh_exchange_rates(services: Services) -> int:
    """Load the ECB's latest reference rates into the rate table; return how many were saved.

    A failed fetch or a feed that is not the ECB's raises: the schedule tries again, and
    billing keeps using the latest rates it has.
    """
    rates = parse_ecb_rates(services.fetch_rates_feed())
    saved = services.ledger.save_rates(rates)
    days = sorted({rate.day.isoformat() for rate in rates})
    logger.info("exchange rates refreshed", extra={"rates": saved, "days": days})
    return saved
