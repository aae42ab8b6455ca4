"""The capacity model: each hop's documented AWS limit, and the orders per second it allows.

The one definition of the figures in ARCHITECTURE.md's "Capacity model" (a unit test holds the
table there to `markdown_table()`); `make bench ARGS='--only capacity'` prints it. Each limit
carries its AWS source; each hop's use per order comes from what `make bench` counts per order
(the pipeline's AWS requests, ARCHITECTURE.md "Figures"), and the project's own settings are
read from where they are defined (merge-template.json, deploy/batch_failures.py).

Arithmetic: a hop allows (its limit per second) / (its use per order) orders a second; the
pipeline runs at the smallest of them, the binding limit. Lambda concurrency is turned into a
rate with Little's law: concurrent executions / seconds of execution per order.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _merge_template_default(parameter: str) -> float:
    template = json.loads((ROOT / "chalice_app" / "merge-template.json").read_text())
    return float(template["Parameters"][parameter]["Default"])


def _maximum_concurrency(function: str) -> int:
    from deploy.batch_failures import MAXIMUM_CONCURRENCY

    return MAXIMUM_CONCURRENCY[function]


# Seconds of Lambda execution per order, per function: an assumption until a deployed stage's
# CloudWatch Duration replaces it. It is the AWS requests make bench counts per order (1, 5, 6
# and 8) at about 15 ms each in-Region, SES's send about 50 ms, plus the Python the bench times
# on moto (4-36 ms). Only the Lambda rows depend on it.
def _emails_per_second_per_environment() -> float:
    from chalicelib.pacing import EMAILS_PER_SECOND_PER_ENVIRONMENT

    return EMAILS_PER_SECOND_PER_ENVIRONMENT


def _default_ses_send_rate() -> float:
    from chalicelib.pacing import DEFAULT_SES_SEND_RATE

    return DEFAULT_SES_SEND_RATE


SECONDS_PER_ORDER = {
    "put_order": 0.05,
    "process_order": 0.10,
    "initiate_billing": 0.10,
    # One email: the pacing's own estimate (chalicelib/pacing.py), 0.2 s.
    "customer_communications": 1 / _emails_per_second_per_environment(),
}


def _in_flight_shards() -> int:
    """The stuck-order watchdog's sparse index is written in this many partitions."""
    from chalicelib.adapters.in_flight import SHARDS

    return SHARDS


def _counter_shards() -> int:
    """The order counts are written in this many items, by a hash of the order id."""
    from chalicelib.adapters.order_store import COUNTER_SHARDS

    return COUNTER_SHARDS


@dataclass(frozen=True)
class Scenario:
    """The adjustable quotas and the project's own settings of one configuration."""

    name: str
    title: str
    ses_emails_per_second: float
    lambda_concurrency: int
    billing_max_concurrency: int
    notifications_max_concurrency: int
    place_order_requests_per_second: float
    orders_table_write_units: float


def scenarios() -> tuple[Scenario, ...]:
    billing = _maximum_concurrency("initiate_billing")
    notifications = _maximum_concurrency("customer_communications")
    place_order = _merge_template_default("PlaceOrderThrottleRateLimit")
    return (
        Scenario(
            "new",
            "new account: SES sandbox, Lambda concurrency 10, a new on-demand table",
            1,
            10,
            billing,
            notifications,
            place_order,
            4_000,
        ),
        Scenario(
            "default",
            "production access, default quotas, this project's settings",
            _default_ses_send_rate(),
            1_000,
            billing,
            notifications,
            place_order,
            4_000,
        ),
        Scenario(
            "raised",
            "raised: SES 1,000/s (an example grant), Lambda 10,000, triggers and the route "
            "throttle opened, the table's 40,000 units warm",
            1_000,
            10_000,
            1_000,
            1_000,
            10_000,
            40_000,
        ),
    )


ALL_ORDERS = "all orders"
API_DOOR = "the API door's orders"  # the storefront publishes to SNS itself: no S3, no API Gateway
ONE_SKU = "one SKU's orders"


