"""cancel_order: cancel an order within its window, once, whatever it races with.

Plain Python on the ports of chalicelib.orders and the order documents. The cancel is a
state change with its compensations, each done once:
- stock back in the same DynamoDB transaction that records CANCELLED (OrderStore.cancel), for
  orders that held stock (RESERVED, BILLED, CONFIRMED);
- OrderCancelled through the record's outbox, to billing (which reverses a charge, if any)
  and to customer communications (one cancellation email).

An order fulfillment has not recorded yet (RECEIVED: only its document exists) is cancelled
by writing its record as CANCELLED with the same conditional put the reservation uses
(attribute_not_exists): whichever writes first wins. If the cancel wins, the reservation finds
the record and reserves nothing; if the reservation wins, the cancel moves its record on the
next attempt, giving the stock back.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.orders import (
    EventPublisher,
    OrderAlreadyRecorded,
    OrderRecord,
    OrderStore,
    new_record,
    publish_pending,
)
from order_contracts import OrderCancelled, OrderPlaced
from order_contracts.events import CancelledFrom

# Each failed write means the order moved on meanwhile (recorded, billed, confirmed, or
# cancelled by a concurrent request). States only move forward and there are four before
# CANCELLED, so a few attempts always settle; more would be a bug.
_ATTEMPTS = 6


class NotCancellable(Exception):
    """The order cannot be cancelled: rejected, or past the cancellation window."""


class PlacedOrders(Protocol):
    def placed(self, order_id: str) -> OrderPlaced | None:
        """The order as its door accepted it, if a document of it exists."""
        ...


def cancel_order(
    order_id: str,
    *,
    store: OrderStore,
    documents: PlacedOrders,
    publisher: EventPublisher,
    now: Callable[[], datetime],
    window: timedelta,
    correlation_id: str,
    requested_at: datetime | None = None,
) -> OrderRecord | None:
    """Cancel the order and announce OrderCancelled; None if no such order is known.

    The window is judged at requested_at when the request was made before it was handled
    (the storefront's CancelRequested, handled from a queue), else at now(). A repeat (or a
    concurrent second cancel) finds the order CANCELLED and answers with its record,
    publishing OrderCancelled again if it is still pending (consumers are idempotent).
    Raises NotCancellable for a rejected order or one past the window.
    """
    for _ in range(_ATTEMPTS):
        at = now()
        judged = _Window(requested_at or at, window)
        record = store.get(order_id)
        if record is None:
            placed = documents.placed(order_id)
            if placed is None:
                return None
            record = _cancel_received(placed, store, at, judged, correlation_id)
        elif record.status != "CANCELLED":
            record = _cancel_recorded(record, store, at, judged, correlation_id)
        if record is not None:
            publish_pending(record, store, publisher)
            return record
    raise RuntimeError(f"order {order_id} kept moving while it was cancelled")  # pragma: no cover


def _cancel_received(
    placed: OrderPlaced, store: OrderStore, at: datetime, window: "_Window", correlation_id: str
) -> OrderRecord | None:
    """Record an order fulfillment has not recorded as CANCELLED; None if it just did."""
    window.check(placed.order_id, placed.occurred_at)
    record = new_record(placed, _cancelled(placed.order_id, placed, at, correlation_id, "RECEIVED"))
    try:
        store.cancel_received(placed, record)
    except OrderAlreadyRecorded:
        return None  # the reservation (or another cancel) wrote first: try again on its record
    return record


def _cancel_recorded(
    record: OrderRecord, store: OrderStore, at: datetime, window: "_Window", correlation_id: str
) -> OrderRecord | None:
    """Move a recorded order to CANCELLED with its stock; None if it moved meanwhile."""
    if record.status == "REJECTED":
        raise NotCancellable(
            f"order {record.order_id} was rejected: it holds no stock and was not charged"
        )
    window.check(record.order_id, record.placed_at)
    assert record.status in ("RESERVED", "BILLED", "CONFIRMED"), record.status
    cancelled_from: CancelledFrom = record.status
    return store.cancel(_cancelled(record.order_id, record, at, correlation_id, cancelled_from))


def _cancelled(
    order_id: str,
    source: OrderPlaced | OrderRecord,
    at: datetime,
    correlation_id: str,
    cancelled_from: CancelledFrom,
) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id,
        occurred_at=at,
        correlation_id=correlation_id,
        order=source.order,
        cancelled_from=cancelled_from,
    )


@dataclass(frozen=True)
class _Window:
    """The cancellation window, judged at the moment the cancel was asked for."""

    asked_at: datetime
    length: timedelta

    def check(self, order_id: str, placed_at: datetime) -> None:
        if self.asked_at > placed_at + self.length:
            hours = self.length / timedelta(hours=1)
            raise NotCancellable(
                f"order {order_id} was placed at {placed_at.isoformat()}; orders can be "
                f"cancelled within {hours:g} hours of being placed"
            )
