"""Run the order pipeline on a local moto AWS and walk one order through each door.

Starts moto on 127.0.0.1, creates the resources, serves the Chalice API over HTTP, runs the
fulfillment queue's event source as Lambda would, plays a short scripted tour, prints the
state of every order and SKU, then keeps serving until Ctrl-C (or exits with --once).
"""

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

CHALICE_DIR = Path(__file__).resolve().parent.parent / "chalice_app"
FINAL = {"CONFIRMED", "REJECTED"}
# Queue consumers run as Lambda's event source mappings would: queue name -> handler name.
CONSUMERS = {
    "order-fulfillment": "process_order",
    "order-billing": "initiate_billing",
    "order-notifications": "customer_communications",
}
CATALOG = [
    # sku, name, price, currency, stock
    ("TEA-EARLGREY", "Earl Grey tea, 100 g", "4.50", "EUR", 10),
    ("MUG-BLUE", "Blue enamel mug", "12.00", "EUR", 3),
    ("TEA-MATCHA", "Matcha, 30 g", "1200", "JPY", 5),
]
CUSTOMER = {
    "customer_id": "cust-0001",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "country": "GB",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--aws-port",
        type=int,
        default=int(os.environ.get("AWS_PORT", 4566)),
        help="port of the local AWS (moto) endpoint (default 4566, env AWS_PORT)",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=int(os.environ.get("API_PORT", 8000)),
        help="port of the order API (default 8000, env API_PORT); 0 picks a free one",
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after the tour instead of serving until Ctrl-C"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also print the handlers' JSON logs and HTTP requests",
    )
    arguments = parser.parse_args(argv)
    if not arguments.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    pipeline = local_pipeline(arguments.aws_port, arguments.api_port, arguments.verbose)
    with pipeline as (api, aws_endpoint):
        tour(api)
        if arguments.once:
            return 0
        print(f"\nLocal AWS (moto): {aws_endpoint}\nOrder API:        {api}")
        print(f"Try: curl -s {api}/orders/demo-api-1 | python3 -m json.tool")
        stopping = threading.Event()
        # Ctrl-C in a terminal, SIGTERM from a supervisor: both stop everything cleanly.
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda *_: stopping.set())
        print("Serving until Ctrl-C.", flush=True)
        stopping.wait()
        print("\nStopping.", flush=True)
    return 0