@dataclass(frozen=True)
class Hop:
    """One limit on the way of an order, and how much of it one order uses."""

    name: str
    limit: str  # the documented limit, in words
    source: str
    per_order: float
    per_order_unit: str
    rate: Callable[[Scenario], float]  # the limit per second in a scenario (inf: none)
    scope: str = ALL_ORDERS  # which orders it caps: only a cap on all of them can bind

    def orders_per_second(self, scenario: Scenario) -> float:
        return self.rate(scenario) / self.per_order


def _fixed(value: float) -> Callable[[Scenario], float]:
    return lambda _scenario: value


def _lambda_seconds(*functions: str) -> float:
    return sum(SECONDS_PER_ORDER[f] for f in functions)


ALL_FUNCTIONS = tuple(SECONDS_PER_ORDER)

HOPS: tuple[Hop, ...] = (
    Hop(
        "API Gateway, account and Region",
        "10,000 requests/s (burst 5,000), shared by every API of the account",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
        1,
        "PUT /orders/{id}",
        _fixed(10_000),
        scope=API_DOOR,
    ),
    Hop(
        "API Gateway, PUT /orders/{id} route throttle (ours)",
        "PlaceOrderThrottleRateLimit in merge-template.json",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html",
        1,
        "PUT /orders/{id}",
        lambda s: s.place_order_requests_per_second,
        scope=API_DOOR,
    ),
    Hop(
        "S3 PUT, one partitioned prefix (orders/)",
        "3,500 PUT/COPY/POST/DELETE per second per partitioned prefix",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html",
        1,
        "PutObject (the order document)",
        _fixed(3_500),
        scope=API_DOOR,
    ),
    Hop(
        "S3 GET, one partitioned prefix (orders/)",
        "5,500 GET/HEAD per second per partitioned prefix",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html",
        1,
        "GetObject (process_order reads it)",
        _fixed(5_500),
        scope=API_DOOR,
    ),
    Hop(
        "SNS publish, account (us-east-1)",
        "30,000 messages/s per account in us-east-1 (Publish and PublishBatch messages)",
        "https://docs.aws.amazon.com/general/latest/gr/sns.html",
        4,
        "messages: the S3 notification, OrderReserved, OrderBilled, OrderConfirmed",
        _fixed(30_000),
    ),
    Hop(
        "SQS standard queues",
        "nearly unlimited API calls per second per action",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html",
        9,
        "requests: 3 deliveries, 6 receives and deletes at one record a batch",
        _fixed(math.inf),
    ),
    Hop(
        "Lambda concurrency, account and Region",
        "1,000 concurrent executions (new accounts less, raised to tens of thousands)",
        "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
        _lambda_seconds(*ALL_FUNCTIONS),
        "execution seconds (4 functions, SECONDS_PER_ORDER)",
        lambda s: s.lambda_concurrency,
    ),
    Hop(
        "Lambda SQS trigger, process_order",
        "at most 1,000 concurrent batches per event source mapping; starts at 5, +300 a minute",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
        _lambda_seconds("process_order"),
        "execution seconds",
        lambda s: min(1_000, s.lambda_concurrency),
    ),
    Hop(
        "Lambda SQS trigger, initiate_billing (MaximumConcurrency)",
        "MaximumConcurrency 2-1,000 (ours: deploy/batch_failures.py, merge-template.json)",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
        _lambda_seconds("initiate_billing"),
        "execution seconds",
        lambda s: min(s.billing_max_concurrency, s.lambda_concurrency),
    ),
    Hop(
        "Lambda SQS trigger, customer_communications (MaximumConcurrency)",
        "MaximumConcurrency 2-1,000 (ours: deploy/batch_failures.py, merge-template.json)",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
        _lambda_seconds("customer_communications"),
        "execution seconds",
        lambda s: min(s.notifications_max_concurrency, s.lambda_concurrency),
    ),
    Hop(
        f"DynamoDB, the order counts ({_counter_shards()} shards of counters, by order id)",
        "1,000 write units/s per partition; a transactional write costs 2 units per KB",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html",
        2,
        "write units (in the reservation transaction)",
        _fixed(1_000 * _counter_shards()),
    ),
    Hop(
        f"DynamoDB, the orders-in-flight index ({_in_flight_shards()} shards, by order id)",
        "1,000 write units/s per partition of a global secondary index",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html",
        2,
        "index write units (the order enters at its reservation, leaves when final)",
        _fixed(1_000 * _in_flight_shards()),
    ),
    Hop(
        "DynamoDB, one SKU's item (a flash sale of one product)",
        "1,000 write units/s per partition; a transactional write costs 2 units per KB",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html",
        2,
        "write units per order of that SKU",
        _fixed(1_000),
        scope=ONE_SKU,
    ),
    Hop(
        "DynamoDB, orders table on demand",
        "a new on-demand table takes 4,000 write units/s at once; 40,000 per table (quota)",
        "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb",
        7,
        "write units: the put in the transaction (2), 5 status and outbox updates",
        lambda s: s.orders_table_write_units,
    ),
    Hop(
        "Aurora Data API (Serverless v2)",
        "no requests-per-second limit; the writer's ACUs (BillingMaxCapacity) are the bound",
        "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html",
        6,
        "statements: billing 2, the email 4",
        _fixed(math.inf),
    ),
    Hop(
        "SES sending rate",
        "sandbox 1 email/s and 200 a day; production per account (14/s was the default)",
        "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
        1,
        "email",
        lambda s: s.ses_emails_per_second,
    ),
)


