"""The pipeline's business metrics: one definition of their names, units and dimensions.

The functions emit them (chalicelib.metrics, through Powertools' EMF provider), the web tier
writes its one (order_web.metrics), the CloudFormation dashboard and alarms
(cloudformation/observability.yaml) graph and watch them, the local dashboard sums them, and
the tests hold all of these to this module. Plain Python: both tiers import it.

Every metric has the dimension `service` (SERVICE) and at most one more, of a few known
values: each distinct combination of dimension values is one custom metric, billed monthly.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

NAMESPACE = "OrderPipeline"
# Powertools Metrics' own name for its service dimension; the same value from every emitter
# (functions, web tier, watchdog), so a metric is one series whoever counts it.
SERVICE_DIMENSION = "service"
SERVICE = "order-pipeline"
DOOR_DIMENSION = "door"
DOORS = ("api", "web")
REASON_DIMENSION = "reason"
# order_contracts.events' rejection reasons (a test holds this tuple to them).
REJECTION_REASONS = (
    "out_of_stock",
    "unknown_sku",
    "price_changed",
    "currency_mismatch",
    "unsupported_currency",
)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str  # a CloudWatch unit, as EMF spells it
    meaning: str
    # The dimension besides `service`, if any, and the values it takes.
    dimension: str | None = None
    values: tuple[str, ...] = ()


class Metric(Enum):
    """Each business metric; .value is its MetricSpec."""

    ORDERS_PLACED = MetricSpec(
        "OrdersPlaced", "Count", "orders a door accepted (new ones only)", DOOR_DIMENSION, DOORS
    )
    ORDERS_RESERVED = MetricSpec("OrdersReserved", "Count", "orders whose stock was reserved")
    ORDERS_REJECTED = MetricSpec(
        "OrdersRejected", "Count", "orders rejected, at reservation or at billing"
    )
    REJECTION_REASONS = MetricSpec(
        "OrderRejectionReasons",
        "Count",
        "each distinct reason of a rejected order (an order short of two SKUs for one "
        "reason counts once)",
        REASON_DIMENSION,
        REJECTION_REASONS,
    )
    ORDERS_BILLED = MetricSpec("OrdersBilled", "Count", "orders charged")
    BILLED_USD = MetricSpec("BilledUSD", "None", "what those orders were charged, in USD")
    EMAILS_SENT = MetricSpec("EmailsSent", "Count", "emails SES accepted")
    EMAILS_SUPPRESSED = MetricSpec(
        "EmailsSuppressed", "Count", "emails not sent: the address bounced or complained before"
    )
    EMAILS_RATE_LIMITED = MetricSpec(
        "EmailsRateLimited", "Count", "emails not sent: the guest address had its hour's emails"
    )
    EMAILS_FAILED = MetricSpec(
        "EmailsFailed", "Count", "notification attempts that failed (SQS retries them)"
    )
    ORDERS_CANCELLED = MetricSpec("OrdersCancelled", "Count", "orders cancelled")
    RECORDS_RETRIED = MetricSpec(
        "RecordsRetried",
        "Count",
        "queue records that failed, or met contention and were put back, for another try",
    )
    RECORDS_DEAD_LETTERED = MetricSpec(
        "RecordsDeadLettered", "Count", "queue records that failed their last try: in a DLQ"
    )
    RECORDS_THROTTLED = MetricSpec(
        "RecordsThrottled",
        "Count",
        "queue records AWS still throttled after botocore's retries (put back or failed)",
    )
    STUCK_ORDERS = MetricSpec(
        "StuckOrders", "Count", "orders not final N minutes after placement (the watchdog)"
    )

    @property
    def spec(self) -> MetricSpec:
        return self.value

    @property
    def metric_name(self) -> str:
        return self.value.name


def dimensions(metric: Metric, value: str | None = None) -> dict[str, str]:
    """The dimensions of one data point of `metric`: service, and its own if it has one."""
    spec = metric.spec
    if spec.dimension is None:
        if value is not None:
            raise ValueError(f"{spec.name} has no dimension besides {SERVICE_DIMENSION}")
        return {SERVICE_DIMENSION: SERVICE}
    if value not in spec.values:
        raise ValueError(f"{spec.name}: {spec.dimension} must be one of {spec.values}, not {value}")
    return {SERVICE_DIMENSION: SERVICE, spec.dimension: value}


def emf_line(
    values: Mapping[Metric, float], dimension_values: Mapping[str, str], at: datetime
) -> str:
    """One embedded-metric-format log line, for a writer without Powertools (the web tier).

    CloudWatch Logs extracts the metrics from the line in any log group, however it arrived
    (PutLogEvents needs no special header; ARCHITECTURE.md, "Metrics").
    """
    document = {
        "_aws": {
            "Timestamp": int(at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dimension_values)],
                    "Metrics": [
                        {"Name": metric.metric_name, "Unit": metric.spec.unit} for metric in values
                    ],
                }
            ],
        },
        **dimension_values,
        **{metric.metric_name: value for metric, value in values.items()},
    }
    return json.dumps(document, separators=(",", ":"))
