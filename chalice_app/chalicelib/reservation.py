"""Reserve stock for an order exactly once, and make sure its outcome is published.

Plain Python: the store and the publisher are small interfaces with DynamoDB and SNS
adapters in chalicelib.adapters, and in-memory or moto-backed ones in tests.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from chalicelib.failures import ConflictingOrder
from order_contracts import AnyEvent, Order, OrderPlaced, OrderRejected, OrderReserved, parse_event
from order_contracts.events import RejectionReason

OrderStatus = Literal["RECEIVED", "RESERVED", "REJECTED", "BILLED", "CONFIRMED"]


@dataclass(frozen=True)
class HistoryEntry:
    status: OrderStatus
    at: str
    detail: str = ""


@dataclass(frozen=True)
class OrderRecord:
    """The order's state as the orders table holds it."""

    order_id: str
    status: OrderStatus
    fingerprint: str
    history: list[HistoryEntry]
    rejection: list[RejectionReason] = field(default_factory=list)
    # The outcome event, kept until SNS accepted it: the record is its own outbox.
    pending_event: str | None = None


class ReservationRefused(Exception):
    """The catalog refused the reservation: unknown SKUs, another currency or price, no stock."""

    def __init__(self, reasons: list[RejectionReason]) -> None:
        super().__init__(", ".join(reason.describe() for reason in reasons))
        self.reasons = reasons


class OrderAlreadyRecorded(Exception):
    """Another delivery of the same order won the race to record it."""


class OrderStore(Protocol):
    def get(self, order_id: str) -> OrderRecord | None: ...

    def reserve(self, placed: OrderPlaced, event: OrderReserved) -> OrderRecord:
        """Record RESERVED, decrement stock per SKU and count, in one transaction.

        The catalog is the price authority: the transaction holds only if every SKU exists,
        is priced in the order's currency at the line's unit price and has the stock; if not,
        it raises ReservationRefused with the reasons, and nothing is written.
        """
        ...

    def reject(self, placed: OrderPlaced, event: OrderRejected) -> OrderRecord:
        """Record REJECTED with its reasons and count it; stock is not touched."""
        ...

    def advance(
        self,
        order_id: str,
        expected: OrderStatus,
        status: OrderStatus,
        event: AnyEvent,
        detail: str = "",
    ) -> OrderRecord | None:
        """Move the order on to status with its outcome event pending; None if not at expected."""
        ...

    def release(self, order: Order, event: OrderRejected) -> OrderRecord | None:
        """Reject a RESERVED order and give its stock back, at once; None if not RESERVED."""
        ...

    def mark_published(self, order_id: str, event_json: str) -> None:
        """Clear the pending event, unless a later step has already replaced it."""
        ...


class EventPublisher(Protocol):
    def publish(self, event: AnyEvent) -> None: ...


def publish_pending(record: OrderRecord, store: OrderStore, publisher: EventPublisher) -> None:
    """Publish the record's pending outcome event, then clear it (the outbox's second half)."""
    if record.pending_event is not None:
        publisher.publish(parse_event(record.pending_event))
        store.mark_published(record.order_id, record.pending_event)


def fulfil(
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
        try:
            return store.reserve(placed, OrderReserved(**envelope))
        except ReservationRefused as refused:
            return store.reject(placed, OrderRejected(**envelope, reasons=refused.reasons))
    except OrderAlreadyRecorded:
        record = store.get(placed.order_id)
        if record is None:  # pragma: no cover - a record that won a race cannot vanish
            raise
        return record