def binding(scenario: Scenario) -> Hop:
    """The hop that caps the whole pipeline in a scenario."""
    return min(
        (hop for hop in HOPS if hop.scope == ALL_ORDERS),
        key=lambda hop: hop.orders_per_second(scenario),
    )


def _figure(value: float) -> str:
    if math.isinf(value):
        return "no limit"
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"


def _per_order(hop: Hop) -> str:
    return f"{hop.per_order:g} {hop.per_order_unit}"


def markdown_table() -> str:
    """The capacity table as ARCHITECTURE.md shows it: orders per second per hop and scenario."""
    cases = scenarios()
    header = "| Hop | Documented limit | Per order | Caps | " + " | ".join(
        f"Orders/s, {case.name}" for case in cases
    )
    lines = [header + " |", "|" + " --- |" * (4 + len(cases))]
    for hop in HOPS:
        figures = " | ".join(_figure(hop.orders_per_second(case)) for case in cases)
        lines.append(
            f"| {hop.name} | [{hop.limit}]({hop.source}) | {_per_order(hop)} | {hop.scope} "
            f"| {figures} |"
        )
    lines.append(
        "| **Binding** | | | all orders | "
        + " | ".join(
            f"**{_figure(binding(case).orders_per_second(case))}**: {binding(case).name}"
            for case in cases
        )
        + " |"
    )
    return "\n".join(lines)


def capacity(progress: Callable[[str], None]) -> dict[str, Any]:
    """The model's figures for results.json, and each scenario's binding limit as progress."""
    results: dict[str, Any] = {"seconds_per_order": SECONDS_PER_ORDER, "scenarios": {}}
    for case in scenarios():
        hop = binding(case)
        cap = _figure(hop.orders_per_second(case))
        progress(f"{case.name} ({case.title}): {hop.name} binds at {cap} orders/s")
        results["scenarios"][case.name] = {
            "title": case.title,
            "binding": hop.name,
            "binding_orders_per_second": hop.orders_per_second(case),
            "hops": {
                h.name: {
                    "limit": h.limit,
                    "source": h.source,
                    "per_order": h.per_order,
                    "orders_per_second": None
                    if math.isinf(h.orders_per_second(case))
                    else round(h.orders_per_second(case), 1),
                }
                for h in HOPS
            },
        }
    results["table"] = markdown_table()
    return results
