"""initiate_billing: bill a reserved order once, in USD, and move it on to BILLED (or REJECTED);
reverse the charge of a cancelled order once.

Plain Python: the ledger (below) and the order store (chalicelib.orders) are ports with SQL
and DynamoDB adapters.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from chalicelib.failures import InvalidMessage
from chalicelib.fx import NoRateForCurrency, to_usd
from chalicelib.orders import (
    EventPublisher,
    OrderRecord,
    OrderStore,
    Transition,
    publish_pending,
)
from order_contracts import (
    Billing,
    OrderBilled,
    OrderCancelled,
    OrderRejected,
    OrderReserved,
    UnsupportedCurrency,
)


@dataclass(frozen=True)
class LedgerEntry:
    """One billing row: what was charged, in the order's currency and in USD, at which rate."""

    order_id: str
    customer_id: str
    currency: str
    amount: Decimal
    usd_amount: Decimal
    usd_rate: Decimal
    rate_date: date
    billed_at: datetime


@dataclass(frozen=True)
class LedgerReversal:
    """The row that reverses an order's charge: its amounts negated, at the charge's rate."""

    order_id: str
    currency: str
    amount: Decimal
    usd_amount: Decimal
    usd_rate: Decimal
    rate_date: date
    reversed_at: datetime


class RatesUnavailable(RuntimeError):
    """No rates on or before the order's day: the rate table has not been loaded."""


class Ledger(Protocol):
    def rates_on_or_before(self, day: date) -> tuple[date, dict[str, Decimal]] | None:
        """The latest day's euro rates up to day, with that day."""
        ...

    def record_charge(self, entry: LedgerEntry) -> LedgerEntry:
        """Insert the row unless the order has one; return the row the ledger holds."""
        ...

    def reverse_charge(self, order_id: str, at: datetime) -> LedgerReversal | None:
        """Insert the reversal of the order's charge unless it has one; return the reversal
        the ledger holds, or None if the order was never charged. The charge is not touched."""
        ...


def initiate_billing(
    reserved: OrderReserved,
    ledger: Ledger,
    orders: OrderStore,
    publisher: EventPublisher,
    now: Callable[[], datetime],
) -> OrderRecord:
    """Charge the order once and announce OrderBilled; a repeat finds it done and changes nothing.

    The ledger row and the order's status live in two stores, so each step is idempotent on
    its own: the row is inserted once (order id unique) and the status moves only from
    RESERVED. A retry after a crash in between finds the row and finishes the move.
    """
    record = orders.get(reserved.order_id)
    if record is None:
        raise InvalidMessage(f"OrderReserved for {reserved.order_id}, which has no order record")
    if record.status == "RESERVED":
        record = _charge(reserved, ledger, orders, now) or _reread(orders, reserved.order_id)
    if record.status == "CANCELLED":
        # Cancelled while this charge was made (its move to BILLED found CANCELLED), or a
        # retry of a charge a crash left: the ledger must net to zero all the same.
        ledger.reverse_charge(record.order_id, now())
    publish_pending(record, orders, publisher)
    return record


def reverse_cancelled(
    cancelled: OrderCancelled, ledger: Ledger, now: Callable[[], datetime]
) -> LedgerReversal | None:
    """Reverse the cancelled order's charge once, if it was charged; None if it was not.

    A charge made after this runs is reversed by initiate_billing itself, which finds the
    order CANCELLED when it tries to move it to BILLED.
    """
    return ledger.reverse_charge(cancelled.order_id, now())


def _charge(
    reserved: OrderReserved, ledger: Ledger, orders: OrderStore, now: Callable[[], datetime]
) -> OrderRecord | None:
    order = reserved.order
    billed_at = now()
    envelope = {
        "order_id": order.order_id,
        "occurred_at": billed_at,
        "correlation_id": reserved.correlation_id,
        "order": order,
    }
    found = ledger.rates_on_or_before(reserved.occurred_at.date())
    if found is None:
        raise RatesUnavailable(f"no exchange rates on or before {reserved.occurred_at.date()}")
    rate_date, per_euro = found
    try:
        conversion = to_usd(order.total, order.currency, per_euro, rate_date)
    except NoRateForCurrency:
        rejected = OrderRejected(**envelope, reasons=[UnsupportedCurrency(currency=order.currency)])
        return orders.reject_reserved(rejected)
    entry = ledger.record_charge(
        LedgerEntry(
            order_id=order.order_id,
            customer_id=order.customer.customer_id,
            currency=order.currency,
            amount=order.total,
            usd_amount=conversion.usd_amount,
            usd_rate=conversion.usd_rate,
            rate_date=conversion.rate_date,
            billed_at=billed_at,
        )
    )
    # Built from the stored row, so a retry announces exactly what was charged the first time.
    billing = Billing(
        usd_total=entry.usd_amount, usd_rate=entry.usd_rate, rate_date=entry.rate_date
    )
    billed = OrderBilled(**envelope, billing=billing)
    return orders.advance(Transition("RESERVED", "BILLED", billed))


def _reread(orders: OrderStore, order_id: str) -> OrderRecord:
    record = orders.get(order_id)
    if record is None:  # pragma: no cover - a record does not vanish
        raise InvalidMessage(f"order {order_id} disappeared")
    return record
