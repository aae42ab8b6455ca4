"""The serverless core per order: AWS requests by service and operation, handler time, cost.

Orders enter at the API door (PUT /orders/{id} through Chalice's test gateway), and every
step after that is what AWS would do: moto's S3 notifies order-intake, SNS delivers to the
queues, and each consumer is invoked from its real queue, one record per invocation.
Requests are counted from botocore's own events (one per HTTP attempt, retries included),
so they are what AWS would bill; handler times include moto's own work, in process, and are
an upper bound for the Python side.
"""

import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3

from bench.cost import (
    DynamoItem,
    PriceSheet,
    cost_per_million_orders,
    dynamodb_units,
    item_size,
    lambda_gb_seconds,
    totals,
    units_from_requests,
)
from bench.orders import catalog_item, order_body

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / "chalice_app"
LAMBDA_MEMORY_MB = 512  # chalice_app/.chalice/config.json lambda_memory_size
LINES = [("MUG-BLUE", 1, "12.00"), ("TEA-EARLGREY", 2, "4.50")]

# The requests each function cannot do without (API door, one record per invocation), and why.
FLOOR: dict[str, dict[str, str]] = {
    "put_order": {"s3:PutObject": "the write-once order document"},
    "process_order": {
        "s3:GetObject": "the document the S3 notification points at",
        "dynamodb:TransactWriteItems": "order record, stock per SKU and counter, atomically",
        "sns:Publish": "OrderReserved or OrderRejected",
    },
    "initiate_billing": {
        "rds-data:ExecuteStatement": "the ledger row (the rate can be looked up in the INSERT)",
        "dynamodb:UpdateItem": "status BILLED",
        "sns:Publish": "OrderBilled",
    },
    "customer_communications": {
        "rds-data:ExecuteStatement": (
            "the contact with its suppression (one query), the send-once claim, the mark"
        ),
        "sesv2:SendEmail": "the email",
        "dynamodb:UpdateItem": "status CONFIRMED",
        "sns:Publish": "OrderConfirmed",
    },
}
FLOOR_COUNTS = {"customer_communications": {"rds-data:ExecuteStatement": 3}}


@dataclass
class Usage:
    """What one stage sent to AWS, filled in by botocore's event hooks."""

    requests: Counter[str] = field(default_factory=Counter)
    dynamodb_items: list[DynamoItem] = field(default_factory=list)

    def clear(self) -> None:
        self.requests.clear()
        self.dynamodb_items.clear()


@dataclass(frozen=True)
class StageResult:
    function: str
    invocations: int
    requests_per_order: dict[str, float]
    handler_ms_p50: float
    handler_ms_p95: float
    gb_seconds_per_order: float
    dynamodb_items: list[DynamoItem]

    def summary(self, orders: int) -> dict[str, Any]:
        floor = floor_of(self.function)
        return {
            "function": self.function,
            "invocations_per_order": self.invocations / orders,
            "requests_per_order": self.requests_per_order,
            "aws_requests_per_order": round(sum(self.requests_per_order.values()), 3),
            "floor_requests_per_order": sum(floor.values()),
            "floor": {op: FLOOR[self.function][op] for op in floor},
            "handler_ms_p50": round(self.handler_ms_p50, 2),
            "handler_ms_p95": round(self.handler_ms_p95, 2),
        }


def floor_of(function: str) -> dict[str, int]:
    return {
        operation: FLOOR_COUNTS.get(function, {}).get(operation, 1) for operation in FLOOR[function]
    }


