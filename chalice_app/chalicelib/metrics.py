"""Business metrics as CloudWatch embedded metric format (EMF) lines, via Powertools Metrics.

Called from the thin places only (chalicelib.consumers, orders_api, sqs_batch): the domain
modules stay free of it. Each call writes one line at once, with its own provider rather than
Powertools' shared metric set, because the local event sources and the tests run handlers on
threads and a shared set would mix their points. On Lambda the line goes to stdout, which is
the function's log group, where CloudWatch extracts the metrics; the local stack and the
tests hand in their own writer (set_writer) to read the lines in process.

The names, units and dimensions are order_contracts.metrics' (one definition for the code,
the dashboard, the alarms and the tests).
"""

import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from order_contracts import OrderBilled, OrderCancelled, OrderRejected, OrderReserved
from order_contracts.metrics import NAMESPACE, Metric, dimensions

if TYPE_CHECKING:
    from chalicelib.orders import EventPublisher
    from order_contracts import AnyEvent

LineWriter = Callable[[str], None]

_lock = threading.Lock()
_writers: list[LineWriter] = []


def _stdout(line: str) -> None:
    print(line, flush=True)


def set_writer(writer: LineWriter | None) -> None:
    """Send the lines to `writer` instead of stdout (None: back to stdout)."""
    with _lock:
        _writers[:] = [writer] if writer is not None else []


def count(metric: Metric, dimension_value: str | None = None, value: float = 1) -> None:
    """One data point of `metric` (with its own dimension's value, if it has one)."""
    emit({metric: value}, dimension_value)


def emit(values: Mapping[Metric, float], dimension_value: str | None = None) -> None:
    """One EMF line holding `values`, which share their dimensions."""
    points = list(values.items())
    dimension_values = dimensions(points[0][0], dimension_value)
    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE)
    for metric, value in points:
        if dimensions(metric, dimension_value) != dimension_values:
            raise ValueError(f"{metric.metric_name} has other dimensions than {points[0][0]}")
        provider.add_metric(name=metric.metric_name, unit=metric.spec.unit, value=value)
    for name, dimension in dimension_values.items():
        provider.add_dimension(name=name, value=dimension)
    line = json.dumps(provider.serialize_metric_set(), separators=(",", ":"))
    with _lock:
        writers = list(_writers) or [_stdout]
    for writer in writers:
        writer(line)


class CountingPublisher:
    """The publisher port, counting each outcome event as it is announced.

    The outbox publishes an order's event once per transition (again only after a crash
    between the publish and its mark), so counting here counts orders, not deliveries: a
    redelivered message that finds its order done publishes, and counts, nothing.
    """

    def __init__(self, publisher: "EventPublisher") -> None:
        self._publisher = publisher

    def publish(self, event: "AnyEvent") -> None:
        self._publisher.publish(event)
        count_event(event)


def count_event(event: "AnyEvent") -> None:
    """The business metrics an outcome event stands for (none for the others)."""
    if isinstance(event, OrderReserved):
        count(Metric.ORDERS_RESERVED)
    elif isinstance(event, OrderRejected):
        count(Metric.ORDERS_REJECTED)
        for reason in sorted({reason.reason for reason in event.reasons}):
            count(Metric.REJECTION_REASONS, reason)
    elif isinstance(event, OrderBilled):
        emit({Metric.ORDERS_BILLED: 1, Metric.BILLED_USD: float(event.billing.usd_total)})
    elif isinstance(event, OrderCancelled):
        count(Metric.ORDERS_CANCELLED)


# What customer_communications returns, as the metric it counts (None: no email was due).
EMAIL_OUTCOMES = {
    "sent": Metric.EMAILS_SENT,
    "suppressed": Metric.EMAILS_SUPPRESSED,
    "rate_limited": Metric.EMAILS_RATE_LIMITED,
}
