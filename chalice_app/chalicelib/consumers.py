"""What each event-driven function does: queue consumers and the scheduled rate refresh."""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from chalicelib.billing import bill
from chalicelib.communications import communicate
from chalicelib.failures import InvalidMessage
from chalicelib.feedback import addresses_to_suppress
from chalicelib.fx import parse_ecb_rates
from chalicelib.intake import decode_intake_message
from chalicelib.observability import log_context, logger, utc_now
from chalicelib.queue_consumer import consume
from chalicelib.reservation import fulfil
from chalicelib.services import Services
from order_contracts import OrderBilled, OrderRejected, OrderReserved, parse_event


def process_intake_batch(event: dict[str, Any], context: Any, services: Services) -> Any:
    """order-fulfillment: reserve stock for each order placed at either door."""
    return _consume(event, context, services, _fulfil)


def bill_reserved_batch(event: dict[str, Any], context: Any, services: Services) -> Any:
    """order-billing: bill each reserved order in USD."""
    return _consume(event, context, services, _bill)


def notify_customers_batch(event: dict[str, Any], context: Any, services: Services) -> Any:
    """order-notifications: email each billed or rejected order's customer, once."""
    return _consume(event, context, services, _notify)


def _consume(
    event: dict[str, Any],
    context: Any,
    services: Services,
    work: Callable[[SQSRecord, Services], None],
) -> Any:
    return consume(
        event,
        context,
        lambda record: work(record, services),
        services.dead_letters,
        services.settings.max_receive_count,
    )


def record_ses_feedback(message: str, services: Services) -> None:
    """ses-feedback: suppress addresses that bounced permanently or complained."""
    for address, reason in addresses_to_suppress(message):
        services.contacts.suppress(address, reason, utc_now())
        logger.warning("address suppressed", extra={"reason": reason})


def _fulfil(record: SQSRecord, services: Services) -> None:
    placed = decode_intake_message(record.body, services.documents.fetch)
    if placed is None:
        logger.info("ignored an S3 test event")
        return
    with log_context(order_id=placed.order_id, correlation_id=placed.correlation_id):
        outcome = fulfil(placed, services.store, services.publisher, utc_now)
        logger.info("order fulfilled", extra={"status": outcome.status})


def _bill(record: SQSRecord, services: Services) -> None:
    try:
        reserved = OrderReserved.model_validate_json(record.body)
    except ValidationError as error:
        raise InvalidMessage(f"OrderReserved is invalid: {error}") from error
    with log_context(order_id=reserved.order_id, correlation_id=reserved.correlation_id):
        outcome = bill(reserved, services.ledger, services.store, services.publisher, utc_now)
        logger.info("order billed", extra={"status": outcome.status})


def _notify(record: SQSRecord, services: Services) -> None:
    try:
        event = parse_event(record.body)
    except ValidationError as error:
        raise InvalidMessage(f"not a pipeline event: {error}") from error
    if not isinstance(event, OrderBilled | OrderRejected):
        raise InvalidMessage(f"{event.event_type} does not belong on order-notifications")
    with log_context(order_id=event.order_id, correlation_id=event.correlation_id):
        status = communicate(
            event,
            services.contacts,
            services.mailer,
            services.store,
            services.publisher,
            utc_now,
            services.guest_emails,
        )
        logger.info("customer told", extra={"event_type": event.event_type, "email": status})


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