def pipeline(orders: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Place orders at the API door and run them through every consumer; return the figures."""
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import services
    from chalicelib.adapters.sql.contacts import SqlContactBook
    from chalicelib.adapters.sql.database import database_from_url
    from chalicelib.adapters.sql.ledger import SqlLedger
    from chalicelib.communications import Contact
    from chalicelib.observability import logger
    from chalicelib.settings import Settings
    from local_stack.resources import provision

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # noqa: S106
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)  # mock_aws intercepts; a local server must not
    with mock_aws(), tempfile.TemporaryDirectory() as directory:
        progress("provisioning the resources on moto (in process)")
        database_url = f"sqlite:///{directory}/billing.db"
        provisioned = provision(boto3.session.Session(), database_url)
        # S3 announces a new notification configuration with a test event: not an order.
        boto3.client("sqs").purge_queue(QueueUrl=provisioned.queue_urls["order-fulfillment"])
        table = boto3.resource("dynamodb").Table("inventory")
        for sku, _, price in LINES:
            table.put_item(Item=catalog_item(sku, price, 10 * orders))
        import app

        logger.setLevel("WARNING")  # one INFO line per order would drown the figures
        usage, lambda_polls = Usage(), Usage()
        settings = Settings.from_env(provisioned.environment)
        built = services.build_services(settings, _counting(usage))
        # On AWS each SQL statement is one Data API request: count them the same way.
        sql = CountingSqlRunner(database_from_url(database_url), usage.requests)
        built = replace(built, ledger=SqlLedger(sql), contacts=SqlContactBook(sql))
        services.set_services(built)
        built.contacts.save_contact(Contact("cust-0001", "Ada", "ada@example.com"))
        # Lambda's own receive and delete calls are billed as SQS requests, apart from the
        # handlers': their own session.
        poller_session = _counting(lambda_polls)
        body = order_body(LINES)
        stages: list[tuple[str, Callable[[], bool]]] = [
            ("put_order", _place(Client(app.app, project_dir=str(CHALICE_DIR)), body, orders)),
            *(
                (name, _drain(queue, getattr(app, name), provisioned, poller_session))
                for name, queue in (
                    ("process_order", "order-fulfillment"),
                    ("initiate_billing", "order-billing"),
                    ("customer_communications", "order-notifications"),
                )
            ),
        ]
        results: list[StageResult] = []
        polls: Counter[str] = Counter()
        try:
            for name, invoke_once in stages:
                usage.clear()
                lambda_polls.clear()
                progress(f"{name}: {orders} orders, one record per invocation")
                durations = []
                while True:
                    started = time.perf_counter()
                    if not invoke_once():
                        break
                    durations.append(time.perf_counter() - started)
                # The last poll found the queue empty: Lambda's idle polling, not per order.
                if lambda_polls.requests["sqs:ReceiveMessage"]:
                    lambda_polls.requests["sqs:ReceiveMessage"] -= 1
                polls.update(lambda_polls.requests)
                results.append(_stage(name, usage, durations, orders))
                progress(_describe(results[-1], orders))
        finally:
            services.reset_services()
        item_bytes = _largest_items(provisioned.environment)
    return _figures(results, polls, item_bytes, orders)


def _figures(
    results: list[StageResult], polls: Counter[str], item_bytes: dict[str, int], orders: int
) -> dict[str, Any]:
    sheet = PriceSheet.load()
    per_order: Counter[str] = Counter()
    for result in results:
        per_order.update(result.requests_per_order)
    sqs_by_lambda = {op: count / orders for op, count in polls.items()}
    # SNS delivers each message a consumer received into its queue: one SQS request each.
    deliveries = sum(r.invocations for r in results if r.function != "put_order") / orders
    reads, writes = dynamodb_units([i for r in results for i in r.dynamodb_items], item_bytes)
    units = units_from_requests(
        {
            **per_order,
            **{f"sqs:{op.split(':')[1]} (Lambda)": n for op, n in sqs_by_lambda.items()},
            "sqs:SendMessage (SNS delivery)": deliveries,
        }
    )
    units.update(
        # S3's notification to order-intake is an SNS publish billed to us.
        sns_publish=units.get("sns_publish", 0.0) + 1,
        api_gateway_rest_request=1.0,
        lambda_request=sum(r.invocations for r in results) / orders,
        lambda_gb_second=sum(r.gb_seconds_per_order for r in results),
        dynamodb_read_request_unit=reads / orders,
        dynamodb_write_request_unit=writes / orders,
    )
    cost = cost_per_million_orders(units, sheet)
    total, without_ses = totals(cost)
    handlers_requests = sum(per_order.values())
    floor = sum(sum(floor_of(r.function).values()) for r in results)
    return {
        "orders": orders,
        "door": "API (PUT /orders/{id}), one record per invocation",
        "functions": [r.summary(orders) for r in results],
        "handler_requests_per_order": round(handlers_requests, 3),
        "floor_requests_per_order": floor,
        "lambda_sqs_requests_per_order": sqs_by_lambda,
        "sns_deliveries_to_sqs_per_order": deliveries,
        "dynamodb_item_bytes_max": item_bytes,
        "billable_units_per_order": {k: round(v, 4) for k, v in sorted(units.items())},
        "cost_per_million_orders_usd": {k: round(v, 2) for k, v in cost.items()},
        "cost_per_million_orders_total_usd": round(total, 2),
        "cost_per_million_orders_without_ses_usd": round(without_ses, 2),
        "price_date": sheet.price_date,
        "price_region": sheet.region,
    }


def _stage(name: str, usage: Usage, durations: list[float], orders: int) -> StageResult:
    durations.sort()
    return StageResult(
        function=name,
        invocations=len(durations),
        requests_per_order={op: n / orders for op, n in sorted(usage.requests.items())},
        handler_ms_p50=statistics.median(durations) * 1000,
        handler_ms_p95=durations[max(int(len(durations) * 0.95) - 1, 0)] * 1000,
        gb_seconds_per_order=sum(lambda_gb_seconds(d, LAMBDA_MEMORY_MB) for d in durations)
        / orders,
        dynamodb_items=list(usage.dynamodb_items),
    )


def _describe(result: StageResult, orders: int) -> str:
    calls = ", ".join(f"{op} {n:g}" for op, n in result.requests_per_order.items())
    return (
        f"  {sum(result.requests_per_order.values()):.2f} AWS requests per order ({calls}); "
        f"handler p50 {result.handler_ms_p50:.1f} ms, p95 {result.handler_ms_p95:.1f} ms"
    )


def _place(client: Any, body: str, orders: int) -> Callable[[], bool]:
    placed = iter(range(orders))

    def invoke_once() -> bool:
        number = next(placed, None)
        if number is None:
            return False
        response = client.http.put(
            f"/orders/bench-{number}", headers={"Content-Type": "application/json"}, body=body
        )
        if response.status_code != 201:
            raise RuntimeError(
                f"PUT /orders/bench-{number}: {response.status_code} {response.body!r}"
            )
        return True

    return invoke_once


def _drain(
    queue: str, handler: Any, provisioned: Any, session: boto3.session.Session
) -> Callable[[], bool]:
    from local_stack.event_source import SqsEventSource

    source = SqsEventSource(
        session.client("sqs"),
        queue_url=provisioned.queue_urls[queue],
        queue_arn=provisioned.queue_arns[queue],
        handler=handler,
        function_name=queue,
        batch_size=1,
        wait_seconds=0,
    )
    return lambda: source.poll_once() > 0


def _largest_items(environment: Mapping[str, str]) -> dict[str, int]:
    """The largest item of each table at the end (order records grow with their history)."""
    dynamodb = boto3.client("dynamodb")
    sizes = {}
    for variable in ("ORDERS_TABLE", "INVENTORY_TABLE", "COUNTERS_TABLE"):
        table = environment[variable]
        items = dynamodb.scan(TableName=table)["Items"]
        sizes[table] = max((item_size(item) for item in items), default=0)
    return sizes


_ITEM_KINDS = {
    "GetItem": "read",
    "PutItem": "write",
    "UpdateItem": "write",
    "DeleteItem": "write",
}


def _counting(usage: Usage) -> boto3.session.Session:
    """A boto3 session that counts each request sent, and the DynamoDB items each touches."""
    session = boto3.session.Session()

    def tag(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        context["service_op"] = f"{service}:{model.name}"
        if service == "dynamodb":
            context["dynamodb_items"] = _dynamodb_items(model.name, params)

    def before_send(request: Any, **_: Any) -> None:
        usage.requests[request.context.get("service_op", "?")] += 1
        usage.dynamodb_items.extend(request.context.get("dynamodb_items", []))

    session.events.register("before-parameter-build", tag)
    session.events.register("before-send", before_send)
    return session


def _dynamodb_items(operation: str, params: Mapping[str, Any]) -> list[DynamoItem]:
    if operation in _ITEM_KINDS:
        return [DynamoItem(params["TableName"], _ITEM_KINDS[operation])]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        kind = "transact_write" if operation == "TransactWriteItems" else "transact_read"
        return [
            DynamoItem(next(iter(entry.values()))["TableName"], kind)
            for entry in params["TransactItems"]
        ]
    raise ValueError(f"no billing rule for dynamodb:{operation}: add one to bench/pipeline.py")


class CountingSqlRunner:
    """A SqlRunner that counts what the RDS Data API would be sent for the same calls."""

    def __init__(self, runner: Any, requests: Counter[str]) -> None:
        self._runner = runner
        self._requests = requests

    def execute(self, statement: str, parameters: Mapping[str, Any]) -> Any:
        self._requests["rds-data:ExecuteStatement"] += 1
        return self._runner.execute(statement, parameters)

    def transaction(self) -> AbstractContextManager[Callable[..., Any]]:
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[Callable[..., Any]]:
        self._requests["rds-data:BeginTransaction"] += 1
        with self._runner.transaction() as execute:

            def counted(statement: str, parameters: Mapping[str, Any]) -> Any:
                self._requests["rds-data:ExecuteStatement"] += 1
                return execute(statement, parameters)

            yield counted
        self._requests["rds-data:CommitTransaction"] += 1
