"""The order record and its lifecycle, the ports every step uses, and the record's outbox.

RECEIVED -> RESERVED or REJECTED -> BILLED (or REJECTED) -> CONFIRMED; RECEIVED, RESERVED,
BILLED and CONFIRMED -> CANCELLED within the cancellation window (cancellation.py). REJECTED
and CANCELLED are final: nothing moves an order out of them. Each step is plain
Python (reservation.py, billing.py, communications.py) given an OrderStore and an
EventPublisher: DynamoDB and SNS adapters in chalicelib.adapters, in-memory fakes in
tests/fakes.py.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from order_contracts import (
    AnyEvent,
    Billing,
    Order,
    OrderBilled,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    OrderReserved,
    parse_event,
)
from order_contracts.events import RejectionReason
from order_contracts.status import Status

# The contract's statuses, one definition for both doors. A recorded order outside
# FINAL_STATUSES is in flight: the stuck-order watchdog (watchdog.py) finds those that stay so
# too long.
OrderStatus = Status


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
    # The order as placed (write-once): a cancel gives back its lines' stock and announces it.
    order: Order
    rejection: list[RejectionReason] = field(default_factory=list)
    # The outcome event, kept until SNS accepted it: the record is its own outbox.
    pending_event: str | None = None
    # What billing charged in USD, set by the move to BILLED: the status pages show it.
    billing: Billing | None = None
    # The door's correlation id, on every log line about the order (make trace follows it).
    correlation_id: str = ""

    @property
    def placed_at(self) -> datetime:
        """When the order was placed at its door (its RECEIVED entry)."""
        return datetime.fromisoformat(self.history[0].at)


def new_record(
    placed: OrderPlaced, outcome: OrderReserved | OrderRejected | OrderCancelled
) -> OrderRecord:
    """The record of an order seen for the first time: received at its door, then the outcome.

    The outcome is the reservation, its refusal, or a cancel that came before either. The
    outcome event waits on the record until it is published (see publish_pending).
    """
    status: OrderStatus = (
        "REJECTED"
        if isinstance(outcome, OrderRejected)
        else "CANCELLED"
        if isinstance(outcome, OrderCancelled)
        else "RESERVED"
    )
    return OrderRecord(
        order_id=placed.order_id,
        status=status,
        fingerprint=placed.order.fingerprint(),
        history=[
            HistoryEntry("RECEIVED", placed.occurred_at.isoformat(), f"via {placed.source}"),
            HistoryEntry(status, outcome.occurred_at.isoformat(), _detail(outcome)),
        ],
        order=placed.order,
        rejection=list(outcome.reasons) if isinstance(outcome, OrderRejected) else [],
        pending_event=outcome.to_json(),
        correlation_id=placed.correlation_id,
    )


def _detail(outcome: OrderReserved | OrderRejected | OrderCancelled) -> str:
    return "cancelled before fulfillment" if isinstance(outcome, OrderCancelled) else ""


@dataclass(frozen=True)
class Transition:
    """One move of a recorded order: from expected to status, announcing event."""

    expected: OrderStatus
    status: OrderStatus
    event: AnyEvent
    detail: str = ""

    @property
    def order_id(self) -> str:
        return self.event.order_id

    @property
    def billing(self) -> Billing | None:
        """The charge the move records on the order (the move to BILLED), if any."""
        return self.event.billing if isinstance(self.event, OrderBilled) else None

    @property
    def entry(self) -> HistoryEntry:
        """What the move adds to the order's history."""
        return HistoryEntry(self.status, self.event.occurred_at.isoformat(), self.detail)


class ReservationRefused(Exception):
    """The catalog refused the reservation: unknown SKUs, another currency or price, no stock."""

    def __init__(self, reasons: list[RejectionReason]) -> None:
        super().__init__(", ".join(reason.describe() for reason in reasons))
        self.reasons = reasons


class OrderAlreadyRecorded(Exception):
    """Another delivery of the same order won the race to record it."""


class OrderStore(Protocol):
    def get(self, order_id: str) -> OrderRecord | None: ...

    def reserve(self, placed: OrderPlaced, record: OrderRecord) -> None:
        """Write the RESERVED record, decrement stock per SKU and count, in one transaction.

        The catalog is the price authority: the transaction holds only if every SKU exists,
        is priced in the order's currency at the line's unit price and has the stock; if not,
        it raises ReservationRefused with the reasons, and nothing is written. Raises
        OrderAlreadyRecorded if the order has a record already.
        """
        ...

    def reject(self, placed: OrderPlaced, record: OrderRecord) -> None:
        """Write the REJECTED record and count it; stock is not touched.

        Raises OrderAlreadyRecorded if the order has a record already.
        """
        ...

    def advance(self, move: Transition) -> OrderRecord | None:
        """Make the move, with its event pending; None if the order is not at move.expected."""
        ...

    def reject_reserved(self, rejected: OrderRejected) -> OrderRecord | None:
        """Reject a RESERVED order and give its stock back, at once; None if not RESERVED."""
        ...

    def cancel_received(self, placed: OrderPlaced, record: OrderRecord) -> None:
        """Write the CANCELLED record of an order fulfillment has not recorded, and count it.

        The same conditional put as reserve's (attribute_not_exists), so whichever of the
        two writes first wins: raises OrderAlreadyRecorded if the order has a record already
        (then the cancel moves that record instead); stock is not touched.
        """
        ...

    def cancel(self, cancelled: OrderCancelled) -> OrderRecord | None:
        """Move the order from cancelled.cancelled_from to CANCELLED with the event pending,
        give its stock back and count it, in one transaction; None if the order is not at
        cancelled_from (it moved meanwhile, or is unknown)."""
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
