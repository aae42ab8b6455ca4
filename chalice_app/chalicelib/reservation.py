"""process_order: reserve stock for an order exactly once, and make sure its outcome is published.

Plain Python: the store and the publisher are the ports of chalicelib.orders.
"""

from collections.abc import Callable
from datetime import datetime

from chalicelib.failures import ConflictingOrder
from chalicelib.orders import (
    EventPublisher,
    OrderAlreadyRecorded,
    OrderRecord,
    OrderStore,
    ReservationRefused,
    new_record,
    publish_pending,
)
from order_contracts import OrderPlaced, OrderRejected, OrderReserved


def process_order(
    placed: OrderPlaced,
    store: OrderStore,
    publisher: EventPublisher,
    now: Callable[[], datetime],
) -> OrderRecord:
    """Reserve the order's stock once, whatever the number of deliveries, and publish the outcome.

    A retry after a crash between the write and the publish finds the outcome still pending
    on the record and publishes it then; consumers are idempotent, so a repeat is harmless.
    """
    record = store.get(placed.order_id)
    if record is None:
        record = _record_outcome(placed, store, now)
    if record.fingerprint != placed.order.fingerprint():
        raise ConflictingOrder(placed.order_id)
    publish_pending(record, store, publisher)
    return record


def _record_outcome(
    placed: OrderPlaced, store: OrderStore, now: Callable[[], datetime]
) -> OrderRecord:
    envelope = {
        "order_id": placed.order_id,
        "occurred_at": now(),
        "correlation_id": placed.correlation_id,
        "order": placed.order,
    }
    try:
        reserved = new_record(placed, OrderReserved(**envelope))
        try:
            store.reserve(placed, reserved)
            return reserved
        except ReservationRefused as refused:
            rejected = new_record(placed, OrderRejected(**envelope, reasons=refused.reasons))
            store.reject(placed, rejected)
            return rejected
    except OrderAlreadyRecorded:
        record = store.get(placed.order_id)
        if record is None:  # pragma: no cover - a record that won a race cannot vanish
            raise
        return record
