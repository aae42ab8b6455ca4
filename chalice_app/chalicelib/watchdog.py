"""The stuck-order watchdog: orders not final long after they were placed, and what each awaits.

In a pipeline of topics and queues no step owns "this order never finished"; this does. Every
few minutes (app.watch_stuck_orders) it lists the orders in flight placed more than
STUCK_AFTER_MINUTES ago from the orders table's sparse index (adapters/in_flight.py), reads
each record, logs each stuck order with what it waits for, and emits the count as the metric
StuckOrders. It only reports: moving an order is the pipeline's job, with its conditional
writes; a watchdog that acted would race it.

Orders are in the index from their reservation on. Before it (RECEIVED) an order is only a
document in S3 or a message in order-fulfillment: its queue's retries, dead-letter queue and
DLQ alarm watch it (ARCHITECTURE.md, "The stuck-order watchdog").
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from chalicelib.observability import log_context, logger, utc_now
from chalicelib.orders import OrderRecord, OrderStore
from order_contracts import parse_event
from order_contracts.status import FINAL_STATUSES

if TYPE_CHECKING:
    from chalicelib.services import Services

# app.py's scheduled function, named on its lines as the queue consumers name theirs.
FUNCTION_NAME = "watch_stuck_orders"
# Each stuck order costs one read and one log line; an outage can strand thousands, and the
# count (the metric) says so without reading every one.
MOST_REPORTED = 100

# What an order in flight waits for, by status: the step that moves it next, and its queue.
NEXT_STEP = {
    "RESERVED": "billing (initiate_billing, queue order-billing)",
    "BILLED": "the confirmation email (customer_communications, queue order-notifications)",
}


class InFlightOrders(Protocol):
    def placed_before(self, cutoff: datetime) -> Iterable[str]: ...


@dataclass(frozen=True)
class StuckOrder:
    order_id: str
    status: str
    placed_at: datetime
    waiting_for: str
    correlation_id: str

    def minutes_since_placement(self, now: datetime) -> int:
        return int((now - self.placed_at).total_seconds() // 60)


def waiting_for(record: OrderRecord) -> str:
    """What moves this order on next, in words an operator can act on."""
    if record.pending_event is not None:
        # The outbox: the step recorded its outcome but SNS has not taken the event yet; the
        # next delivery of the step's message publishes it.
        event_type = parse_event(record.pending_event).event_type
        return f"{event_type} to be published to order-events (the record's outbox)"
    return NEXT_STEP.get(record.status, f"a step after {record.status}")


def find_stuck(
    in_flight: InFlightOrders, store: OrderStore, now: datetime, stuck_after: timedelta
) -> tuple[list[StuckOrder], int]:
    """The stuck orders read (at most MOST_REPORTED), and how many the index holds in all.

    Each candidate is read again from the table (consistently): the index lags the table, so
    an order that became final a moment ago is not reported.
    """
    candidates = iter(in_flight.placed_before(now - stuck_after))
    stuck = []
    for order_id in islice(candidates, MOST_REPORTED):
        record = store.get(order_id)
        if record is None or record.status in FINAL_STATUSES:
            continue
        stuck.append(
            StuckOrder(
                order_id,
                record.status,
                record.placed_at,
                waiting_for(record),
                record.correlation_id,
            )
        )
    return stuck, len(stuck) + sum(1 for _ in candidates)


def watch(services: "Services", now: Callable[[], datetime] = utc_now) -> list[StuckOrder]:
    """One run of the watchdog: log each stuck order, emit StuckOrders; return those read."""
    moment = now()
    stuck, count = find_stuck(
        services.in_flight, services.store, moment, services.settings.stuck_after
    )
    for order in stuck:
        # The order's own ids on the line, so `make trace` shows it in the order's timeline.
        with log_context(
            order_id=order.order_id,
            correlation_id=order.correlation_id,
            function_name=FUNCTION_NAME,
        ):
            logger.warning(
                "order stuck",
                extra={
                    "status": order.status,
                    "waiting_for": order.waiting_for,
                    "placed_at": order.placed_at.isoformat(),
                    "minutes_since_placement": order.minutes_since_placement(moment),
                },
            )
    logger.info(
        "stuck orders counted",
        extra={"stuck": count, "stuck_after_minutes": services.settings.stuck_after_minutes},
    )
    emit_stuck_orders(count)
    return stuck


def emit_stuck_orders(count: int) -> None:
    """StuckOrders as an embedded-metric-format line on stdout (CloudWatch Logs extracts it).

    Emitted at every run, zero included, so its alarm always has data.
    """
    from chalicelib import metrics
    from order_contracts.metrics import Metric

    metrics.count(Metric.STUCK_ORDERS, value=count)
