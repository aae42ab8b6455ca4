"""Benchmark the serverless core: AWS calls and handler time per order, cold-start import.

Usage: python -m bench.pipeline [--orders N]

Runs on moto in process, so handler times include moto's own work and are an upper bound
for the Python side; the request counts are exact and are what AWS would bill.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from chalice.local import LambdaContext
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent


def pipeline(orders: int) -> None:
    """Run orders through all three consumers, one record per invocation, as Lambda would."""
    from chalicelib import services
    from chalicelib.communications import Contact
    from chalicelib.observability import logger
    from chalicelib.settings import Settings
    from local_stack.resources import provision
    from tests.factories import order, placed, sqs_event, sqs_record

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # noqa: S106
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), tempfile.TemporaryDirectory() as directory:
        provisioned = provision(boto3.session.Session(), f"sqlite:///{directory}/billing.db")
        os.environ.update(provisioned.environment)
        table = boto3.resource("dynamodb").Table("inventory")
        for sku in ("MUG-BLUE", "TEA-EARLGREY"):
            table.put_item(Item={"sku": sku, "stock": 10 * orders})
        import app

        logger.setLevel("WARNING")  # one INFO line per order would drown the figures
        counts: Counter[str] = Counter()
        # The handlers' clients, on a session that counts every request they send.
        settings = Settings.from_env()
        services.set_services(services.build_services(settings, _counting(counts)))
        services.get_services().contacts.save_contact(
            Contact("cust-0001", "Ada", "ada@example.com")
        )
        lines = [("MUG-BLUE", 1, "12.00"), ("TEA-EARLGREY", 2, "4.50")]
        intake = [
            sqs_event(sqs_record(placed(order(f"b-{n}", lines)).to_json())) for n in range(orders)
        ]
        stages: list[tuple[str, Callable[[], bool]]] = [
            ("process_order", _feed(intake, app.process_order)),
            ("initiate_billing", _drain("order-billing", app.initiate_billing, provisioned)),
            (
                "customer_communications",
                _drain("order-notifications", app.customer_communications, provisioned),
            ),
        ]
        try:
            for name, invoke_once in stages:
                counts.clear()
                durations = []
                print(f"==> {name}: {orders} orders, one per invocation", flush=True)
                while True:
                    started = time.perf_counter()
                    if not invoke_once():
                        break
                    durations.append(time.perf_counter() - started)
                _report(name, counts, durations, orders)
        finally:
            services.reset_services()


def _feed(events: list[dict[str, Any]], handler: Any) -> Callable[[], bool]:
    pending = list(events)

    def invoke_once() -> bool:
        if not pending:
            return False
        handler(pending.pop(0), LambdaContext("bench", 512))
        return True

    return invoke_once


def _drain(queue: str, handler: Any, provisioned: Any) -> Callable[[], bool]:
    from local_stack.event_source import SqsEventSource

    # The event source's own receive and delete calls are Lambda's, not the handler's: they
    # use an uncounted client.
    source = SqsEventSource(
        boto3.client("sqs"),
        queue_url=provisioned.queue_urls[queue],
        queue_arn=provisioned.queue_arns[queue],
        handler=handler,
        function_name=queue,
        batch_size=1,
        wait_seconds=0,
    )
    return lambda: source.poll_once() > 0


def _report(name: str, counts: Counter[str], durations: list[float], orders: int) -> None:
    per_order = {operation: count / orders for operation, count in sorted(counts.items())}
    for operation, count in per_order.items():
        print(f"  {operation:<40} {count:.2f} per order")
    print(f"  {'AWS requests':<40} {sum(per_order.values()):.2f} per order")
    durations.sort()
    print(
        f"  handler time on moto: p50 {statistics.median(durations) * 1000:.1f} ms, "
        f"p95 {durations[int(len(durations) * 0.95) - 1] * 1000:.1f} ms"
    )


def _counting(counts: Counter[str]) -> boto3.session.Session:
    """A boto3 session that counts requests by service and operation."""
    session = boto3.session.Session()

    def tag(model: Any, context: dict[str, Any], **_: Any) -> None:
        context["service_op"] = f"{model.service_model.service_name}:{model.name}"

    def before_send(request: Any, **_: Any) -> None:
        counts[request.context.get("service_op", "?")] += 1

    session.events.register("before-parameter-build", tag)
    session.events.register("before-send", before_send)
    return session


def cold_start(runs: int = 5) -> None:
    """Import time of the Lambda entry point in a fresh interpreter, minus bare startup."""
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'chalice_app'}"}

    def timed(code: str) -> float:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=environment, check=True)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    print(f"==> cold start: importing app.py, {runs} fresh interpreters", flush=True)
    bare = timed("pass")
    with_app = timed("import app")
    print(f"import time of app.py (Lambda init, median): {(with_app - bare) * 1000:.0f} ms")


def package_size() -> None:
    from local_stack.package import package

    print("==> chalice package (deployment bundle size)", flush=True)
    with tempfile.TemporaryDirectory() as directory:
        template = package(Path(directory) / "out")
        bundle = template.with_name("deployment.zip")
        print(f"deployment package: {bundle.stat().st_size / 1e6:.1f} MB zipped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="orders to process (default 200)")
    arguments = parser.parse_args()
    pipeline(arguments.orders)
    cold_start()
    package_size()


if __name__ == "__main__":
    main()