@contextmanager
def local_pipeline(aws_port: int, api_port: int, verbose: bool) -> Iterator[tuple[str, str]]:
    """Local AWS, resources, demo data, the API server and the event source; stopped on exit."""
    from chalice.cli.factory import CLIFactory
    from chalice.local import ChaliceRequestHandler, create_local_server

    from local_stack.event_source import SqsEventSource
    from local_stack.moto_server import LocalAws
    from local_stack.resources import provision

    step("Starting the local AWS (moto) on 127.0.0.1")
    with LocalAws(port=aws_port) as aws, tempfile.TemporaryDirectory() as scratch:
        os.environ.update(
            AWS_ENDPOINT_URL=aws.endpoint_url,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto accepts any credentials
            AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
        step("Creating topics, queues with DLQs, subscriptions, tables and the orders bucket")
        provisioned = provision(boto3.session.Session(), f"sqlite:///{scratch}/billing.db")
        os.environ.update(provisioned.environment)
        load_catalog()
        load_contacts()

        factory = CLIFactory(project_dir=str(CHALICE_DIR), environ=os.environ)
        app = factory.load_chalice_app()
        import app as chalice_module  # the module whose handlers Lambda would call
        from chalicelib.observability import logger

        if not verbose:
            logger.setLevel(logging.WARNING)
        config = factory.create_config_obj(chalice_stage_name="dev")
        server = create_local_server(app, config, "127.0.0.1", api_port)
        if not verbose:  # the chalice local server prints an access log line per request
            ChaliceRequestHandler.log_message = _quiet
        api = f"http://127.0.0.1:{server.server.server_address[1]}"
        stop = threading.Event()
        sources = [
            SqsEventSource(
                boto3.client("sqs"),
                queue_url=provisioned.queue_urls[queue],
                queue_arn=provisioned.queue_arns[queue],
                handler=getattr(chalice_module, function),
                function_name=function,
            )
            for queue, function in CONSUMERS.items()
        ]
        threads = [
            threading.Thread(target=server.serve_forever, name="order-api", daemon=True),
            *(
                threading.Thread(target=source.run, args=(stop,), name=queue, daemon=True)
                for source, queue in zip(sources, CONSUMERS, strict=True)
            ),
        ]
        for thread in threads:
            thread.start()
        step(f"Order API on {api}; {', '.join(CONSUMERS.values())} poll their queues")
        try:
            yield api, aws.endpoint_url
        finally:
            stop.set()
            server.shutdown()
            server.server.server_close()
            for thread in threads:
                thread.join(timeout=10)


def _quiet(*args: object) -> None:
    """Drop an access log line."""


def load_contacts() -> None:
    from chalicelib.communications import Contact
    from chalicelib.services import get_services

    get_services().contacts.save_contact(
        Contact(CUSTOMER["customer_id"], CUSTOMER["name"], CUSTOMER["email"])
    )


def sent_emails() -> list[Any]:
    """What SES sent: the local AWS runs in this process, so its outbox is readable."""
    from moto.ses.models import ses_backends

    account, region = "123456789012", os.environ["AWS_DEFAULT_REGION"]
    return list(ses_backends[account][region].sent_messages)


def load_catalog() -> None:
    table = boto3.resource("dynamodb").Table("inventory")
    for sku, name, price, currency, stock in CATALOG:
        table.put_item(
            Item={
                "sku": sku,
                "name": name,
                "price": Decimal(price),
                "currency": currency,
                "stock": stock,
            }
        )


def tour(api: str) -> None:
    mugs = order_body([("MUG-BLUE", 2, "12.00"), ("TEA-EARLGREY", 2, "4.50")], "EUR")
    step("API door: PUT /orders/demo-api-1")
    show(request(api, "PUT", "/orders/demo-api-1", mugs))
    step("The same PUT again (idempotent: nothing changes)")
    show(request(api, "PUT", "/orders/demo-api-1", mugs))
    step("A different body for the same id")
    show(request(api, "PUT", "/orders/demo-api-1", order_body([("MUG-BLUE", 1, "12.00")], "EUR")))
    step("An invalid order (quantity 0)")
    show(request(api, "PUT", "/orders/demo-bad", order_body([("MUG-BLUE", 0, "12.00")], "EUR")))
    step("Web door: OrderPlaced demo-web-1 published to order-intake, as the web tier does")
    publish_as_web_tier("demo-web-1", order_body([("TEA-MATCHA", 2, "1200")], "JPY"))
    step("demo-api-1 again, through the web door: the same order is reserved once")
    publish_as_web_tier("demo-api-1", mugs)
    step("PUT /orders/demo-api-2 for 2 mugs when 1 is left: rejected, stock untouched")
    show(request(api, "PUT", "/orders/demo-api-2", order_body([("MUG-BLUE", 2, "12.00")], "EUR")))

    orders = ["demo-api-1", "demo-web-1", "demo-api-2"]
    statuses = wait_for_final(api, orders)
    step("Orders")
    for order_id in orders:
        status = statuses[order_id]
        detail = ", ".join(
            f"{r['sku']} {r['reason']} (wanted {r['requested']}, had {r['available']})"
            for r in status.get("rejection", [])
        )
        history = " -> ".join(entry["status"] for entry in status["history"])
        print(f"  {order_id:<12} {status['status']:<10} {history}  {detail}")
    step("Ledger (billing in USD)")
    from chalicelib.services import get_services

    ledger = get_services().ledger
    for order_id in orders:
        entry = ledger.charge(order_id)
        if entry is not None:
            print(
                f"  {order_id:<12} {entry.amount} {entry.currency} -> {entry.usd_amount} USD "
                f"at {entry.usd_rate} ({entry.rate_date})"
            )
    step("Emails (SES)")
    deadline = time.monotonic() + 30
    while len(sent_emails()) < len(orders) and time.monotonic() < deadline:
        time.sleep(0.2)
    for email in sent_emails():
        print(f"  to {', '.join(email.destinations['ToAddresses'])}: {email.subject}")
    step("Stock")
    table = boto3.resource("dynamodb").Table("inventory")
    for sku, _, _, _, initial in CATALOG:
        level = table.get_item(Key={"sku": sku}, ConsistentRead=True)["Item"]["stock"]
        print(f"  {sku:<13} {initial:>3} -> {level!s}")


def order_body(lines: list[tuple[str, int, str]], currency: str) -> dict[str, Any]:
    total = sum((Decimal(price) * quantity for _, quantity, price in lines), Decimal(0))
    return {
        "customer": CUSTOMER,
        "currency": currency,
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
        "total": str(total),
    }


def publish_as_web_tier(order_id: str, body: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from order_contracts import Order, OrderRequest, order_placed

    order = Order.from_request(order_id, OrderRequest.model_validate(body))
    event = order_placed(
        order, source="web", correlation_id=f"demo-{order_id}", now=datetime.now(UTC)
    )
    boto3.client("sns").publish(
        TopicArn=os.environ["ORDER_INTAKE_TOPIC_ARN"],
        Message=event.to_json(),
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in event.attributes().items()
        },
    )
    print(f"  published OrderPlaced {order_id}")


def request(
    api: str, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    call = urllib.request.Request(  # noqa: S310 - the local API on 127.0.0.1
        api + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_final(api: str, order_ids: list[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, Any] = {}
    while time.monotonic() < deadline:
        statuses = {
            order_id: request(api, "GET", f"/orders/{order_id}")[1] for order_id in order_ids
        }
        if all(status.get("status") in FINAL for status in statuses.values()):
            return statuses
        time.sleep(0.2)
    raise SystemExit(f"orders did not reach a final state in {timeout}s: {statuses}")


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def show(result: tuple[int, Any]) -> None:
    status, body = result
    print(f"  {status} {json.dumps(body)}")


if __name__ == "__main__":
    sys.exit(main())
